package shiplogtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/backoff"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// RunStoreTests runs the Store contract against stores made by newStore, each of which must be
// empty.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) shiplog.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s shiplog.Store)
	}{
		{"GetProjectMissingIsNotFound", testGetProjectMissing},
		{"PutProjectRoundTrip", testPutProjectRoundTrip},
		{"ListProjectsSorted", testListProjectsSorted},
		{"PutProjectReplaces", testPutProjectReplaces},
		{"RepositoryServicesAcrossProjects", testRepositoryServicesAcrossProjects},
		{"RepositoryLimitHoldsInTheWrite", testRepositoryLimit},
		{"DeployToADroppedEnvironmentIsNotFound", testDeployToDroppedEnvironment},
		{"DropOfADeployedEnvironmentIsConflict", testDropDeployedEnvironment},
		{"RecordPushOrdering", testRecordPushOrdering},
		{"LatestImages", testLatestImages},
		{"ReleaseContext", testReleaseContext},
		{"CreateReleaseRoundTrip", testCreateReleaseRoundTrip},
		{"CreateReleaseDuplicateIsConflict", testCreateReleaseDuplicate},
		{"CreateReleaseKeys", testCreateReleaseKeys},
		{"GetReleaseMissingIsNotFound", testGetReleaseMissing},
		{"LatestRelease", testLatestRelease},
		{"ListReleasesNewestFirst", testListReleasesNewestFirst},
		{"ListReleasesPages", testListReleasesPages},
		{"ListReleasesBadCursorIsInvalid", testListReleasesBadCursor},
		{"DeployContext", testDeployContext},
		{"DeployContextLatest", testDeployContextLatest},
		{"RecordDeployment", testRecordDeployment},
		{"RecordDeploymentStaleVersionIsConflict", testRecordDeploymentStale},
		{"RecordDeploymentReusedIDIsConflict", testRecordDeploymentReusedID},
		{"RecordDeploymentMissingReleaseIsNotFound", testRecordDeploymentMissingRelease},
		{"WriteEnvironmentAlone", testWriteEnvironmentAlone},
		{"WriteEnvironmentStaleVersionIsConflict", testWriteEnvironmentStale},
		{"ListDeployments", testListDeployments},
		{"ListDeploymentsBadCursorIsInvalid", testListDeploymentsBadCursor},
		{"EnvironmentStatesSorted", testEnvironmentStates},
		{"ProjectRequiresRoundTrip", testProjectRequiresRoundTrip},
		{"DeploymentWorkflowAttributesRoundTrip", testDeploymentWorkflowAttributesRoundTrip},
		{"LockOnlyState", testLockOnlyState},
		{"FreezesRoundTrip", testFreezesRoundTrip},
		{"FreezeIsOneWrite", testFreezeIsOneWrite},
		{"FreezeListingIsExact", testFreezeListingIsExact},
		{"FreezesPerEnvironmentAreBounded", testFreezeBound},
		{"GetDeployment", testGetDeployment},
		{"StatusUpdates", testStatusUpdates},
		{"SupersedeWithTheNextDeployment", testSupersede},
		{"ListReleaseDeployments", testListReleaseDeployments},
		{"ConcurrentRecordDeployment", testConcurrentRecordDeployment},
		{"ConcurrentRecordPush", testConcurrentRecordPush},
		{"EventsRideWithTheirWrites", testEventsRideWithWrites},
		{"EventsOfRefusedWritesAreNotWritten", testEventsOfRefusedWrites},
		{"ListEvents", testListEvents},
		{"ListEventsBadCursorIsInvalid", testListEventsBadCursor},
		{"Approvals", testApprovals},
		{"ApprovalsAreBounded", testApprovalsAreBounded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// Fixtures.

// releaseID and deploymentID make ids that, like ULIDs, are 26 characters and sort by n.
func releaseID(n int) string    { return fmt.Sprintf("01HREL%020d", n) }
func deploymentID(n int) string { return fmt.Sprintf("01HDEP%020d", n) }

var (
	alice = shiplog.Person{ID: "arn:aws:iam::760097843905:user/alice", Name: "Alice Example"}
	bob   = shiplog.Person{ID: "bob", Name: "bob"}
)

// newProject returns a registered-looking project with the given environments; its repository
// shared/base feeds two services listed out of order.
func newProject(id string, envs ...string) shiplog.Project {
	if len(envs) == 0 {
		envs = []string{"stage", "prod"}
	}
	p := shiplog.Project{
		ID:   id,
		Name: "Project " + id,
		ImageRepositories: []shiplog.ImageRepository{
			{ID: "shared/base", Services: []string{"worker", "api"}},
			{ID: "team/" + id + "-web", Services: []string{"web"}},
		},
	}
	for _, e := range envs {
		p.Environments = append(p.Environments, shiplog.Environment{ID: e, Name: "Env " + e})
	}
	manifest, err := json.Marshal(map[string]any{
		"name":               p.Name,
		"environments":       p.Environments,
		"image_repositories": p.ImageRepositories,
	})
	if err != nil {
		panic(err)
	}
	p.Manifest = manifest
	return p
}

// newRelease returns release n of project p, created at second 1_800_000_000 + 60n.
func newRelease(p shiplog.Project, n int) shiplog.Release {
	images := map[string]string{}
	var sources map[string]shiplog.ImageSource
	var pushedAt map[string]int64
	for _, r := range p.ImageRepositories {
		for _, svc := range r.Services {
			images[svc] = imageURI(r.ID, n)
			if sources == nil && n%2 == 1 {
				// The source of one service's image, and its push time, are stored with it.
				sources = map[string]shiplog.ImageSource{svc: {Revision: fmt.Sprintf("%040x", n), RevisionFrom: shiplog.SourceFromRelease,
					Repository: "https://gitlab.com/group/" + svc, RepositoryFrom: shiplog.SourceFromAnnotation}}
				pushedAt = map[string]int64{svc: 1_800_000_000 + 60*int64(n) - 30}
			}
		}
	}
	return shiplog.Release{
		Sources:     sources,
		PushedAt:    pushedAt,
		ID:          releaseID(n),
		ProjectID:   p.ID,
		ProjectName: p.Name,
		CreatedAt:   1_800_000_000 + 60*int64(n),
		Manifest:    string(p.Manifest),
		RequestedBy: alice,
		Images:      images,
		Label:       shiplog.LatestLabel,
		Description: fmt.Sprintf("release %d: fixes \"quotes\" & ünïcode", n),
		Deployments: []shiplog.Deployment{},
	}
}

// newDeployment returns the write that records deployment n of release r to environment env of
// project p, replacing the environment's state at version expect (0: none yet).
func newDeployment(p shiplog.Project, r shiplog.Release, env string, n int, expect int64) shiplog.EnvironmentWrite {
	e, ok := p.Environment(env)
	if !ok {
		panic("no environment " + env)
	}
	d := shiplog.Deployment{
		ID:          deploymentID(n),
		Environment: e,
		CreatedAt:   r.CreatedAt + 10*int64(n),
		RequestedBy: bob,
		Description: fmt.Sprintf("deployment %d", n),
	}
	ev := newEvent(p.ID, shiplog.EventDeploymentRequested, d.CreatedAt)
	ev.Environment, ev.ReleaseID, ev.DeploymentID, ev.By = env, r.ID, d.ID, bob
	return shiplog.EnvironmentWrite{
		Expect:     expect,
		Events:     []shiplog.Event{ev},
		Deployment: &shiplog.DeploymentRecord{Deployment: d, ProjectID: p.ID, ReleaseID: r.ID},
		State: shiplog.EnvironmentState{
			ProjectID:    p.ID,
			Environment:  e,
			ReleaseID:    r.ID,
			DeploymentID: d.ID,
			DeployedAt:   d.CreatedAt,
			RequestedBy:  d.RequestedBy,
			Description:  d.Description,
			Images:       r.Images,
			Sources:      r.Sources,
			PushedAt:     r.PushedAt,
			Version:      expect + 1,
		},
	}
}

func record(c shiplog.EnvironmentWrite) shiplog.DeploymentRecord {
	return *c.Deployment
}

// deployed returns r as it reads after the deployments cs.
func deployed(r shiplog.Release, cs ...shiplog.EnvironmentWrite) shiplog.Release {
	r.Deployments = append([]shiplog.Deployment{}, r.Deployments...)
	for _, c := range cs {
		r.Deployments = append(r.Deployments, c.Deployment.Deployment)
		r.LastDateDeployed = c.Deployment.CreatedAt
		r.DeploymentCount++
	}
	return r
}

// stored returns r as its item reads after the deployments cs: counted, not listed.
func stored(r shiplog.Release, cs ...shiplog.EnvironmentWrite) shiplog.Release {
	r = deployed(r, cs...)
	r.Deployments = []shiplog.Deployment{}
	return r
}

func putProjects(t *testing.T, s shiplog.Store, ps ...shiplog.Project) {
	t.Helper()
	for _, p := range ps {
		mustOK(t, "PutProject "+p.ID, s.PutProject(t.Context(), p, projectEvent(p)))
	}
}

func createReleases(t *testing.T, s shiplog.Store, rs ...shiplog.Release) {
	t.Helper()
	for _, r := range rs {
		mustOK(t, "CreateRelease "+r.ID, s.CreateRelease(t.Context(), shiplog.ReleaseWrite{Release: r, Event: releaseEvent(r)}))
	}
}

func recordDeployments(t *testing.T, s shiplog.Store, cs ...shiplog.EnvironmentWrite) {
	t.Helper()
	for _, c := range cs {
		mustOK(t, "WriteEnvironment with deployment "+c.Deployment.ID, s.WriteEnvironment(t.Context(), c))
	}
}

// allReleases walks every page of a project's releases.
func allReleases(t *testing.T, s shiplog.Store, projectID string, limit int) ([]shiplog.Release, int) {
	t.Helper()
	var out []shiplog.Release
	seen := map[string]bool{}
	req := shiplog.PageRequest{Limit: limit}
	for pages := 1; ; pages++ {
		page, err := s.ListReleases(t.Context(), projectID, req)
		mustOK(t, fmt.Sprintf("ListReleases %s page %d", projectID, pages), err)
		if len(page.Items) > limit {
			t.Fatalf("ListReleases %s page %d: got %d items, want at most %d", projectID, pages, len(page.Items), limit)
		}
		if page.NextCursor != "" && len(page.Items) == 0 {
			t.Fatalf("ListReleases %s page %d: got an empty page with a next cursor", projectID, pages)
		}
		for _, r := range page.Items {
			if seen[r.ID] {
				t.Fatalf("ListReleases %s page %d: release %s listed twice", projectID, pages, r.ID)
			}
			seen[r.ID] = true
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out, pages
		}
		if pages > 1000 {
			t.Fatalf("ListReleases %s: cursor never ends", projectID)
		}
		req.Cursor = page.NextCursor
	}
}

// allDeployments walks every page of a project's deployments (of one environment if given).
func allDeployments(t *testing.T, s shiplog.Store, projectID, env string, limit int) ([]shiplog.DeploymentRecord, int) {
	t.Helper()
	var out []shiplog.DeploymentRecord
	seen := map[string]bool{}
	req := shiplog.PageRequest{Limit: limit}
	for pages := 1; ; pages++ {
		page, err := s.ListDeployments(t.Context(), projectID, shiplog.DeploymentFilter{Environment: env}, req)
		mustOK(t, fmt.Sprintf("ListDeployments %s %q page %d", projectID, env, pages), err)
		if len(page.Items) > limit {
			t.Fatalf("ListDeployments %s %q page %d: got %d items, want at most %d", projectID, env, pages, len(page.Items), limit)
		}
		if page.NextCursor != "" && len(page.Items) == 0 {
			t.Fatalf("ListDeployments %s %q page %d: got an empty page with a next cursor", projectID, env, pages)
		}
		for _, d := range page.Items {
			if seen[d.ID] {
				t.Fatalf("ListDeployments %s %q page %d: deployment %s listed twice", projectID, env, pages, d.ID)
			}
			seen[d.ID] = true
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out, pages
		}
		if pages > 1000 {
			t.Fatalf("ListDeployments %s %q: cursor never ends", projectID, env)
		}
		req.Cursor = page.NextCursor
	}
}

// snapshot is everything a store holds about a project's releases and deployments, and its
// event log.
type snapshot struct {
	Releases    []shiplog.Release
	States      []shiplog.EnvironmentState
	Deployments []shiplog.DeploymentRecord
	Events      []shiplog.Event
}

func takeSnapshot(t *testing.T, s shiplog.Store, projectID string) snapshot {
	t.Helper()
	var snap snapshot
	snap.Releases, _ = allReleases(t, s, projectID, shiplog.MaxPageLimit)
	snap.Deployments, _ = allDeployments(t, s, projectID, "", shiplog.MaxPageLimit)
	states, err := s.EnvironmentStates(t.Context(), projectID)
	mustOK(t, "EnvironmentStates "+projectID, err)
	snap.States = states
	snap.Events = allEvents(t, s, projectID, shiplog.EventFilter{}, shiplog.MaxPageLimit)
	return snap
}

// sameSnapshot compares snapshots, treating nil and empty lists alike.
func sameSnapshot(t *testing.T, what string, got, want snapshot) {
	t.Helper()
	if len(got.Releases)+len(want.Releases) > 0 {
		diff(t, what+": releases", got.Releases, want.Releases)
	}
	if len(got.States)+len(want.States) > 0 {
		diff(t, what+": environment states", got.States, want.States)
	}
	if len(got.Deployments)+len(want.Deployments) > 0 {
		diff(t, what+": deployments", got.Deployments, want.Deployments)
	}
	if len(got.Events)+len(want.Events) > 0 {
		diff(t, what+": events", got.Events, want.Events)
	}
}

// getRelease reads a release with its deployments, oldest first, as the Service reads it: the
// release item, which holds none of them (so that reading it costs the same however often it was
// deployed), and the release's listing of its deployments, page by page.
func getRelease(t *testing.T, s shiplog.Store, projectID, id string) shiplog.Release {
	t.Helper()
	r, err := s.GetRelease(t.Context(), projectID, id)
	mustOK(t, "GetRelease "+id, err)
	if len(r.Deployments) != 0 {
		t.Errorf("GetRelease %s: the release item holds %d deployments; a store lists them apart from it", id, len(r.Deployments))
	}
	var newest []shiplog.Deployment
	page := shiplog.PageRequest{Limit: 7}
	for {
		got, err := s.ListDeployments(t.Context(), projectID, shiplog.DeploymentFilter{Release: id}, page)
		mustOK(t, "ListDeployments of release "+id, err)
		for _, d := range got.Items {
			if d.ReleaseID != id || d.ProjectID != projectID {
				t.Errorf("ListDeployments of release %s/%s: got deployment %s of %s/%s", projectID, id, d.ID, d.ProjectID, d.ReleaseID)
			}
			newest = append(newest, d.Deployment)
		}
		if got.NextCursor == "" {
			break
		}
		page.Cursor = got.NextCursor
	}
	r.Deployments = []shiplog.Deployment{}
	for i := len(newest) - 1; i >= 0; i-- {
		r.Deployments = append(r.Deployments, newest[i])
	}
	if r.DeploymentCount != int64(len(r.Deployments)) {
		t.Errorf("release %s: deployment_count %d, but it lists %d deployments", id, r.DeploymentCount, len(r.Deployments))
	}
	return r
}

func states(t *testing.T, s shiplog.Store, projectID string) []shiplog.EnvironmentState {
	t.Helper()
	st, err := s.EnvironmentStates(t.Context(), projectID)
	mustOK(t, "EnvironmentStates "+projectID, err)
	return st
}

// Projects.

func testGetProjectMissing(t *testing.T, s shiplog.Store) {
	_, err := s.GetProject(t.Context(), "storage")
	wantErr(t, "GetProject on an empty store", err, shiplog.ErrProjectNotFound)
	putProjects(t, s, newProject("storage-2"))
	_, err = s.GetProject(t.Context(), "storage")
	wantErr(t, "GetProject of an unregistered project", err, shiplog.ErrProjectNotFound)
}

func testPutProjectRoundTrip(t *testing.T, s shiplog.Store) {
	tagged := newProject("storage", "stage", "2026-11-25")
	tagged.TagDeployedImages = true
	plain := newProject("catalogue_pipeline")
	putProjects(t, s, tagged, plain)
	for _, want := range []shiplog.Project{tagged, plain} {
		got, err := s.GetProject(t.Context(), want.ID)
		mustOK(t, "GetProject "+want.ID, err)
		diff(t, "GetProject "+want.ID, got, want)
		if string(got.Manifest) != string(want.Manifest) {
			t.Errorf("GetProject %s: got manifest %s, want %s", want.ID, got.Manifest, want.Manifest)
		}
	}
}

func testListProjectsSorted(t *testing.T, s shiplog.Store) {
	got, err := s.ListProjects(t.Context())
	mustOK(t, "ListProjects on an empty store", err)
	if len(got) != 0 {
		t.Errorf("ListProjects on an empty store: got %d projects, want none", len(got))
	}
	zeta, alpha, mid, alphaX := newProject("zeta"), newProject("alpha"), newProject("Mid"), newProject("alpha-x")
	putProjects(t, s, zeta, alpha, mid, alphaX)
	got, err = s.ListProjects(t.Context())
	mustOK(t, "ListProjects", err)
	diff(t, "ListProjects", got, []shiplog.Project{mid, alpha, alphaX, zeta})
}

func testPutProjectReplaces(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	old := newProject("p")
	putProjects(t, s, old)

	// The new registration renames the project, drops repository team/p-web, feeds web from a
	// new repository, and no longer runs worker from shared/base.
	updated := old
	updated.Name = "Renamed"
	updated.Environments = []shiplog.Environment{{ID: "prod", Name: "Production"}}
	updated.ImageRepositories = []shiplog.ImageRepository{
		{ID: "shared/base", Services: []string{"api"}},
		{ID: "team/web-v2", Services: []string{"web"}},
	}
	updated.Manifest = json.RawMessage(`{"name":"Renamed"}`)
	putProjects(t, s, updated)

	got, err := s.GetProject(ctx, "p")
	mustOK(t, "GetProject", err)
	diff(t, "GetProject after re-registering", got, updated)
	all, err := s.ListProjects(ctx)
	mustOK(t, "ListProjects", err)
	diff(t, "ListProjects after re-registering", all, []shiplog.Project{updated})

	tests := []struct {
		repository string
		want       []shiplog.ServiceRef
	}{
		{"team/p-web", nil},
		{"team/web-v2", []shiplog.ServiceRef{{ProjectID: "p", ServiceID: "web"}}},
		{"shared/base", []shiplog.ServiceRef{{ProjectID: "p", ServiceID: "api"}}},
	}
	for _, tt := range tests {
		refs, err := s.RepositoryServices(ctx, tt.repository)
		mustOK(t, "RepositoryServices "+tt.repository, err)
		if len(refs) == 0 && len(tt.want) == 0 {
			continue
		}
		diff(t, "RepositoryServices "+tt.repository+" after re-registering", refs, tt.want)
	}
}

func testRepositoryServicesAcrossProjects(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	refs, err := s.RepositoryServices(ctx, "shared/base")
	mustOK(t, "RepositoryServices on an empty store", err)
	if len(refs) != 0 {
		t.Errorf("RepositoryServices on an empty store: got %v, want none", refs)
	}

	b := newProject("b-proj") // shared/base feeds worker, api
	a := newProject("a-proj")
	a.ImageRepositories[0].Services = []string{"zeta", "alpha"}
	putProjects(t, s, b, a)

	tests := []struct {
		repository string
		want       []shiplog.ServiceRef
	}{
		{"shared/base", []shiplog.ServiceRef{
			{ProjectID: "a-proj", ServiceID: "alpha"},
			{ProjectID: "a-proj", ServiceID: "zeta"},
			{ProjectID: "b-proj", ServiceID: "api"},
			{ProjectID: "b-proj", ServiceID: "worker"},
		}},
		{"team/a-proj-web", []shiplog.ServiceRef{{ProjectID: "a-proj", ServiceID: "web"}}},
		{"team/b-proj-web", []shiplog.ServiceRef{{ProjectID: "b-proj", ServiceID: "web"}}},
		{"shared", nil},
		{"shared/base-x", nil},
	}
	for _, tt := range tests {
		refs, err := s.RepositoryServices(ctx, tt.repository)
		mustOK(t, "RepositoryServices "+tt.repository, err)
		if len(refs) == 0 && len(tt.want) == 0 {
			continue
		}
		diff(t, "RepositoryServices "+tt.repository, refs, tt.want)
	}
}

// Pushes.

func testRecordPushOrdering(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	_, err := s.LatestImage(ctx, "p", "api")
	wantErr(t, "LatestImage with no push", err, shiplog.ErrImageNotFound)

	push := func(n int, at int64) shiplog.ImageRecord {
		rec := shiplog.ImageRecord{ProjectID: "p", ServiceID: "api", URI: imageURI("shared/base", n), PushedAt: at}
		if n%2 == 1 {
			// What the push learnt of the image's source is stored with it.
			rec.Source = &shiplog.ImageSource{Revision: fmt.Sprintf("%040x", n), RevisionFrom: shiplog.SourceFromTag,
				Repository: "https://github.com/org/base", RepositoryFrom: shiplog.SourceFromAnnotation}
		}
		return rec
	}
	steps := []struct {
		name        string
		rec         shiplog.ImageRecord
		wantApplied bool
		wantLatest  shiplog.ImageRecord
	}{
		{"first push", push(1, 1000), true, push(1, 1000)},
		{"duplicate", push(1, 1000), true, push(1, 1000)},
		{"older after newer", push(2, 999), false, push(1, 1000)},
		{"another image at the same time", push(3, 1000), false, push(1, 1000)},
		{"newer", push(4, 1001), true, push(4, 1001)},
		{"the first again, now older", push(1, 1000), false, push(4, 1001)},
		{"much newer", push(5, 2_000_000_000), true, push(5, 2_000_000_000)},
		// A tag moved onto an image recorded before (a deploy's env.* tag, a hand re-tag) is
		// pushed at a newer time but is no new build: it never becomes the newest again.
		{"an image recorded before, pushed again later", push(4, 2_000_000_100), false, push(5, 2_000_000_000)},
		{"the newest image, tagged again later", push(5, 2_000_000_200), true, push(5, 2_000_000_000)},
	}
	for _, st := range steps {
		applied, err := s.RecordPush(ctx, st.rec, pushEvent(st.rec))
		mustOK(t, "RecordPush "+st.name, err)
		if applied != st.wantApplied {
			t.Errorf("RecordPush %s: got applied %v, want %v", st.name, applied, st.wantApplied)
		}
		got, err := s.LatestImage(ctx, "p", "api")
		mustOK(t, "LatestImage after "+st.name, err)
		diff(t, "LatestImage after "+st.name, got, st.wantLatest)
	}

	// Records are per project and service.
	others := []shiplog.ImageRecord{
		{ProjectID: "p", ServiceID: "worker", URI: imageURI("shared/base", 9), PushedAt: 10},
		{ProjectID: "q", ServiceID: "api", URI: imageURI("shared/base", 8), PushedAt: 20},
	}
	for _, rec := range others {
		applied, err := s.RecordPush(ctx, rec, pushEvent(rec))
		mustOK(t, "RecordPush "+rec.ProjectID+"/"+rec.ServiceID, err)
		if !applied {
			t.Errorf("RecordPush %s/%s, an older time for another service: got applied false, want true", rec.ProjectID, rec.ServiceID)
		}
	}
	for _, want := range append(others, push(5, 2_000_000_000)) {
		got, err := s.LatestImage(ctx, want.ProjectID, want.ServiceID)
		mustOK(t, "LatestImage "+want.ProjectID+"/"+want.ServiceID, err)
		diff(t, "LatestImage "+want.ProjectID+"/"+want.ServiceID, got, want)
	}
	_, err = s.LatestImage(ctx, "q", "worker")
	wantErr(t, "LatestImage of a service with no push", err, shiplog.ErrImageNotFound)
}

func testLatestImages(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	got, err := s.LatestImages(ctx, "p", nil)
	mustOK(t, "LatestImages of no services", err)
	diff(t, "LatestImages of no services", len(got), 0)
	got, err = s.LatestImages(ctx, "p", []string{"api"})
	mustOK(t, "LatestImages with no push", err)
	diff(t, "LatestImages with no push", len(got), 0)

	// More services than one DynamoDB BatchGetItem takes (100), of which some have no push, some
	// are asked for twice, and one has had a newer push since its first.
	ids, want := recordManyPushes(t, s, "p")
	// Another project's pushes for the same service ids are not p's.
	qrec := shiplog.ImageRecord{ProjectID: "q", ServiceID: "svc-003", URI: imageURI("repo/q", 1), PushedAt: 1}
	_, err = s.RecordPush(ctx, qrec, pushEvent(qrec))
	mustOK(t, "RecordPush q/svc-003", err)

	got, err = s.LatestImages(ctx, "p", append(ids, "svc-001", "svc-003", "svc-999"))
	mustOK(t, "LatestImages", err)
	diff(t, "LatestImages", got, want)
	for svc, rec := range got {
		one, err := s.LatestImage(ctx, "p", svc)
		mustOK(t, "LatestImage "+svc, err)
		diff(t, "LatestImage "+svc+" against LatestImages", one, rec)
	}
	got, err = s.LatestImages(ctx, "q", []string{"svc-003", "svc-004"})
	mustOK(t, "LatestImages of q", err)
	diff(t, "LatestImages of q", got, map[string]shiplog.ImageRecord{"svc-003": {ProjectID: "q", ServiceID: "svc-003", URI: imageURI("repo/q", 1), PushedAt: 1}})
}

// recordManyPushes records pushes for 130 services of project, more than one DynamoDB
// BatchGetItem takes (100): every tenth from the fourth has none, and svc-000 has had a newer
// push since its first. It returns the service ids and the newest push of each that has one.
func recordManyPushes(t *testing.T, s shiplog.Store, project string) ([]string, map[string]shiplog.ImageRecord) {
	t.Helper()
	ctx := t.Context()
	want := map[string]shiplog.ImageRecord{}
	var ids []string
	for i := range 130 {
		svc := fmt.Sprintf("svc-%03d", i)
		ids = append(ids, svc)
		if i%10 == 3 {
			continue // no push
		}
		rec := shiplog.ImageRecord{ProjectID: project, ServiceID: svc, URI: imageURI("repo/"+svc, i), PushedAt: 1_800_000_000 + int64(i)}
		_, err := s.RecordPush(ctx, rec, pushEvent(rec))
		mustOK(t, "RecordPush "+svc, err)
		want[svc] = rec
	}
	newer := shiplog.ImageRecord{ProjectID: project, ServiceID: "svc-000", URI: imageURI("repo/svc-000", 1000), PushedAt: 1_900_000_000}
	_, err := s.RecordPush(ctx, newer, pushEvent(newer))
	mustOK(t, "RecordPush svc-000 again", err)
	want["svc-000"] = newer
	return ids, want
}

// testReleaseContext: the project reads back as registered (so that the same registration is
// seen as unchanged), with the newest push of each service asked for, over more services than one
// DynamoDB BatchGetItem takes besides the project's own key.
func testReleaseContext(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	// Pushes alone do not make a project.
	orphan := shiplog.ImageRecord{ProjectID: "p", ServiceID: "api", URI: imageURI("repo/api", 1), PushedAt: 1_700_000_000}
	_, err := s.RecordPush(ctx, orphan, pushEvent(orphan))
	mustOK(t, "RecordPush before the project is registered", err)
	_, err = s.ReleaseContext(ctx, "p", []string{"api"}, "ci-1")
	wantErr(t, "ReleaseContext of an unregistered project", err, shiplog.ErrProjectNotFound)

	p := newProject("p")
	putProjects(t, s, p, newProject("q"))
	rc, err := s.ReleaseContext(ctx, "p", nil, "")
	mustOK(t, "ReleaseContext of no services", err)
	diff(t, "ReleaseContext of no services: project", rc.Project, p)
	diff(t, "ReleaseContext of no services: pushes", len(rc.Pushes), 0)
	if shiplog.RegistrationChanged(&rc.Project, p) {
		t.Errorf("ReleaseContext right after registering: want the registration unchanged")
	}

	ids, want := recordManyPushes(t, s, "p")
	ids, want["api"] = append(ids, "api"), orphan
	qrec := shiplog.ImageRecord{ProjectID: "q", ServiceID: "svc-005", URI: imageURI("repo/q", 1), PushedAt: 1}
	_, err = s.RecordPush(ctx, qrec, pushEvent(qrec))
	mustOK(t, "RecordPush q/svc-005", err)

	rc, err = s.ReleaseContext(ctx, "p", append(ids, "svc-001", "svc-999"), "")
	mustOK(t, "ReleaseContext", err)
	diff(t, "ReleaseContext: project", rc.Project, p)
	diff(t, "ReleaseContext: pushes", rc.Pushes, want)
	if string(rc.Project.Manifest) != string(p.Manifest) {
		t.Errorf("ReleaseContext: got manifest %s, want %s", rc.Project.Manifest, p.Manifest)
	}

	// A new registration is what it reads next.
	changed := newProject("p", "stage", "prod", "qa")
	putProjects(t, s, changed)
	rc, err = s.ReleaseContext(ctx, "p", []string{"svc-005"}, "")
	mustOK(t, "ReleaseContext after re-registering", err)
	diff(t, "ReleaseContext after re-registering: project", rc.Project, changed)
	diff(t, "ReleaseContext after re-registering: pushes", rc.Pushes, map[string]shiplog.ImageRecord{"svc-005": want["svc-005"]})
	if !shiplog.RegistrationChanged(&rc.Project, p) || shiplog.RegistrationChanged(&rc.Project, changed) {
		t.Errorf("ReleaseContext after re-registering: want it changed against the old registration only")
	}
	if rc.Key != nil {
		t.Errorf("ReleaseContext asked for no key: got key %+v", *rc.Key)
	}

	// An idempotency key is read with the rest: none yet, then the one recorded with a release,
	// the project's own only.
	rc, err = s.ReleaseContext(ctx, "p", []string{"svc-005"}, "ci-1")
	mustOK(t, "ReleaseContext with a key not recorded", err)
	if rc.Key != nil {
		t.Errorf("ReleaseContext with a key not recorded: got %+v, want none", *rc.Key)
	}
	r := newRelease(changed, 1)
	w := keyedRelease(r, "ci-1")
	mustOK(t, "CreateRelease with a key", s.CreateRelease(ctx, w))
	rc, err = s.ReleaseContext(ctx, "p", []string{"svc-005"}, "ci-1")
	mustOK(t, "ReleaseContext with a recorded key", err)
	if rc.Key == nil {
		t.Fatalf("ReleaseContext with a recorded key: got none, want %+v", *w.Key)
	}
	diff(t, "ReleaseContext: key", *rc.Key, *w.Key)
	diff(t, "ReleaseContext with a key: pushes", rc.Pushes, map[string]shiplog.ImageRecord{"svc-005": want["svc-005"]})
	rc, err = s.ReleaseContext(ctx, "q", nil, "ci-1")
	mustOK(t, "ReleaseContext of another project with the key", err)
	if rc.Key != nil {
		t.Errorf("ReleaseContext of q with p's key: got %+v, want none", *rc.Key)
	}
}

// Releases.

func testCreateReleaseRoundTrip(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	full := newRelease(p, 1)
	full.Label = "stage"
	full.PushedAt = map[string]int64{}
	for svc := range full.Images {
		full.PushedAt[svc] = full.CreatedAt - 600
	}
	sparse := newRelease(p, 2)
	sparse.Description = ""
	sparse.Deployments = nil
	sparse.RequestedBy = shiplog.AnonymousPerson
	createReleases(t, s, full, sparse)

	diff(t, "GetRelease of a full release", getRelease(t, s, "p", full.ID), full)

	got := getRelease(t, s, "p", sparse.ID)
	if got.Deployments == nil {
		t.Errorf("GetRelease of a release created with nil deployments: got nil Deployments, want an empty slice")
	}
	want := sparse
	want.Deployments = []shiplog.Deployment{}
	diff(t, "GetRelease of a sparse release", got, want)
}

func testCreateReleaseDuplicate(t *testing.T, s shiplog.Store) {
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)
	first := newRelease(p, 1)
	createReleases(t, s, first)

	again := first
	again.Description = "a second release with the same id"
	wantKind(t, "CreateRelease of an existing id", s.CreateRelease(t.Context(), shiplog.ReleaseWrite{Release: again, Event: releaseEvent(again)}), shiplog.Conflict)
	inQ := newRelease(q, 1)
	wantKind(t, "CreateRelease of an existing id in another project", s.CreateRelease(t.Context(), shiplog.ReleaseWrite{Release: inQ, Event: releaseEvent(inQ)}), shiplog.Conflict)

	diff(t, "GetRelease after the conflicts", getRelease(t, s, "p", first.ID), first)
	_, err := s.GetRelease(t.Context(), "q", first.ID)
	wantErr(t, "GetRelease in the project of the refused duplicate", err, shiplog.ErrReleaseNotFound)
}

func testGetReleaseMissing(t *testing.T, s shiplog.Store) {
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)
	createReleases(t, s, newRelease(p, 1))
	tests := []struct{ name, project, release string }{
		{"missing id", "p", releaseID(2)},
		{"release of another project", "q", releaseID(1)},
		{"unregistered project", "nobody", releaseID(1)},
	}
	for _, tt := range tests {
		_, err := s.GetRelease(t.Context(), tt.project, tt.release)
		wantErr(t, "GetRelease, "+tt.name, err, shiplog.ErrReleaseNotFound)
	}
}

func testLatestRelease(t *testing.T, s shiplog.Store) {
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)
	_, err := s.LatestRelease(t.Context(), "p")
	wantErr(t, "LatestRelease of a project with no releases", err, shiplog.ErrReleaseNotFound)

	// Each release is the latest as soon as it is created, with no delay for indexes to catch up;
	// one created after a newer one (its id is older) does not displace it.
	tests := []struct {
		create shiplog.Release
		want   shiplog.Release
	}{
		{newRelease(p, 2), newRelease(p, 2)},
		{newRelease(q, 9), newRelease(p, 2)},
		{newRelease(p, 5), newRelease(p, 5)},
		{newRelease(p, 3), newRelease(p, 5)},
		{newRelease(p, 6), newRelease(p, 6)},
	}
	for _, tt := range tests {
		createReleases(t, s, tt.create)
		got, err := s.LatestRelease(t.Context(), "p")
		mustOK(t, "LatestRelease after creating "+tt.create.ID, err)
		diff(t, "LatestRelease after creating "+tt.create.ID, got, tt.want)
	}
	got, err := s.LatestRelease(t.Context(), "q")
	mustOK(t, "LatestRelease of q", err)
	diff(t, "LatestRelease of q", got, newRelease(q, 9))
	// The release created behind the latest one is stored all the same.
	diff(t, "GetRelease of the older release", getRelease(t, s, "p", releaseID(3)), newRelease(p, 3))
}

func testListReleasesNewestFirst(t *testing.T, s shiplog.Store) {
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)
	rs := make([]shiplog.Release, 6)
	for i := range rs {
		rs[i] = newRelease(p, i+1)
	}
	// Releases 4 and 5 are made in the same second: the id decides.
	rs[4].CreatedAt = rs[3].CreatedAt
	// Create them out of order, with another project's releases in between.
	createReleases(t, s, rs[2], rs[0], newRelease(q, 7), rs[5], rs[4], newRelease(q, 8), rs[1], rs[3])

	got, pages := allReleases(t, s, "p", shiplog.MaxPageLimit)
	if pages != 1 {
		t.Errorf("ListReleases of 6 with limit %d: got %d pages, want 1", shiplog.MaxPageLimit, pages)
	}
	diff(t, "ListReleases", got, []shiplog.Release{rs[5], rs[4], rs[3], rs[2], rs[1], rs[0]})

	page, err := s.ListReleases(t.Context(), "nobody", shiplog.PageRequest{Limit: 10})
	mustOK(t, "ListReleases of a project with no releases", err)
	if len(page.Items) != 0 || page.NextCursor != "" {
		t.Errorf("ListReleases of a project with no releases: got %d items and cursor %q, want none", len(page.Items), page.NextCursor)
	}
}

func testListReleasesPages(t *testing.T, s shiplog.Store) {
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)
	var want []shiplog.Release
	for n := 7; n >= 1; n-- {
		want = append(want, newRelease(p, n))
	}
	createReleases(t, s, want...)
	createReleases(t, s, newRelease(q, 100), newRelease(q, 0))

	for _, limit := range []int{1, 2, 3, 6, 7, 8} {
		got, pages := allReleases(t, s, "p", limit)
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Errorf("ListReleases of %d with limit %d: got %d pages, want %d", len(want), limit, pages, wantPages)
		}
		diff(t, fmt.Sprintf("ListReleases with limit %d, all pages", limit), got, want)
	}
}

var badCursors = []string{"garbage!", "%%%", "bm90IGEgY3Vyc29y", "eyJrIjoxfQ", "AAAA"}

func testListReleasesBadCursor(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	createReleases(t, s, newRelease(p, 1), newRelease(p, 2))
	for _, c := range badCursors {
		_, err := s.ListReleases(t.Context(), "p", shiplog.PageRequest{Limit: 1, Cursor: c})
		wantKind(t, fmt.Sprintf("ListReleases with cursor %q", c), err, shiplog.Invalid)
	}
}

// Deployments.

func testDeployContext(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p, q := newProject("p"), newProject("q")
	r, rq := newRelease(p, 1), newRelease(q, 2)

	_, err := s.DeployContext(ctx, "p", r.ID, "stage")
	wantErr(t, "DeployContext of an unregistered project", err, shiplog.ErrProjectNotFound)

	putProjects(t, s, p, q)
	_, err = s.DeployContext(ctx, "p", r.ID, "stage")
	wantErr(t, "DeployContext of a missing release", err, shiplog.ErrReleaseNotFound)

	createReleases(t, s, r, rq)
	_, err = s.DeployContext(ctx, "p", rq.ID, "stage")
	wantErr(t, "DeployContext of another project's release", err, shiplog.ErrReleaseNotFound)

	got, err := s.DeployContext(ctx, "p", r.ID, "stage")
	mustOK(t, "DeployContext", err)
	diff(t, "DeployContext before any deployment", got, shiplog.DeployContext{Project: p, Release: r})

	c := newDeployment(p, r, "stage", 1, 0)
	c.State.Pending = []string{"api", "web"}
	c.State.LockedUntil = 1_900_000_000
	recordDeployments(t, s, c)

	got, err = s.DeployContext(ctx, "p", r.ID, "stage")
	mustOK(t, "DeployContext", err)
	diff(t, "DeployContext after a deployment", got, shiplog.DeployContext{Project: p, Release: stored(r, c), Current: &c.State})

	got, err = s.DeployContext(ctx, "p", r.ID, "prod")
	mustOK(t, "DeployContext", err)
	diff(t, "DeployContext of another environment", got, shiplog.DeployContext{Project: p, Release: stored(r, c)})
}

// testDeployContextLatest holds DeployContext of "latest" to the release LatestRelease answers,
// read with the rest, as it stands (its deployments counted).
func testDeployContextLatest(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p, q := newProject("p"), newProject("q")

	_, err := s.DeployContext(ctx, "p", shiplog.LatestRelease, "stage")
	wantErr(t, "DeployContext latest of an unregistered project", err, shiplog.ErrProjectNotFound)

	putProjects(t, s, p, q)
	_, err = s.DeployContext(ctx, "p", shiplog.LatestRelease, "stage")
	wantErr(t, "DeployContext latest of a project with no release", err, shiplog.ErrReleaseNotFound)

	// q's newer release is not p's latest.
	createReleases(t, s, newRelease(q, 9))
	_, err = s.DeployContext(ctx, "p", shiplog.LatestRelease, "stage")
	wantErr(t, "DeployContext latest of a project with no release of its own", err, shiplog.ErrReleaseNotFound)

	r2 := newRelease(p, 2)
	createReleases(t, s, r2)
	got, err := s.DeployContext(ctx, "p", shiplog.LatestRelease, "stage")
	mustOK(t, "DeployContext latest", err)
	diff(t, "DeployContext latest before any deployment", got, shiplog.DeployContext{Project: p, Release: r2})

	c := newDeployment(p, r2, "stage", 1, 0)
	recordDeployments(t, s, c)
	got, err = s.DeployContext(ctx, "p", shiplog.LatestRelease, "stage")
	mustOK(t, "DeployContext latest", err)
	diff(t, "DeployContext latest after its deployment", got, shiplog.DeployContext{Project: p, Release: stored(r2, c), Current: &c.State})

	// A release created behind the latest one does not displace it; a newer one does, at once.
	createReleases(t, s, newRelease(p, 1))
	got, err = s.DeployContext(ctx, "p", shiplog.LatestRelease, "prod")
	mustOK(t, "DeployContext latest", err)
	diff(t, "DeployContext latest after an older release", got, shiplog.DeployContext{Project: p, Release: stored(r2, c)})
	r3 := newRelease(p, 3)
	createReleases(t, s, r3)
	got, err = s.DeployContext(ctx, "p", shiplog.LatestRelease, "stage")
	mustOK(t, "DeployContext latest", err)
	diff(t, "DeployContext latest after a newer release", got, shiplog.DeployContext{Project: p, Release: r3, Current: &c.State})
}

func testRecordDeployment(t *testing.T, s shiplog.Store) {
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)
	r1, r2, rq := newRelease(p, 1), newRelease(p, 2), newRelease(q, 3)
	createReleases(t, s, r1, r2, rq)

	d1 := newDeployment(p, r1, "stage", 1, 0)
	recordDeployments(t, s, d1)
	diff(t, "release after one deployment", getRelease(t, s, "p", r1.ID), deployed(r1, d1))
	diff(t, "states after one deployment", states(t, s, "p"), []shiplog.EnvironmentState{d1.State})
	got, _ := allDeployments(t, s, "p", "", 10)
	diff(t, "deployments after one deployment", got, []shiplog.DeploymentRecord{record(d1)})

	d2 := newDeployment(p, r1, "prod", 2, 0)
	d3 := newDeployment(p, r1, "stage", 3, d1.State.Version)
	d3.Deployment.Description = "" // an empty description round-trips
	d3.State.Description = ""
	d4 := newDeployment(p, r2, "stage", 4, d3.State.Version)
	d5 := newDeployment(q, rq, "stage", 5, 0)
	recordDeployments(t, s, d2, d3, d4, d5)

	diff(t, "release 1", getRelease(t, s, "p", r1.ID), deployed(r1, d1, d2, d3))
	diff(t, "release 2", getRelease(t, s, "p", r2.ID), deployed(r2, d4))
	diff(t, "q's release", getRelease(t, s, "q", rq.ID), deployed(rq, d5))
	diff(t, "states", states(t, s, "p"), []shiplog.EnvironmentState{d2.State, d4.State})
	diff(t, "q's states", states(t, s, "q"), []shiplog.EnvironmentState{d5.State})
	got, _ = allDeployments(t, s, "p", "", 10)
	diff(t, "deployments", got, []shiplog.DeploymentRecord{record(d4), record(d3), record(d2), record(d1)})
	releases, _ := allReleases(t, s, "p", 10)
	diff(t, "releases", releases, []shiplog.Release{stored(r2, d4), stored(r1, d1, d2, d3)})
}

func testRecordDeploymentStale(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r1, r2 := newRelease(p, 1), newRelease(p, 2)
	createReleases(t, s, r1, r2)
	d1 := newDeployment(p, r1, "stage", 1, 0)
	recordDeployments(t, s, d1)
	before := takeSnapshot(t, s, "p")

	tests := []struct {
		name   string
		change shiplog.EnvironmentWrite
	}{
		{"no version given, but there is a state", newDeployment(p, r2, "stage", 2, 0)},
		{"a version that is not the current one", newDeployment(p, r2, "stage", 3, 99)},
		{"a version of an environment never written", newDeployment(p, r2, "prod", 4, 1)},
	}
	for _, tt := range tests {
		err := s.WriteEnvironment(t.Context(), tt.change)
		wantKind(t, "WriteEnvironment, "+tt.name, err, shiplog.Conflict)
		if !errors.Is(err, shiplog.ErrVersionConflict) {
			t.Errorf("WriteEnvironment, %s: got %v, want ErrVersionConflict", tt.name, err)
		}
		sameSnapshot(t, "after WriteEnvironment, "+tt.name, takeSnapshot(t, s, "p"), before)
	}
}

// A deployment id names one deployment: a second write that records the same id is refused,
// even at the right version and in another environment.
func testRecordDeploymentReusedID(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r1, r2 := newRelease(p, 1), newRelease(p, 2)
	createReleases(t, s, r1, r2)
	d1 := newDeployment(p, r1, "stage", 1, 0)
	recordDeployments(t, s, d1)
	before := takeSnapshot(t, s, "p")

	for _, tt := range []struct {
		name   string
		change shiplog.EnvironmentWrite
	}{
		{"same environment, next version", newDeployment(p, r2, "stage", 1, d1.State.Version)},
		{"another environment", newDeployment(p, r2, "prod", 1, 0)},
	} {
		err := s.WriteEnvironment(t.Context(), tt.change)
		wantKind(t, "WriteEnvironment reusing a deployment id, "+tt.name, err, shiplog.Conflict)
		if !errors.Is(err, shiplog.ErrDeploymentExists) {
			t.Errorf("WriteEnvironment reusing a deployment id, %s: got %v, want ErrDeploymentExists", tt.name, err)
		}
		sameSnapshot(t, "after WriteEnvironment reusing a deployment id, "+tt.name, takeSnapshot(t, s, "p"), before)
	}
}

func testRecordDeploymentMissingRelease(t *testing.T, s shiplog.Store) {
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)
	rq := newRelease(q, 1)
	createReleases(t, s, rq)
	before := takeSnapshot(t, s, "p")

	gone := newDeployment(p, newRelease(p, 2), "stage", 1, 0)
	err := s.WriteEnvironment(t.Context(), gone)
	wantKind(t, "WriteEnvironment with a missing release", err, shiplog.NotFound)
	if !errors.Is(err, shiplog.ErrReleaseNotFound) {
		t.Errorf("WriteEnvironment with a missing release: got %v, want ErrReleaseNotFound", err)
	}
	sameSnapshot(t, "after WriteEnvironment with a missing release", takeSnapshot(t, s, "p"), before)

	other := newDeployment(p, rq, "stage", 2, 0)
	wantErr(t, "WriteEnvironment with another project's release", s.WriteEnvironment(t.Context(), other), shiplog.ErrReleaseNotFound)
	sameSnapshot(t, "after WriteEnvironment with another project's release", takeSnapshot(t, s, "p"), before)
	diff(t, "the other project's release", getRelease(t, s, "q", rq.ID), rq)
}

// A write without a deployment (settling, and later locks and the like) changes the state only.
func testWriteEnvironmentAlone(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	d1 := newDeployment(p, r, "stage", 1, 0)
	d1.State.Pending = []string{"api", "web", "worker"}
	d1.State.LockedUntil = 1_900_000_000
	recordDeployments(t, s, d1)

	cur := d1.State
	partly := cur
	partly.Pending = []string{"web"}
	partly.LockedUntil = 0
	settled := partly
	settled.Pending = nil
	for _, st := range []struct {
		name string
		next shiplog.EnvironmentState
	}{
		{"with services left pending", partly},
		{"with nothing pending", settled},
		{"again, unchanged", settled},
	} {
		w := cur.Next(st.next)
		mustOK(t, "WriteEnvironment "+st.name, s.WriteEnvironment(ctx, w))
		cur = w.State
		diff(t, "states after WriteEnvironment "+st.name, states(t, s, "p"), []shiplog.EnvironmentState{cur})
		dc, err := s.DeployContext(ctx, "p", r.ID, "stage")
		mustOK(t, "DeployContext", err)
		diff(t, "DeployContext after WriteEnvironment "+st.name, dc.Current, &cur)
	}
	if cur.Version != 4 {
		t.Errorf("version after four writes: got %d, want 4", cur.Version)
	}
	diff(t, "release after writes without a deployment", getRelease(t, s, "p", r.ID), deployed(r, d1))
	deps, _ := allDeployments(t, s, "p", "", 10)
	diff(t, "deployments after writes without a deployment", deps, []shiplog.DeploymentRecord{record(d1)})
}

func testWriteEnvironmentStale(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	d1 := newDeployment(p, r, "stage", 1, 0)
	d1.State.LockedUntil = 1_900_000_000
	d2 := newDeployment(p, r, "stage", 2, d1.State.Version)
	d2.State.LockedUntil = 1_900_000_100
	recordDeployments(t, s, d1, d2)
	before := takeSnapshot(t, s, "p")

	settle := func(st shiplog.EnvironmentState) shiplog.EnvironmentState { st.LockedUntil = 0; return st }
	prod := d2.State
	prod.Environment = p.Environments[1]
	tests := []struct {
		name string
		w    shiplog.EnvironmentWrite
	}{
		{"a replaced version", d1.State.Next(settle(d1.State))},
		{"a version from the future", shiplog.EnvironmentWrite{State: settle(withVersion(d2.State, 8)), Expect: 7}},
		{"an environment never written", shiplog.EnvironmentWrite{State: withVersion(prod, 3), Expect: 2}},
	}
	for _, tt := range tests {
		err := s.WriteEnvironment(t.Context(), tt.w)
		wantKind(t, "WriteEnvironment of "+tt.name, err, shiplog.Conflict)
		sameSnapshot(t, "after WriteEnvironment of "+tt.name, takeSnapshot(t, s, "p"), before)
	}
}

func withVersion(st shiplog.EnvironmentState, v int64) shiplog.EnvironmentState {
	st.Version = v
	return st
}

func testListDeployments(t *testing.T, s shiplog.Store) {
	p, q := newProject("p", "stage", "prod", "dev"), newProject("q")
	putProjects(t, s, p, q)
	r1, r2, rq := newRelease(p, 1), newRelease(p, 2), newRelease(q, 3)
	createReleases(t, s, r1, r2, rq)

	// Seven deployments over two releases and three environments, and one of project q.
	current := map[string]int64{}
	var all []shiplog.EnvironmentWrite
	plan := []struct {
		r   shiplog.Release
		env string
	}{{r1, "stage"}, {r1, "prod"}, {r2, "stage"}, {r1, "dev"}, {r2, "prod"}, {r2, "stage"}, {r1, "stage"}}
	for i, st := range plan {
		c := newDeployment(p, st.r, st.env, i+1, current[st.env])
		current[st.env] = c.State.Version
		all = append(all, c)
	}
	all[5].Deployment.CreatedAt = all[4].Deployment.CreatedAt // same second: the id decides
	all[5].State.DeployedAt = all[5].Deployment.CreatedAt
	recordDeployments(t, s, all...)
	recordDeployments(t, s, newDeployment(q, rq, "stage", 20, 0))

	newestFirst := func(env string) []shiplog.DeploymentRecord {
		var out []shiplog.DeploymentRecord
		for i := len(all) - 1; i >= 0; i-- {
			if env == "" || all[i].Deployment.Environment.ID == env {
				out = append(out, record(all[i]))
			}
		}
		return out
	}
	for _, env := range []string{"", "stage", "prod", "dev"} {
		want := newestFirst(env)
		for _, limit := range []int{1, 2, 3, 100} {
			got, pages := allDeployments(t, s, "p", env, limit)
			if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
				t.Errorf("ListDeployments %q of %d with limit %d: got %d pages, want %d", env, len(want), limit, pages, wantPages)
			}
			diff(t, fmt.Sprintf("ListDeployments %q with limit %d", env, limit), got, want)
		}
	}

	for _, tt := range []struct{ project, env string }{{"p", "nowhere"}, {"nobody", ""}, {"q", "prod"}} {
		page, err := s.ListDeployments(t.Context(), tt.project, shiplog.DeploymentFilter{Environment: tt.env}, shiplog.PageRequest{Limit: 10})
		mustOK(t, "ListDeployments "+tt.project+" "+tt.env, err)
		if len(page.Items) != 0 || page.NextCursor != "" {
			t.Errorf("ListDeployments %s %q: got %d items and cursor %q, want none", tt.project, tt.env, len(page.Items), page.NextCursor)
		}
	}
}

func testListDeploymentsBadCursor(t *testing.T, s shiplog.Store) {
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	recordDeployments(t, s, newDeployment(p, r, "stage", 1, 0), newDeployment(p, r, "prod", 2, 0))
	for _, env := range []string{"", "stage"} {
		for _, c := range badCursors {
			_, err := s.ListDeployments(t.Context(), "p", shiplog.DeploymentFilter{Environment: env}, shiplog.PageRequest{Limit: 1, Cursor: c})
			wantKind(t, fmt.Sprintf("ListDeployments %q with cursor %q", env, c), err, shiplog.Invalid)
		}
	}
}

func testEnvironmentStates(t *testing.T, s shiplog.Store) {
	p, q := newProject("p", "stage", "prod", "dev", "2026-11-25"), newProject("q")
	putProjects(t, s, p, q)
	if got := states(t, s, "p"); len(got) != 0 {
		t.Errorf("EnvironmentStates before any deployment: got %v, want none", got)
	}
	r, rq := newRelease(p, 1), newRelease(q, 2)
	createReleases(t, s, r, rq)
	stage := newDeployment(p, r, "stage", 1, 0)
	dev := newDeployment(p, r, "dev", 2, 0)
	dated := newDeployment(p, r, "2026-11-25", 3, 0)
	dated.State.Pending = []string{"worker"}
	recordDeployments(t, s, stage, dev, dated, newDeployment(q, rq, "prod", 4, 0))
	diff(t, "EnvironmentStates", states(t, s, "p"), []shiplog.EnvironmentState{dated.State, dev.State, stage.State})
}

// retryable reports whether an optimistic store may refuse a concurrent write with err.
func retryable(err error) bool {
	return shiplog.IsKind(err, shiplog.Conflict) || shiplog.IsKind(err, shiplog.Unavailable)
}

// untilAccepted calls write until the store takes it, or refuses it with an error that is not
// retryable, or Patience has passed: a write that met a concurrent one took no effect, and is
// tried again (after a short wait) as the Service would, however many times a loaded machine
// makes it meet another. It answers the last error.
func untilAccepted(t *testing.T, write func() error) error {
	giveUp := time.Now().Add(Patience(t))
	waits := backoff.Policy{First: 10 * time.Millisecond, Max: 250 * time.Millisecond}.Waits(nil)
	for {
		err := write()
		if !retryable(err) || time.Now().After(giveUp) {
			return err
		}
		if werr := waits.Wait(t.Context()); werr != nil {
			return fmt.Errorf("%w (then %w)", err, werr)
		}
	}
}

func testConcurrentRecordDeployment(t *testing.T, s shiplog.Store) {
	const n = 8
	envs := make([]string, n)
	for i := range envs {
		envs[i] = fmt.Sprintf("env-%d", i)
	}
	p := newProject("p", envs...)
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)

	changes := make([]shiplog.EnvironmentWrite, n)
	for i := range changes {
		changes[i] = newDeployment(p, r, envs[i], i+1, 0)
		changes[i].Deployment.CreatedAt = r.CreatedAt + 5 // all in one second
		changes[i].State.DeployedAt = changes[i].Deployment.CreatedAt
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range changes {
		wg.Go(func() {
			<-start
			errs[i] = untilAccepted(t, func() error { return s.WriteEnvironment(t.Context(), changes[i]) })
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		mustOK(t, "concurrent RecordDeployment to "+envs[i], err)
	}

	got := getRelease(t, s, "p", r.ID)
	sort.Slice(got.Deployments, func(i, j int) bool { return got.Deployments[i].ID < got.Deployments[j].ID })
	want := deployed(r, changes...)
	diff(t, "release after concurrent deployments", got, want)

	var wantStates []shiplog.EnvironmentState
	for _, c := range changes {
		wantStates = append(wantStates, c.State)
	}
	diff(t, "states after concurrent deployments", states(t, s, "p"), wantStates)
	deps, _ := allDeployments(t, s, "p", "", 100)
	if len(deps) != n {
		t.Errorf("ListDeployments after %d concurrent deployments: got %d", n, len(deps))
	}
}

func testConcurrentRecordPush(t *testing.T, s shiplog.Store) {
	const n = 10
	recs := make([]shiplog.ImageRecord, n)
	for i := range recs {
		recs[i] = shiplog.ImageRecord{ProjectID: "p", ServiceID: "api", URI: imageURI("shared/base", i), PushedAt: 1_800_000_000 + int64(i)}
	}
	applied := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	// Start the pushes newest first, so that the newest has to survive the older ones.
	for i := n - 1; i >= 0; i-- {
		wg.Go(func() {
			<-start
			applied[i], errs[i] = s.RecordPush(t.Context(), recs[i], pushEvent(recs[i]))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("concurrent RecordPush %d", i), err)
	}
	if !applied[n-1] {
		t.Errorf("concurrent RecordPush of the newest: got applied false, want true")
	}
	got, err := s.LatestImage(t.Context(), "p", "api")
	mustOK(t, "LatestImage", err)
	diff(t, "LatestImage after concurrent pushes", got, recs[n-1])
}
