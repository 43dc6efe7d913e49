package e2e

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// model is what the stores must hold after each step: the test updates it with what each step
// should change, and check compares every parameter and item with it, exactly.
type model struct {
	params      map[string]paramState          // SSM, under /storage/
	pushes      map[string]shiplog.ImageRecord // by service
	seen        map[string]int64               // "service#image URI" -> when first recorded
	releases    []shiplog.Release              // in creation order
	deployments []shiplog.DeploymentRecord
	envs        map[string]shiplog.EnvironmentState
	tags        map[string]map[string][]string // ECR: repository -> digest -> tags
	// events counts the event log's entries by type: each change must log exactly one.
	events map[string]int
	// hold is the lock the next deploy takes (a rollback's hold).
	hold *shiplog.EnvironmentLock
}

// lock records a person's lock (nil: unlock) of an environment: one more version of its state.
func (m *model) lock(env string, l *shiplog.EnvironmentLock) {
	st := m.envs[env]
	st.Lock = l
	st.Version++
	m.envs[env] = st
	if l != nil {
		m.logged(shiplog.EventEnvironmentLocked)
	} else {
		m.logged(shiplog.EventEnvironmentUnlocked)
	}
}

// report records a status report of an environment's current deployment, as its entry says.
func (m *model) report(t *testing.T, env string, e shiplog.StatusEntry) {
	t.Helper()
	st := m.envs[env]
	m.setStatus(st.DeploymentID, e)
	st.Status = e.Status
	st.Version++
	m.envs[env] = st
	m.logged("deployment." + e.Status)
	if e.Status == shiplog.StatusVerified {
		r := m.release(st.ReleaseID)
		if !slices.Contains(r.VerifiedIn, env) {
			r.VerifiedIn = append(r.VerifiedIn, env)
		}
	}
}

// logged records that the changes of a step must have logged these events.
func (m *model) logged(types ...string) {
	for _, typ := range types {
		m.events[typ]++
	}
}

type paramState struct {
	Value   string
	Version int64
}

func newModel(s *stack) *model {
	m := &model{
		params: map[string]paramState{},
		pushes: map[string]shiplog.ImageRecord{},
		seen:   map[string]int64{},
		envs:   map[string]shiplog.EnvironmentState{},
		tags:   map[string]map[string][]string{},
		events: map[string]int{},
	}
	for _, spec := range imageSpecs {
		img := s.images[spec.key]
		if m.tags[img.repository] == nil {
			m.tags[img.repository] = map[string][]string{}
		}
		m.tags[img.repository][img.digest] = []string{}
		if img.tag != "" {
			m.tags[img.repository][img.digest] = []string{img.tag}
		}
	}
	return m
}

// write records that a parameter must have been written once more.
func (m *model) write(name, value string) {
	p := m.params[name]
	m.params[name] = paramState{Value: value, Version: p.Version + 1}
}

func (m *model) release(id string) *shiplog.Release {
	for i := range m.releases {
		if m.releases[i].ID == id {
			return &m.releases[i]
		}
	}
	return nil
}

// deploy records a deployment of release to env, which must have written the parameters of the
// changed services and moved the tag env.{env} to the release's images.
func (m *model) deploy(t *testing.T, d shiplog.Deployment, releaseID string, changed []string) {
	t.Helper()
	r := m.release(releaseID)
	if r == nil {
		t.Fatalf("model: no release %s", releaseID)
	}
	// The deployment it replaces is superseded, unless it was verified or failed.
	if prev, ok := m.envs[d.Environment.ID]; ok && (prev.Status == shiplog.StatusRequested || prev.Status == shiplog.StatusApplied) {
		m.setStatus(prev.DeploymentID, shiplog.StatusEntry{Status: shiplog.StatusSuperseded, At: d.CreatedAt, By: d.RequestedBy,
			Detail: "replaced by deployment " + d.ID})
		m.logged(shiplog.EventDeploymentSuperseded)
	}
	m.logged(shiplog.EventDeploymentRequested, shiplog.EventDeploymentApplied)
	r.Deployments = append(r.Deployments, d)
	r.LastDateDeployed = d.CreatedAt
	r.DeploymentCount++
	// The store keeps with the deployment the images it runs first, for the DORA lead time (not
	// in the API's answer): pushed after every image their services ran there.
	rec := shiplog.DeploymentRecord{Deployment: d, ProjectID: r.ProjectID, ReleaseID: r.ID}
	ran := m.envs[d.Environment.ID].Pushed
	rec.Leads = &shiplog.Leads{Images: []shiplog.ImageLead{}}
	seen := map[string]bool{}
	for _, svc := range slices.Sorted(maps.Keys(r.Images)) {
		uri := r.Images[svc]
		if seen[uri] {
			continue
		}
		seen[uri] = true
		at, pushed, first := int64(0), false, true
		for other, u := range r.Images {
			t, ok := r.PushedAt[other]
			if u != uri || !ok {
				continue
			}
			if !pushed || t < at {
				at, pushed = t, true
			}
			if high, before := ran[other]; before && t <= high {
				first = false
			}
		}
		if pushed && first {
			rec.Leads.Images = append(rec.Leads.Images, shiplog.ImageLead{URI: uri, PushedAt: at})
		}
	}
	m.deployments = append(m.deployments, rec)
	// The state's version counts its writes: the record, and the settle if parameters changed.
	version := m.envs[d.Environment.ID].Version + 1
	if len(changed) > 0 {
		version++
	}
	prev := m.envs[d.Environment.ID]
	lock := prev.Lock // an override passes a lock and leaves it in place
	if hold := m.hold; hold != nil {
		lock, m.hold = hold, nil
	}
	// What ran there, by push time (the deploy's record of it, for the DORA lead time).
	pushed := map[string]int64{}
	maps.Copy(pushed, prev.Pushed)
	for svc, at := range r.PushedAt {
		if _, runs := r.Images[svc]; runs && at > pushed[svc] {
			pushed[svc] = at
		}
	}
	m.envs[d.Environment.ID] = shiplog.EnvironmentState{
		Pushed:        pushed,
		PushedTracked: true,
		Lock:          lock,
		Status:        d.Status,
		Version:       version,
		ProjectID:     r.ProjectID,
		Environment:   d.Environment,
		ReleaseID:     r.ID,
		DeploymentID:  d.ID,
		DeployedAt:    d.CreatedAt,
		RequestedBy:   d.RequestedBy,
		Description:   d.Description,
		Images:        r.Images,
		Sources:       r.Sources,
		PushedAt:      r.PushedAt,
	}
	for _, svc := range changed {
		m.write(shiplog.ParameterName(r.ProjectID, d.Environment.ID, svc), r.Images[svc])
	}
	tag := "env." + d.Environment.ID
	for _, uri := range r.Images {
		repo, digest := splitURI(t, uri)
		for dg, tags := range m.tags[repo] {
			m.tags[repo][dg] = slices.DeleteFunc(tags, func(s string) bool { return s == tag })
		}
		if !slices.Contains(m.tags[repo][digest], tag) {
			m.tags[repo][digest] = append(m.tags[repo][digest], tag)
		}
	}
}

// setStatus records a status change of a deployment, wherever the model lists it.
func (m *model) setStatus(id string, e shiplog.StatusEntry) {
	set := func(d *shiplog.Deployment) {
		if d.ID == id {
			d.Status = e.Status
			d.StatusHistory = append(slices.Clone(d.StatusHistory), e)
		}
	}
	for i := range m.deployments {
		set(&m.deployments[i].Deployment)
	}
	for i := range m.releases {
		for j := range m.releases[i].Deployments {
			set(&m.releases[i].Deployments[j])
		}
	}
}

// recorded notes a push recorded as its service's newest: its push record and its seen# item.
func (m *model) recorded(p shiplog.ImageRecord) {
	m.pushes[p.ServiceID] = p
	m.seen[p.ServiceID+"#"+p.URI] = p.PushedAt
}

// stateItems is the project's partition of the state table, in sort-key order.
func (m *model) stateItems(projectID string) []item {
	pk := "project#" + projectID
	var items []item
	for _, p := range m.pushes {
		it := item{
			"pk": S(pk), "sk": S("push#" + p.ServiceID),
			"project_id": S(p.ProjectID), "service_id": S(p.ServiceID), "uri": S(p.URI), "pushed_at": N(p.PushedAt),
		}
		if p.Source != nil {
			it["source"] = sourceItem(*p.Source)
		}
		items = append(items, it)
	}
	for key, at := range m.seen {
		items = append(items, item{"pk": S(pk), "sk": S("seen#" + key), "pushed_at": N(at)})
	}
	for _, d := range m.deployments {
		for _, sk := range []string{"deploy#" + d.ID, "envdeploy#" + d.Environment.ID + "#" + d.ID, "reldeploy#" + d.ReleaseID + "#" + d.ID} {
			it := deploymentFields(d.Deployment)
			it["pk"], it["sk"] = S(pk), S(sk)
			it["project_id"], it["release_id"] = S(d.ProjectID), S(d.ReleaseID)
			items = append(items, it)
		}
	}
	if n := len(m.releases); n > 0 {
		// The pointer to the project's newest release, which "latest" follows.
		items = append(items, item{"pk": S(pk), "sk": S("latest"), "release_id": S(m.releases[n-1].ID)})
	}
	for _, e := range m.envs {
		items = append(items, item{
			"pk": S(pk), "sk": S("env#" + e.Environment.ID),
			"project_id":    S(e.ProjectID),
			"environment":   environmentM(e.Environment),
			"release_id":    S(e.ReleaseID),
			"deployment_id": S(e.DeploymentID),
			"deployed_at":   N(e.DeployedAt),
			"requested_by":  personM(e.RequestedBy),
			"description":   S(e.Description),
			"images":        stringMap(e.Images),
			"status":        S(e.Status),
			"version":       N(e.Version),
		})
		if e.PushedTracked {
			items[len(items)-1]["pushed_tracked"] = BOOL(true)
		}
		// Push times, once: per service, of the image it runs (at) and, where it differs, of the
		// newest it ran here (newest).
		times := map[string]item{}
		for svc, t := range e.PushedAt {
			times[svc] = item{"at": N(t)}
		}
		for svc, t := range e.Pushed {
			if e.PushedAt[svc] != t {
				if times[svc] == nil {
					times[svc] = item{}
				}
				times[svc]["newest"] = N(t)
			}
		}
		if len(times) > 0 {
			pt := item{}
			for svc, t := range times {
				pt[svc] = M(t)
			}
			items[len(items)-1]["push_times"] = M(pt)
		}
		if len(e.Sources) > 0 {
			src := item{}
			for svc, s := range e.Sources {
				src[svc] = sourceItem(s)
			}
			items[len(items)-1]["sources"] = M(src)
		}
		if l := e.Lock; l != nil {
			lock := item{"environment": S(l.Environment), "reason": S(l.Reason), "locked_by": personM(l.LockedBy), "locked_at": N(l.LockedAt)}
			if l.ExpiresAt != 0 {
				lock["expires_at"] = N(l.ExpiresAt)
			}
			if l.Rollback != "" {
				lock["rollback"] = S(l.Rollback)
			}
			items[len(items)-1]["lock"] = M(lock)
		}
	}
	sort.Slice(items, func(i, j int) bool { return skOf(items[i]) < skOf(items[j]) })
	return items
}

func skOf(it item) string { return it["sk"].(map[string]any)["S"].(string) }

// releaseItem is a release as the releases table must hold it: the design note's attributes,
// with its deployments counted in it and listed apart (in the state table).
func releaseItem(r shiplog.Release) item {
	it := item{
		"release_id":       S(r.ID),
		"project_id":       S(r.ProjectID),
		"project_name":     S(r.ProjectName),
		"created_at":       N(r.CreatedAt),
		"release_manifest": S(r.Manifest),
		"requested_by":     personM(r.RequestedBy),
		"images":           stringMap(r.Images),
		"deployments":      L(),
		"deployment_count": N(r.DeploymentCount),
		"label":            S(r.Label),
		"description":      S(r.Description),
	}
	if r.LastDateDeployed != 0 {
		it["last_date_deployed"] = N(r.LastDateDeployed)
	}
	if len(r.VerifiedIn) > 0 {
		var ss []any
		for _, env := range slices.Sorted(slices.Values(r.VerifiedIn)) {
			ss = append(ss, env)
		}
		it["verified_in"] = map[string]any{"SS": ss}
	}
	if len(r.PushedAt) > 0 {
		at := item{}
		for svc, t := range r.PushedAt {
			at[svc] = N(t)
		}
		it["pushed_at"] = M(at)
	}
	if len(r.Sources) > 0 {
		src := item{}
		for svc, s := range r.Sources {
			src[svc] = sourceItem(s)
		}
		it["sources"] = M(src)
	}
	return it
}

func deploymentFields(d shiplog.Deployment) item {
	it := item{
		"deployment_id": S(d.ID),
		"environment":   environmentM(d.Environment),
		"created_at":    N(d.CreatedAt),
		"requested_by":  personM(d.RequestedBy),
		"description":   S(d.Description),
	}
	// The release workflow's attributes, where the deployment has them.
	for name, v := range map[string]string{"kind": d.Kind, "promoted_from": d.PromotedFrom, "reverts": d.Reverts} {
		if v != "" {
			it[name] = S(v)
		}
	}
	if o := d.Override; o != nil {
		override := item{"reason": S(o.Reason), "by": personM(o.By)}
		if len(o.Gates) > 0 {
			override["gates"] = stringList(o.Gates...)
		}
		it["override"] = M(override)
	}
	if c := d.Changes; c != nil {
		changes := item{
			"changed": stringList(c.Changed...), "added": stringList(c.Added...),
			"removed": stringList(c.Removed...), "parameters_written": stringList(c.ParametersWritten...),
		}
		if len(c.Ranges) > 0 {
			ranges := item{}
			for svc, r := range c.Ranges {
				ranges[svc] = rangeItem(r)
			}
			changes["ranges"] = M(ranges)
		}
		it["changes"] = M(changes)
	}
	if d.Status != "" {
		it["status"] = S(d.Status)
		history := make([]any, len(d.StatusHistory))
		for i, e := range d.StatusHistory {
			entry := item{"status": S(e.Status), "at": N(e.At), "by": personM(e.By)}
			if e.Detail != "" {
				entry["detail"] = S(e.Detail)
			}
			history[i] = M(entry)
		}
		it["status_history"] = L(history...)
	}
	if d.Leads != nil {
		images := make([]any, len(d.Leads.Images))
		for i, img := range d.Leads.Images {
			images[i] = M(item{"uri": S(img.URI), "pushed_at": N(img.PushedAt)})
		}
		it["leads"] = M(item{"images": L(images...)})
	}
	return it
}

func personM(p shiplog.Person) any {
	m := item{"id": S(p.ID), "name": S(p.Name)}
	if p.Via != "" {
		m["via"] = S(p.Via)
	}
	return M(m)
}

func environmentM(e shiplog.Environment) any { return M(item{"id": S(e.ID), "name": S(e.Name)}) }

// repositories are the storage project's ECR repositories.
var repositories = []string{
	"uk.ac.wellcome/archivist", "uk.ac.wellcome/bag-register", "uk.ac.wellcome/bag_verifier", "uk.ac.wellcome/notifier",
}

// snapshot is everything the project has in SSM, DynamoDB and ECR, as the aws CLI prints it.
type snapshot struct {
	Parameters []parameter
	State      []item
	Releases   []item
	Images     []imagesResult
}

// Whether check reads ECR too: only deploys touch it, and each read is another CLI start.
const (
	skipImages = false
	withImages = true
)

// check reads, with the aws CLI, every SSM parameter of the project, its whole partition of the
// state table, each of its releases and (withImages) its ECR images' tags; compares them with the
// model, exactly; and returns them, for steps that must change nothing at all.
func (s *stack) check(t *testing.T, m *model, readImages bool) snapshot {
	t.Helper()
	var params parametersResult
	var part, index queryResult
	rels := make([]struct{ Item item }, len(m.releases))
	var images []imagesResult
	calls := []call{
		s.parameters("/storage/", &params),
		s.partition("project#storage", &part),
		s.releasesOf("storage", &index),
	}
	for i, r := range m.releases {
		calls = append(calls, s.getItem(tables.Releases, item{"release_id": S(r.ID)}, &rels[i]))
	}
	if readImages {
		images = make([]imagesResult, len(repositories))
		for i, repo := range repositories {
			calls = append(calls, s.describeImages(repo, &images[i]))
		}
	}
	s.do(t, calls...)
	snap := snapshot{Parameters: params.byName(), State: part.Items, Images: images}
	for _, r := range rels {
		snap.Releases = append(snap.Releases, r.Item)
	}

	gotParams := map[string]paramState{}
	for _, p := range params.Parameters {
		gotParams[p.Name] = paramState{Value: p.Value, Version: p.Version}
		if p.Type != "String" {
			t.Errorf("parameter %s: type %s, want String", p.Name, p.Type)
		}
	}
	if diff := cmp.Diff(m.params, gotParams); diff != "" {
		t.Errorf("SSM parameters under /storage/ (-want +got):\n%s", diff)
	}
	var stateItems []item
	logged := map[string]int{}
	typed := map[string]int{} // the copies in the types' lists, which must match the log
	for _, it := range part.Items {
		if strings.HasPrefix(skOf(it), "event#") {
			logged[it["type"].(map[string]any)["S"].(string)]++
			continue
		}
		if strings.HasPrefix(skOf(it), "etype#") {
			typed[it["type"].(map[string]any)["S"].(string)]++
			continue
		}
		stateItems = append(stateItems, it)
	}
	if diff := cmp.Diff(m.events, logged, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("event log of storage, entries by type (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(m.events, typed, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("event lists by type of storage, copies by type (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(m.stateItems("storage"), stateItems, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("state table, partition project#storage (-want +got):\n%s", diff)
	}
	var wantIDs, gotIDs []string
	for i, r := range m.releases {
		wantIDs = append(wantIDs, r.ID)
		if diff := cmp.Diff(releaseItem(r), rels[i].Item); diff != "" {
			t.Errorf("releases table, release %s (-want +got):\n%s", r.ID, diff)
		}
	}
	for _, it := range index.Items {
		gotIDs = append(gotIDs, it["release_id"].(map[string]any)["S"].(string))
	}
	sort.Strings(gotIDs)
	if diff := cmp.Diff(wantIDs, gotIDs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("releases of storage in the %s index (-want +got):\n%s", awsdynamo.ReleasesIndex, diff)
	}
	for i, repo := range repositories {
		if !readImages {
			break
		}
		want := map[string][]string{}
		for dg, tags := range m.tags[repo] {
			want[dg] = slices.Sorted(slices.Values(tags))
		}
		if diff := cmp.Diff(want, images[i].tags(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ECR images of %s, digest -> tags (-want +got):\n%s", repo, diff)
		}
	}
	return snap
}

// sourceItem is an image's source as the ledger stores it: only the fields known.
func sourceItem(src shiplog.ImageSource) any {
	m := item{}
	for name, v := range map[string]string{
		"revision": src.Revision, "revision_from": src.RevisionFrom,
		"repository": src.Repository, "repository_from": src.RepositoryFrom,
	} {
		if v != "" {
			m[name] = S(v)
		}
	}
	return M(m)
}

// rangeItem is a service's source range as the ledger stores it: only the fields known.
func rangeItem(r shiplog.SourceRange) any {
	m := item{}
	for name, v := range map[string]string{
		"repository": r.Repository, "from_revision": r.FromRevision, "to_revision": r.ToRevision,
		"compare_url": r.CompareURL, "unknown": r.Unknown,
	} {
		if v != "" {
			m[name] = S(v)
		}
	}
	if r.Backwards {
		m["backwards"] = BOOL(true)
	}
	return M(m)
}
