// Package ledger is shiplog's storage, written once: every record kind, key, listing copy,
// counter, condition, cursor and page limit of shiplog.Store, over a Driver that knows only how
// to get, batch get, query and write a batch of conditional ops atomically. Drivers: the
// embedded bbolt file (pkg/bolt), memory (pkg/memstore) and DynamoDB (pkg/awsdynamo).
package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shiplog/shiplog/pkg/backoff"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Ledger is a shiplog.Store over a Driver. It is safe for concurrent use if its driver is.
type Ledger struct {
	d    Driver
	caps Caps
	// Now is the clock of turn claims, and Sleep waits between the attempts of a write that met
	// a concurrent one.
	Now   func() time.Time
	Sleep backoff.SleepFunc
	// ClaimTTL is how long a claimed turn to record a deployment keeps other records of the same
	// version out: long enough for the claimer's write, short enough that one who died in
	// between holds nobody up for long.
	ClaimTTL time.Duration
}

var _ shiplog.Store = (*Ledger)(nil)

// New returns the ledger over d.
func New(d Driver) *Ledger {
	return &Ledger{d: d, caps: d.Caps(), Now: time.Now, Sleep: backoff.Sleep, ClaimTTL: 5 * time.Second}
}

// Driver returns the ledger's driver.
func (l *Ledger) Driver() Driver { return l.d }

func (l *Ledger) get(ctx context.Context, k Key, v any) (bool, error) {
	it, ok, err := l.d.Get(ctx, k)
	if err != nil || !ok {
		return false, err
	}
	return true, it.Decode(v)
}

// getRecord reads the record at k as a domain value, or answers missing if there is none.
func getRecord[R, T any](ctx context.Context, l *Ledger, k Key, conv func(R) T, missing error) (T, error) {
	var rec R
	var zero T
	found, err := l.get(ctx, k, &rec)
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", k, err)
	}
	if !found {
		return zero, missing
	}
	return conv(rec), nil
}

// queryAll reads every item of q as domain values.
func queryAll[R, T any](ctx context.Context, l *Ledger, q Query, conv func(R) T) ([]T, error) {
	items, err := l.d.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query %s/%s: %w", q.Table, q.PK, err)
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		var rec R
		if err := it.Decode(&rec); err != nil {
			return nil, err
		}
		out = append(out, conv(rec))
	}
	return out, nil
}

// decodeFound decodes the item at k of a batch read as a domain value; ok is false if it is absent.
func decodeFound[R, T any](got map[Key]Item, k Key, conv func(R) T) (v T, ok bool, err error) {
	it, ok := got[k]
	if !ok {
		return v, false, nil
	}
	var rec R
	if err := it.Decode(&rec); err != nil {
		return v, false, err
	}
	return conv(rec), true, nil
}

// put is the op that puts v at k, if cond holds (if given).
func put(k Key, v any, cond ...Cond) Op {
	op := Op{Key: k, Put: v}
	if len(cond) > 0 {
		op.If = &cond[0]
	}
	return op
}

// eventOps are the ops that log ev: its item, and its copy in its type's list, which ListEvents
// reads for one type so that a rare type costs a page, not the log.
func eventOps(ev shiplog.Event) ([]Op, error) {
	if ev.ID == "" || ev.ProjectID == "" || ev.Type == "" {
		return nil, fmt.Errorf("event %q of project %q: an event needs an id, a type and a project", ev.ID, ev.ProjectID)
	}
	rec := eventRecord(ev)
	return []Op{put(eventKey(ev.ProjectID, ev.ID), rec), put(eventTypeKey(ev.ProjectID, ev.Type, ev.ID), rec)}, nil
}

// Projects.

// errRaced says that another registration of the project was written between our read and our
// write; PutProject reads again and retries.
var errRaced = errors.New("another registration changed the project since it was read")

const registerAttempts = 5

// PutProject registers a project, or replaces its registration, with an item per repository
// that feeds it, and logs ev in the same write if the registration changes what is stored. A
// registration that loses a race is read and applied again (up to 5 times, then Conflict).
//
// Two rules of the domain hold inside its write, against every registration and deploy racing
// it: a repository whose services the registration grows is counted after its version was read,
// and the write moves that version on (RepositoryOverLimit past MaxServicesPerRepository); an
// environment it drops, unless retired names it, must have no state (DropsDeployed), as a
// deployment's write requires its environment to be registered.
func (l *Ledger) PutProject(ctx context.Context, p shiplog.Project, ev shiplog.Event, retired ...string) error {
	if p.ID == "" {
		return shiplog.Errorf(shiplog.Invalid, "project id: is required")
	}
	for attempt := 1; ; attempt++ {
		err := l.putProject(ctx, p, ev, retired, 0)
		if !errors.Is(err, errRaced) {
			return err
		}
		if attempt == registerAttempts {
			return shiplog.Wrap(shiplog.Conflict, err, "project %s is being registered concurrently; retry", p.ID)
		}
	}
}

// putProject writes the registration in one atomic write if the driver takes that many ops,
// else in several: the first puts the project claiming both its old and its new repositories
// (and marked unfinished), with the checks of its rules and as many repository items as fit
// (those that grow a repository first, each with the repository's next version), each later one
// is guarded by the project's version, and a last update narrows the claim once the stale
// mappings are gone. If that is interrupted, the next registration (or the next read of a
// release's context, which finishes it) deletes whatever is stale, because the claim never
// under-counts. With finish set, it finishes the registration of that version, and does nothing
// if the project has been registered since.
func (l *Ledger) putProject(ctx context.Context, p shiplog.Project, ev shiplog.Event, retired []string, finish int64) error {
	var old projectRecord
	found, err := l.get(ctx, projectKey(p.ID), &old)
	if err != nil {
		return fmt.Errorf("read project %s: %w", p.ID, err)
	}
	if finish != 0 && (!found || old.Version != finish) {
		return nil
	}
	var was *shiplog.Project
	if found {
		op := old.project()
		was = &op
	}
	var events []Op
	if shiplog.RegistrationChanged(was, p) {
		if events, err = eventOps(ev); err != nil {
			return err
		}
	}
	mappings := repoMappings(p)
	repos := sortedKeys(mappings)
	var stale []string
	for _, r := range old.MappedRepositories {
		if _, ok := mappings[r]; !ok {
			stale = append(stale, r)
		}
	}
	stale = sortedUnique(stale)
	growth, err := l.repoGrowth(ctx, p, old, found && unfinished(old), mappings, repos)
	if err != nil {
		return err
	}
	version := old.Version
	cond := NotExists()
	if found {
		cond = Eq(attrVersion, version)
	}
	// The first write: the project, its event, and a check that each environment it drops has no
	// state (a deployment recorded since the domain looked).
	first := []Op{{}}
	first = append(first, events...)
	var dropped []string
	for _, e := range old.Environments {
		if _, kept := p.Environment(e.ID); !kept && !slices.Contains(retired, e.ID) {
			dropped = append(dropped, e.ID)
			first = append(first, Op{Key: envKey(p.ID, e.ID), Check: true, If: condPtr(NotExists())})
		}
	}
	checks := len(first)
	// The repository items as units that go in one write each: one that grows a repository with
	// the repository's next version, first; then the deletes, so that a registration in several
	// writes clears stale mappings early; then the rest.
	var units [][]Op
	for _, r := range repos {
		if g, ok := growth[r]; ok {
			units = append(units, []Op{put(repoKey(r, p.ID), mappings[r]), g})
		}
	}
	// The runtime index's items that change (all of them after an interrupted registration,
	// whose earlier steps may not have written them).
	var indexed *shiplog.Project
	if found && !unfinished(old) {
		indexed = was
	}
	for _, op := range runtimeOps(indexed, p) {
		units = append(units, []Op{op})
	}
	for _, r := range stale {
		units = append(units, []Op{{Key: repoKey(r, p.ID), Delete: true}})
	}
	for _, r := range repos {
		if _, ok := growth[r]; !ok {
			units = append(units, []Op{put(repoKey(r, p.ID), mappings[r])})
		}
	}
	n := len(first)
	for _, u := range units {
		n += len(u)
	}
	limit := l.caps.MaxWriteOps
	single := limit == 0 || n <= limit
	if !single && len(first) > limit {
		return shiplog.Errorf(shiplog.Invalid, "%s: the registration drops %d environments at once, more than one atomic write can check; drop fewer at a time", p.ID, len(dropped))
	}
	mapped := repos
	if !single {
		mapped = sortedUnique(append(append([]string{}, repos...), stale...))
	}
	first[0] = put(projectKey(p.ID), newProjectRecord(p, version+1, mapped, !single, !found || old.EventsTyped), cond)
	refuse := func(cf *CondFailed) error {
		if cf.Failed(0) {
			return nil // another registration: read again
		}
		var deployed []string
		for i, env := range dropped {
			if cf.Failed(checks - len(dropped) + i) {
				deployed = append(deployed, env)
			}
		}
		if len(deployed) > 0 {
			return shiplog.DropsDeployed(p.ID, deployed)
		}
		return nil // a repository grown by another registration since it was counted
	}
	what := "register project " + p.ID
	chunks := [][]Op{slices.Concat(units...)}
	if !single {
		chunks = packUnits(units, limit, len(first), limit-1)
	}
	if err := l.registerWrite(ctx, what, append(first, chunks[0]...), refuse); err != nil || single {
		return err
	}
	ours := condPtr(Eq(attrVersion, version+1))
	for _, chunk := range chunks[1:] {
		guard := Op{Key: projectKey(p.ID), Check: true, If: ours}
		if err := l.registerWrite(ctx, what, append([]Op{guard}, chunk...), nil); err != nil {
			return err
		}
	}
	narrow := Op{Key: projectKey(p.ID), If: ours, Update: []Change{
		{Kind: Set, Attr: attrMapped, Value: repos},
		{Kind: Remove, Attr: attrUnfinished},
	}}
	return l.registerWrite(ctx, what, []Op{narrow}, nil)
}

// runtimeOps are the ops that move the runtime index from the project as registered (was; nil:
// none, or not known to be indexed) to p: each ECS service's item gets p's attribute, listing the
// environments that run it, or loses it.
func runtimeOps(was *shiplog.Project, p shiplog.Project) []Op {
	before := map[shiplog.RuntimeService][]string{}
	if was != nil {
		before = shiplog.RuntimeServices(*was)
	}
	after := shiplog.RuntimeServices(p)
	attr := runtimeAttr(p.ID)
	var ops []Op
	for _, rs := range sortedRuntime(after) {
		if was == nil || !slices.Equal(before[rs], after[rs]) {
			ops = append(ops, Op{Key: runtimeKey(rs), Update: []Change{{Kind: Set, Attr: attr, Value: after[rs]}}})
		}
	}
	for _, rs := range sortedRuntime(before) {
		if _, ok := after[rs]; !ok {
			ops = append(ops, Op{Key: runtimeKey(rs), Update: []Change{{Kind: Remove, Attr: attr}}})
		}
	}
	return ops
}

func sortedRuntime(m map[shiplog.RuntimeService][]string) []shiplog.RuntimeService {
	out := make([]shiplog.RuntimeService, 0, len(m))
	for rs := range m {
		out = append(out, rs)
	}
	slices.SortFunc(out, func(a, b shiplog.RuntimeService) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Service, b.Service))
	})
	return out
}

// RuntimeMatches reads the runtime index's item of the ECS service and the item that says the
// index is complete, in one batch read; for each environment the item lists, one more batch read
// gets its project and state, and keeps it only if the project, as now registered, still runs the
// service there (a registration in several writes may leave an entry behind until it is
// finished). Without the complete item, the index is completed first (see completeRuntimeIndex)
// and the caller told to look through the projects itself.
func (l *Ledger) RuntimeMatches(ctx context.Context, cluster, service string) ([]shiplog.RuntimeMatch, bool, error) {
	rs := shiplog.RuntimeService{Cluster: cluster, Service: service}
	got, err := l.d.BatchGet(ctx, []Key{runtimeKey(rs), runtimeCompleteKey()})
	if err != nil {
		return nil, false, fmt.Errorf("read the runtime index of %s/%s: %w", cluster, service, err)
	}
	if _, ok := got[runtimeCompleteKey()]; !ok {
		return nil, false, l.completeRuntimeIndex(ctx)
	}
	it, ok := got[runtimeKey(rs)]
	if !ok {
		return nil, true, nil
	}
	var doc map[string]any
	if err := it.Decode(&doc); err != nil {
		return nil, false, err
	}
	type pair struct{ project, env string }
	var pairs []pair
	var keys []Key
	for _, attr := range sortedKeys(doc) {
		id, ok := runtimeProject(attr)
		envs, isList := doc[attr].([]any)
		if !ok || !isList {
			continue
		}
		keys = append(keys, projectKey(id))
		for _, e := range envs {
			if env, ok := e.(string); ok {
				pairs = append(pairs, pair{id, env})
				keys = append(keys, envKey(id, env))
			}
		}
	}
	if len(pairs) == 0 {
		return nil, true, nil
	}
	got, err = l.d.BatchGet(ctx, keys)
	if err != nil {
		return nil, false, fmt.Errorf("read the projects that run %s/%s: %w", cluster, service, err)
	}
	var out []shiplog.RuntimeMatch
	for _, pr := range pairs {
		p, ok, err := decodeFound(got, projectKey(pr.project), projectRecord.project)
		if err != nil {
			return nil, false, err
		}
		if !ok || !slices.Contains(shiplog.RuntimeServices(p)[rs], pr.env) {
			continue // an entry left behind
		}
		m := shiplog.RuntimeMatch{Project: p, Environment: pr.env}
		st, ok, err := decodeFound(got, envKey(pr.project, pr.env), stateRecord.state)
		if err != nil {
			return nil, false, err
		}
		if ok {
			m.State = &st
		}
		out = append(out, m)
	}
	return out, true, nil
}

// completeRuntimeIndex writes the runtime index's entries of every registered project (each
// write conditioned on the registration it read: a registration since wrote its own), then the
// item that says the index is complete. Projects registered before the index was kept are
// indexed this way once, by the first ECS event that finds it incomplete.
func (l *Ledger) completeRuntimeIndex(ctx context.Context) error {
	recs, err := queryAll(ctx, l, Query{Table: State, PK: projectsPK}, func(r projectRecord) projectRecord { return r })
	if err != nil {
		return err
	}
	for _, rec := range recs {
		ops := runtimeOps(nil, rec.project())
		guard := Op{Key: projectKey(rec.ID), Check: true, If: condPtr(Eq(attrVersion, rec.Version))}
		chunks := [][]Op{ops}
		if limit := l.caps.MaxWriteOps; limit > 0 && len(ops)+1 > limit {
			chunks = packUnits(unitsOf(ops), limit, 1, limit-1)
		}
		for _, chunk := range chunks {
			if len(chunk) == 0 {
				continue
			}
			err := l.d.Write(ctx, append([]Op{guard}, chunk...))
			if _, ok := condFailed(err); ok || errors.Is(err, ErrBusy) {
				break // registered again since: that registration indexed it
			}
			if err != nil {
				return fmt.Errorf("index project %s's ECS services: %w", rec.ID, err)
			}
		}
	}
	if err := l.d.Write(ctx, []Op{put(runtimeCompleteKey(), map[string]bool{"complete": true})}); err != nil {
		return fmt.Errorf("mark the runtime index complete: %w", err)
	}
	return nil
}

func unitsOf(ops []Op) [][]Op {
	units := make([][]Op, len(ops))
	for i, op := range ops {
		units[i] = []Op{op}
	}
	return units
}

// packUnits packs units of ops, in order, into writes: the first of at most limit-first ops,
// each later one of at most later. The first write may take no unit; there is always one.
func packUnits(units [][]Op, limit, first, later int) [][]Op {
	chunks := [][]Op{nil}
	room := limit - first
	for _, u := range units {
		if len(u) > room {
			chunks = append(chunks, nil)
			room = later
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], u...)
		room -= len(u)
	}
	return chunks
}

// repoGrowth returns, for each repository whose services from p grow over those of the stored
// registration was (all of them after an interrupted registration, whose items may not be what
// the project says), the op that moves the repository's version on from the one read before its
// services were counted; or RepositoryOverLimit if the count passes the limit. A registration
// that grows none reads nothing more.
func (l *Ledger) repoGrowth(ctx context.Context, p shiplog.Project, was projectRecord, interrupted bool, mappings map[string]repoRecord, repos []string) (map[string]Op, error) {
	before := repoMappings(was.project())
	var grown []string
	var keys []Key
	for _, r := range repos {
		if interrupted || len(mappings[r].Services) > len(before[r].Services) {
			grown = append(grown, r)
			keys = append(keys, repoVersionKey(r))
		}
	}
	if len(grown) == 0 {
		return nil, nil
	}
	got, err := l.d.BatchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read the repositories of %s: %w", p.ID, err)
	}
	growth := map[string]Op{}
	for _, r := range grown {
		v, ok, err := decodeFound(got, repoVersionKey(r), func(v repoVersionRecord) repoVersionRecord { return v })
		if err != nil {
			return nil, err
		}
		cond := NotExists()
		if ok {
			cond = Eq(attrVersion, v.Version)
		}
		// Counted after the version was read: a registration that grew the repository since
		// has moved it, and this write's condition fails.
		maps, err := queryAll(ctx, l, Query{Table: State, PK: repoPrefix + r}, func(m repoRecord) repoRecord { return m })
		if err != nil {
			return nil, err
		}
		n := len(mappings[r].Services)
		for _, m := range maps {
			if m.ProjectID != p.ID {
				n += len(m.Services)
			}
		}
		if n > shiplog.MaxServicesPerRepository {
			return nil, shiplog.RepositoryOverLimit(p.ID, r, n)
		}
		growth[r] = Op{Key: repoVersionKey(r), If: &cond, Update: []Change{
			{Kind: Set, Attr: attrRepository, Value: r},
			{Kind: Add, Attr: attrVersion, Value: int64(1)},
		}}
	}
	return growth, nil
}

// registerWrite writes one step of a registration. A failed condition or a concurrent write is
// errRaced (read again and retry), unless refuse (if given) says what the failure means.
func (l *Ledger) registerWrite(ctx context.Context, what string, ops []Op, refuse func(*CondFailed) error) error {
	err := l.d.Write(ctx, ops)
	if cf, ok := condFailed(err); ok {
		if refuse != nil {
			if err := refuse(cf); err != nil {
				return err
			}
		}
		return errRaced
	}
	if errors.Is(err, ErrBusy) {
		return errRaced
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// repoMappings returns the repository items a project needs, by repository. A repository listed
// twice feeds the union of its services.
func repoMappings(p shiplog.Project) map[string]repoRecord {
	out := map[string]repoRecord{}
	for _, r := range p.ImageRepositories {
		m := out[r.ID]
		m.Repository, m.ProjectID = r.ID, p.ID
		m.Services = append(m.Services, r.Services...)
		out[r.ID] = m
	}
	for id, m := range out {
		m.Services = sortedUnique(m.Services)
		out[id] = m
	}
	return out
}

// GetProject returns a registered project.
func (l *Ledger) GetProject(ctx context.Context, id string) (shiplog.Project, error) {
	if id == "" {
		return shiplog.Project{}, shiplog.ErrProjectNotFound
	}
	return getRecord(ctx, l, projectKey(id), projectRecord.project, shiplog.ErrProjectNotFound)
}

// ListProjects returns every registered project, sorted by id.
func (l *Ledger) ListProjects(ctx context.Context) ([]shiplog.Project, error) {
	return queryAll(ctx, l, Query{Table: State, PK: projectsPK}, projectRecord.project)
}

// ListProjectsPage returns a page of the registered projects, sorted by id: one Query of the
// page's items (and one more, to say whether a next page follows), however many are registered.
func (l *Ledger) ListProjectsPage(ctx context.Context, page shiplog.PageRequest) (shiplog.Page[shiplog.Project], error) {
	return listPage(ctx, l, Query{Table: State, PK: projectsPK}, "", page, projectRecord.project, "list projects")
}

// RepositoryServices returns the services that a repository feeds, in every project, sorted by
// project then service.
func (l *Ledger) RepositoryServices(ctx context.Context, repository string) ([]shiplog.ServiceRef, error) {
	maps, err := queryAll(ctx, l, Query{Table: State, PK: repoPrefix + repository}, func(m repoRecord) repoRecord { return m })
	if err != nil {
		return nil, err
	}
	refs := []shiplog.ServiceRef{}
	for _, m := range maps { // in project order: the partition's
		for _, svc := range m.Services { // sorted when written
			refs = append(refs, shiplog.ServiceRef{ProjectID: m.ProjectID, ServiceID: svc})
		}
	}
	return refs, nil
}

// Pushes.

// pushAttempts bounds how often RecordPush tries again a write that met another push to the
// same service.
const pushAttempts = 10

// RecordPush stores rec, and ev with it in one write, unless the same push, a newer one, or
// another image pushed at the same second, is recorded; the condition decides inside the write,
// so racing pushes cannot both win. Only when it fails is the record read, to tell the same push
// again (the record: true, with no second event) from a newer one.
func (l *Ledger) RecordPush(ctx context.Context, rec shiplog.ImageRecord, ev shiplog.Event) (bool, error) {
	evOps, err := eventOps(ev)
	if err != nil {
		return false, err
	}
	// A digest recorded for the service before never becomes its newest again: a push of it is
	// a tag moved onto an old image (a deploy's env.* tag, a hand re-tag), not a build.
	ops := append([]Op{
		put(pushKey(rec.ProjectID, rec.ServiceID), pushRecord(rec), Or(NotExists(), Lt(attrPushedAt, rec.PushedAt))),
		put(seenKey(rec.ProjectID, rec.ServiceID, rec.URI), seenRecord{PushedAt: rec.PushedAt}, NotExists()),
	}, evOps...)
	what := fmt.Sprintf("record push of %s for %s/%s", rec.URI, rec.ProjectID, rec.ServiceID)
	for attempt := 1; ; attempt++ {
		err := l.d.Write(ctx, ops)
		if err == nil {
			return true, nil
		}
		if _, ok := condFailed(err); ok {
			cur, err := l.LatestImage(ctx, rec.ProjectID, rec.ServiceID)
			if err != nil {
				return false, err
			}
			// The image is the record (the same push again, or another tag of the newest image),
			// or it is not (a newer image, or an older one pushed again).
			return cur.URI == rec.URI, nil
		}
		if !errors.Is(err, ErrBusy) || attempt == pushAttempts {
			return false, fmt.Errorf("%s: %w", what, err)
		}
		// Another push to the service was being written: ours is decided against it next time.
	}
}

// LatestImage returns the newest push recorded for a service.
func (l *Ledger) LatestImage(ctx context.Context, projectID, serviceID string) (shiplog.ImageRecord, error) {
	return getRecord(ctx, l, pushKey(projectID, serviceID), pushRecord.image, shiplog.ErrImageNotFound)
}

// LatestImages returns the newest push recorded for each of the services that has one, in one
// batch read.
func (l *Ledger) LatestImages(ctx context.Context, projectID string, serviceIDs []string) (map[string]shiplog.ImageRecord, error) {
	_, rc, err := l.pushes(ctx, projectID, serviceIDs, nil)
	return rc.Pushes, err
}

// pushes reads the push records of serviceIDs with keys, in one batch read (the driver's calls).
func (l *Ledger) pushes(ctx context.Context, projectID string, serviceIDs []string, keys []Key) (got map[Key]Item, rc shiplog.ReleaseContext, err error) {
	for _, svc := range sortedUnique(serviceIDs) {
		keys = append(keys, pushKey(projectID, svc))
	}
	if got, err = l.d.BatchGet(ctx, keys); err != nil {
		return nil, rc, fmt.Errorf("read push records of %s: %w", projectID, err)
	}
	rc.Pushes = make(map[string]shiplog.ImageRecord, len(serviceIDs))
	for _, svc := range serviceIDs {
		rec, ok, err := decodeFound(got, pushKey(projectID, svc), pushRecord.image)
		if err != nil {
			return nil, rc, err
		}
		if ok {
			rc.Pushes[svc] = rec
		}
	}
	return got, rc, nil
}

// ReleaseContext reads the project, the idempotency key and the services' push records in one
// batch read, and finishes the project's registration if it was interrupted.
func (l *Ledger) ReleaseContext(ctx context.Context, projectID string, serviceIDs []string, key string) (shiplog.ReleaseContext, error) {
	if projectID == "" {
		return shiplog.ReleaseContext{}, shiplog.ErrProjectNotFound
	}
	keys := []Key{projectKey(projectID)}
	if key != "" {
		keys = append(keys, relKeyKey(projectID, key))
	}
	got, rc, err := l.pushes(ctx, projectID, serviceIDs, keys)
	if err != nil {
		return rc, err
	}
	prec, ok, err := decodeFound(got, projectKey(projectID), func(r projectRecord) projectRecord { return r })
	if err != nil || !ok {
		return shiplog.ReleaseContext{}, cmp.Or[error](err, shiplog.ErrProjectNotFound)
	}
	rc.Project = prec.project()
	if k, ok, err := decodeFound(got, relKeyKey(projectID, key), keyRecord.key); err != nil {
		return shiplog.ReleaseContext{}, err
	} else if ok && key != "" {
		rc.Key = &k
	}
	if unfinished(prec) {
		// A registration in several writes was interrupted: creating a release (a CI run tried
		// again) finishes it, unless another registration has replaced it since.
		if err := l.putProject(ctx, rc.Project, shiplog.Event{}, nil, prec.Version); err != nil && !errors.Is(err, errRaced) {
			return shiplog.ReleaseContext{}, fmt.Errorf("finish the registration of project %s: %w", projectID, err)
		}
	}
	return rc, nil
}

// unfinished reports whether a project's registration was interrupted: it says so (one in several
// writes, until its last step), or it claims other repositories than it maps.
func unfinished(rec projectRecord) bool {
	mapped := sortedKeys(repoMappings(rec.project()))
	return rec.Unfinished || !slices.Equal(mapped, sortedUnique(rec.MappedRepositories))
}

// Releases.

// CreateRelease stores a new release, only if its id is new, and in the same write logs its
// event, records its idempotency key (only if the project has no live record of it: one whose
// time is past counts as absent, whether or not the driver has deleted it yet), and moves the
// project's latest pointer to it unless a newer release has it. The pointer makes LatestRelease
// consistent where a driver's index (DynamoDB's) is not. If only the pointer's condition fails
// (a newer release won a race), the release, its event and its key are written without it.
func (l *Ledger) CreateRelease(ctx context.Context, w shiplog.ReleaseWrite) error {
	r := w.Release
	if r.ID == "" || r.ProjectID == "" {
		return shiplog.Errorf(shiplog.Invalid, "release: release_id and project_id are required")
	}
	if w.Key != nil && (w.Key.Key == "" || w.Key.ProjectID != r.ProjectID || w.Key.ReleaseID != r.ID) {
		return shiplog.Errorf(shiplog.Invalid, "release %s: its idempotency key needs a key, and the release's project and id", r.ID)
	}
	evOps, err := eventOps(w.Event)
	if err != nil {
		return err
	}
	// The key goes first, so that a live key is what a refusal reports even when the release's
	// other conditions fail too.
	var ops []Op
	if w.Key != nil {
		ops = append(ops, put(relKeyKey(r.ProjectID, w.Key.Key), newKeyRecord(*w.Key), Or(NotExists(), Le(AttrExpiresAt, w.Key.At))))
	}
	keyed := len(ops)
	ops = append(ops, put(releaseKey(r.ID), newReleaseRecord(r), NotExists()))
	pointer := Op{Key: latestKey(r.ProjectID), Update: []Change{{Kind: Set, Attr: attrReleaseID, Value: r.ID}},
		If: condPtr(Or(AttrAbsent(attrReleaseID), Lt(attrReleaseID, r.ID)))}
	what := "put release " + r.ID
	refusal := func(err error) error {
		cf, ok := condFailed(err)
		switch {
		case !ok:
			return fmt.Errorf("%s: %w", what, err)
		case keyed > 0 && cf.Failed(0):
			return shiplog.ErrReleaseKeyExists
		}
		return shiplog.Errorf(shiplog.Conflict, "release %s already exists", r.ID)
	}
	err = l.d.Write(ctx, append(append(slices.Clip(ops), pointer), evOps...))
	if err == nil {
		return nil
	}
	if cf, ok := condFailed(err); !ok || !slices.Equal(cf.Ops, []int{keyed + 1}) {
		return refusal(err)
	}
	if err := l.d.Write(ctx, append(ops, evOps...)); err != nil {
		return refusal(err)
	}
	return nil
}

// GetReleaseKey reads a project's idempotency key, expired or not.
func (l *Ledger) GetReleaseKey(ctx context.Context, projectID, key string) (shiplog.ReleaseKey, error) {
	return getRecord(ctx, l, relKeyKey(projectID, key), keyRecord.key, shiplog.ErrReleaseKeyNotFound)
}

// GetRelease returns a project's release.
func (l *Ledger) GetRelease(ctx context.Context, projectID, releaseID string) (shiplog.Release, error) {
	if releaseID == "" {
		return shiplog.Release{}, shiplog.ErrReleaseNotFound
	}
	r, err := getRecord(ctx, l, releaseKey(releaseID), releaseRecord.release, shiplog.ErrReleaseNotFound)
	if err == nil && r.ProjectID != projectID {
		return shiplog.Release{}, shiplog.ErrReleaseNotFound
	}
	return r, err
}

// LatestRelease follows the project's latest pointer.
func (l *Ledger) LatestRelease(ctx context.Context, projectID string) (shiplog.Release, error) {
	var ptr pointerRecord
	found, err := l.get(ctx, latestKey(projectID), &ptr)
	if err != nil {
		return shiplog.Release{}, fmt.Errorf("read the latest release of %s: %w", projectID, err)
	}
	if !found || ptr.ReleaseID == "" {
		return shiplog.Release{}, shiplog.ErrReleaseNotFound
	}
	return l.GetRelease(ctx, projectID, ptr.ReleaseID)
}

// ListReleases returns a page of a project's releases, newest first, from the releases index.
func (l *Ledger) ListReleases(ctx context.Context, projectID string, page shiplog.PageRequest) (shiplog.Page[shiplog.Release], error) {
	q := Query{Table: Releases, Index: ReleasesIndex, PK: projectID, Desc: true}
	return listPage(ctx, l, q, "", page, func(rec releaseRecord) shiplog.Release { return rec.release() }, "list releases of "+projectID)
}

// Deployments.

// DeployContext reads the project, the release and the environment's state in one batch read.
// For "latest" the batch reads the project's latest pointer in place of the release, and one
// more read the release it names.
func (l *Ledger) DeployContext(ctx context.Context, projectID, releaseID, environmentID string) (shiplog.DeployContext, error) {
	if projectID == "" {
		return shiplog.DeployContext{}, shiplog.ErrProjectNotFound
	}
	if releaseID == "" {
		return shiplog.DeployContext{}, shiplog.ErrReleaseNotFound
	}
	latest := releaseID == shiplog.LatestRelease
	keys := []Key{projectKey(projectID), envKey(projectID, environmentID), releaseKey(releaseID)}
	if latest {
		keys[2] = latestKey(projectID)
	}
	got, err := l.d.BatchGet(ctx, keys)
	if err != nil {
		return shiplog.DeployContext{}, fmt.Errorf("read deploy context of release %s: %w", releaseID, err)
	}
	var dc shiplog.DeployContext
	p, ok, err := decodeFound(got, keys[0], projectRecord.project)
	if err != nil || !ok {
		return dc, cmp.Or[error](err, shiplog.ErrProjectNotFound)
	}
	st, ok, err := decodeFound(got, keys[1], stateRecord.state)
	if err != nil {
		return dc, err
	}
	if ok {
		dc.Current = &st
	}
	dc.Project = p
	if latest {
		ptr, _, err := decodeFound(got, keys[2], func(p pointerRecord) string { return p.ReleaseID })
		if err != nil {
			return shiplog.DeployContext{}, err
		}
		if dc.Release, err = l.GetRelease(ctx, projectID, ptr); err != nil {
			return shiplog.DeployContext{}, err
		}
		return dc, nil
	}
	r, ok, err := decodeFound(got, keys[2], releaseRecord.release)
	if err != nil || !ok || r.ProjectID != projectID {
		return shiplog.DeployContext{}, cmp.Or[error](err, shiplog.ErrReleaseNotFound)
	}
	dc.Release = r
	return dc, nil
}

// WriteEnvironment replaces an environment's state if it is still at the version the write
// expects, with the deployment, status updates and events the write carries, all in one atomic
// write (a single conditional put when it carries nothing else).
func (l *Ledger) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	return l.writeEnvironment(ctx, w, nil)
}

// WriteEnvironmentAndParameters is WriteEnvironment that also sets params, in the same atomic
// write: a deploy on a driver that holds parameters is one write.
func (l *Ledger) WriteEnvironmentAndParameters(ctx context.Context, w shiplog.EnvironmentWrite, params map[string]string) error {
	if !l.caps.Parameters {
		return fmt.Errorf("write environment with parameters: this ledger's driver does not hold parameters")
	}
	for name := range params {
		if name == "" {
			return shiplog.Errorf(shiplog.Invalid, "parameter name: is required")
		}
	}
	return l.writeEnvironment(ctx, w, params)
}

func (l *Ledger) writeEnvironment(ctx context.Context, w shiplog.EnvironmentWrite, params map[string]string) error {
	projectID, envID := w.State.ProjectID, w.State.Environment.ID
	if projectID == "" || envID == "" || w.State.Version != w.Expect+1 {
		return shiplog.Errorf(shiplog.Invalid, "environment write: project and environment ids are required, and the version must follow %d", w.Expect)
	}
	what := fmt.Sprintf("write environment %s/%s at version %d", projectID, envID, w.State.Version)
	cond := Eq(attrVersion, w.Expect)
	if w.Expect == 0 {
		// No state yet, or one stored before states were versioned.
		cond = Or(NotExists(), AttrAbsent(attrVersion))
	}
	var ops []Op
	var refusals []error // what a failed condition of each op means
	if d := w.Deployment; d != nil {
		if d.ReleaseID == "" {
			return shiplog.ErrReleaseNotFound
		}
		// The environment must still be registered: a registration that drops it conditions on
		// its state being absent, so that one of the two writes is refused, whichever comes
		// first. A check inside the write the deployment needs anyway costs no call.
		ops = append(ops, Op{Key: projectKey(projectID), Check: true, If: condPtr(Or(AttrAbsent(attrEnvIDs), Has(attrEnvIDs, envID)))})
		refusals = append(refusals, shiplog.ErrEnvironmentNotFound)
		// The release is counted, not appended to, so that its item stays the same size however
		// often it is deployed; the deployment is listed for its project, environment and release.
		ops = append(ops, Op{Key: releaseKey(d.ReleaseID), If: condPtr(And(Exists(), Eq(attrProjectID, d.ProjectID))), Update: []Change{
			{Kind: Set, Attr: attrLastDeploy, Value: d.CreatedAt},
			{Kind: Add, Attr: attrCount, Value: int64(1)},
		}})
		refusals = append(refusals, shiplog.ErrReleaseNotFound)
		rec := newDeploymentRecord(*d)
		for _, k := range listingKeys(d.ProjectID, d.Environment.ID, d.ReleaseID, d.ID, true) {
			ops = append(ops, put(k, rec, NotExists()))
			refusals = append(refusals, shiplog.ErrDeploymentExists)
		}
	}
	// A deployment recorded before releases listed their deployments has no release listing
	// item: a status update that finds none writes the others (see below).
	var relListings []int
	for _, u := range w.Statuses {
		for i, k := range listingKeys(u.ProjectID, u.Environment, u.ReleaseID, u.DeploymentID, true) {
			if i == 2 {
				relListings = append(relListings, len(ops))
			}
			ops = append(ops, Op{Key: k, If: condPtr(Exists()), Update: []Change{
				{Kind: Set, Attr: attrStatus, Value: u.Entry.Status},
				{Kind: Append, Attr: attrHistory, Value: u.Entry},
			}})
			refusals = append(refusals, shiplog.ErrDeploymentNotFound)
		}
		if u.Entry.Status == shiplog.StatusVerified && u.ReleaseID != "" {
			ops = append(ops, Op{Key: releaseKey(u.ReleaseID), If: condPtr(Exists()), Update: []Change{
				{Kind: AddToSet, Attr: attrVerifiedIn, Value: u.Environment},
			}})
			refusals = append(refusals, shiplog.ErrDeploymentNotFound)
		}
	}
	ops = append(ops, put(envKey(projectID, envID), newStateRecord(w.State), cond))
	for _, ev := range w.Events {
		evOps, err := eventOps(ev)
		if err != nil {
			return err
		}
		ops = append(ops, evOps...)
	}
	for _, name := range sortedKeys(params) {
		ops = append(ops, put(paramKey(name), paramRecord{Value: params[name]}))
	}
	if err := l.caps.Fits(ops); err != nil { // before a turn is claimed for it
		return err
	}
	if l.caps.TurnClaims && w.Deployment != nil && w.Retry != "" {
		if err := l.ClaimTurn(ctx, w); err != nil {
			return err
		}
	}
	err := l.writeBusy(ctx, ops)
	if err == nil {
		return nil
	}
	if cf, ok := condFailed(err); ok {
		// A missing release listing says only that the deployment is older than those listings;
		// any other failed op decides the answer.
		others := slices.DeleteFunc(slices.Clone(cf.Ops), func(i int) bool { return slices.Contains(relListings, i) })
		if len(others) > 0 {
			if i := others[0]; i < len(refusals) {
				return refusals[i]
			}
			return shiplog.ErrVersionConflict
		}
		// Only release listings were missing: written again without them, the write's other
		// conditions decide.
		kept := make([]Op, 0, len(ops))
		var rs []error // the refusals of the ops before the state's, as kept
		for i, op := range ops {
			if slices.Contains(relListings, i) {
				continue
			}
			kept = append(kept, op)
			if i < len(refusals) {
				rs = append(rs, refusals[i])
			}
		}
		ops, refusals = kept, rs
		if err = l.d.Write(ctx, ops); err == nil {
			return nil
		}
	}
	if cf, ok := condFailed(err); ok {
		if i := cf.Ops[0]; i < len(refusals) {
			return refusals[i]
		}
		return shiplog.ErrVersionConflict
	}
	if errors.Is(err, ErrBusy) {
		return fmt.Errorf("%w: %w", shiplog.ErrVersionConflict, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// WriteEnvironments replaces several environments' states with their events in one atomic
// write, each conditioned on its version; if the driver's write cannot take them all, in as few
// writes as can, each environment's state with its events.
func (l *Ledger) WriteEnvironments(ctx context.Context, ws []shiplog.EnvironmentWrite) error {
	var units [][]Op
	for _, w := range ws {
		projectID, envID := w.State.ProjectID, w.State.Environment.ID
		if projectID == "" || envID == "" || w.State.Version != w.Expect+1 || w.Deployment != nil || len(w.Statuses) > 0 {
			return shiplog.Errorf(shiplog.Invalid, "environments write: project and environment ids are required, the version must follow %d, and no deployment or status update may ride along", w.Expect)
		}
		cond := Eq(attrVersion, w.Expect)
		if w.Expect == 0 {
			cond = Or(NotExists(), AttrAbsent(attrVersion))
		}
		unit := []Op{put(envKey(projectID, envID), newStateRecord(w.State), cond)}
		for _, ev := range w.Events {
			evOps, err := eventOps(ev)
			if err != nil {
				return err
			}
			unit = append(unit, evOps...)
		}
		units = append(units, unit)
	}
	if len(units) == 0 {
		return nil
	}
	chunks := [][]Op{slices.Concat(units...)}
	if l.caps.Fits(chunks[0]) != nil {
		chunks = packUnits(units, l.caps.MaxWriteOps, 0, l.caps.MaxWriteOps)
	}
	for _, ops := range chunks {
		if len(ops) == 0 {
			continue
		}
		if err := l.caps.Fits(ops); err != nil {
			return err
		}
		err := l.writeBusy(ctx, ops)
		switch _, failed := condFailed(err); {
		case failed:
			return shiplog.ErrVersionConflict
		case errors.Is(err, ErrBusy):
			return fmt.Errorf("%w: %w", shiplog.ErrVersionConflict, err)
		case err != nil:
			return fmt.Errorf("write environments of %s: %w", ws[0].State.ProjectID, err)
		}
	}
	return nil
}

// writeBusy writes ops, trying again a write that met another on some of its items (the
// release's, say, by a deploy of it to another environment): it took no effect, and the
// environment's version need not have moved, so it is tried again at once, its conditions
// deciding anew, a few times before the writer is told it lost the race.
func (l *Ledger) writeBusy(ctx context.Context, ops []Op) error {
	waits := busyBackoff.Waits(l.Sleep)
	for attempt := 1; ; attempt++ {
		err := l.d.Write(ctx, ops)
		if !errors.Is(err, ErrBusy) || attempt == busyAttempts {
			return err
		}
		if err := waits.Wait(ctx); err != nil {
			return fmt.Errorf("write %s: %w", ops[0].Key, err)
		}
	}
}

// A write that met another on some of its items is tried again up to busyAttempts times in all,
// after short waits: the other write holds the items for one round trip.
const busyAttempts = 4

var busyBackoff = backoff.Policy{First: 10 * time.Millisecond, Max: 50 * time.Millisecond}

// listingKeys are the keys of a deployment's listing items: the project's, the environment's
// and, if indexed, the release's.
func listingKeys(projectID, env, releaseID, id string, indexed bool) []Key {
	keys := []Key{deployKey(projectID, id), envDeployKey(projectID, env, id)}
	if indexed {
		keys = append(keys, relDeployKey(projectID, releaseID, id))
	}
	return keys
}

// ClaimTurn claims, with one conditional put, the turn to record a deployment over version
// w.Expect of the environment, unless another writer of that version claimed it less than
// ClaimTTL ago: then it answers ErrVersionConflict, as the write would once the other one
// commits. Deploys waiting on one environment all find it free at once when its lock is released;
// this way one of them runs the atomic write and the others lose a put, not a write of a dozen
// items each. Only writers that waited or lost a race already claim (EnvironmentWrite.Retry),
// so a deploy that meets nobody makes no extra call. The claim only saves work: the state's
// version condition is what keeps two records of one version apart. A claim is never deleted:
// the next version's claims pass it, and one whose write failed for another reason lapses.
// WriteEnvironment calls it; it is exported for tests that stage a writer that died after it.
func (l *Ledger) ClaimTurn(ctx context.Context, w shiplog.EnvironmentWrite) error {
	projectID, envID := w.State.ProjectID, w.State.Environment.ID
	now := l.Now()
	// Free, or claimed for an older version, or lapsed, or this claimant's own (an earlier
	// attempt of the same deploy whose write was refused).
	free := Or(NotExists(), Lt(attrVersion, w.Expect), Lt(attrUntil, now.UnixMilli()), Eq(attrClaimant, w.Retry))
	rec := turnRecord{Version: w.Expect, DeploymentID: w.Deployment.ID, Claimant: w.Retry, Until: now.Add(l.ClaimTTL).UnixMilli()}
	err := l.d.Write(ctx, []Op{put(turnKey(projectID, envID), rec, free)})
	if _, ok := condFailed(err); ok {
		return fmt.Errorf("%w: another deployment is being recorded over version %d of %s/%s", shiplog.ErrVersionConflict, w.Expect, projectID, envID)
	}
	if err != nil {
		return fmt.Errorf("claim the turn to write environment %s/%s at version %d: %w", projectID, envID, w.Expect+1, err)
	}
	return nil
}

// GetDeployment returns one of a project's deployments.
func (l *Ledger) GetDeployment(ctx context.Context, projectID, deploymentID string) (shiplog.DeploymentRecord, error) {
	return getRecord(ctx, l, deployKey(projectID, deploymentID), deploymentRecord.deployment, shiplog.ErrDeploymentNotFound)
}

// ListDeployments returns a page of a project's deployments newest first, narrowed by the
// filter: one environment's listing items, one release's, or the release's filtered to an
// environment.
func (l *Ledger) ListDeployments(ctx context.Context, projectID string, f shiplog.DeploymentFilter, page shiplog.PageRequest) (shiplog.Page[shiplog.DeploymentRecord], error) {
	q := Query{Table: State, PK: projectPrefix + projectID, Prefix: deployPrefix, Desc: true}
	switch {
	case f.Release != "":
		q.Prefix = relDeployPrefix + f.Release + "#"
		if f.Environment != "" {
			q.Filter = condPtr(Eq(attrEnvID, f.Environment))
		}
	case f.Environment != "":
		q.Prefix = envDeployPrefix + f.Environment + "#"
	}
	return listPage(ctx, l, q, q.Prefix, page, deploymentRecord.deployment, "list deployments of "+projectID)
}

// DeploymentsSince returns the environment's deployments created at or after since, newest
// first: its listing items from since's ULID floor up (a key range, so the environment's older
// history costs nothing), every page of them.
func (l *Ledger) DeploymentsSince(ctx context.Context, projectID, environment string, since int64) ([]shiplog.DeploymentRecord, error) {
	prefix := envDeployPrefix + environment + "#"
	q := Query{Table: State, PK: projectPrefix + projectID, Prefix: prefix, Desc: true}
	if floor := shiplog.EventIDFloor(since); floor != "" {
		// Every key of the environment's listing lies below envdeploy#{environment}$.
		q.Prefix, q.From, q.To = "", prefix+floor, envDeployPrefix+environment+"$"
	}
	recs, err := queryAll(ctx, l, q, deploymentRecord.deployment)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(recs, func(d shiplog.DeploymentRecord) bool { return d.CreatedAt < since }), nil
}

// EnvironmentStates returns the state of each environment of the project ever deployed to.
func (l *Ledger) EnvironmentStates(ctx context.Context, projectID string) ([]shiplog.EnvironmentState, error) {
	return queryAll(ctx, l, Query{Table: State, PK: projectPrefix + projectID, Prefix: envPrefix}, stateRecord.state)
}

// ListEvents returns a page of a project's events newest first. Narrowed to a type, it reads the
// type's list (the copies each event write makes), so that a rare type costs one page of its own
// events however long the log; a project registered before those lists were kept may have older
// events of the type in its log only, which are read, once its list is exhausted, as without a
// type (see listLog).
func (l *Ledger) ListEvents(ctx context.Context, projectID string, f shiplog.EventFilter, page shiplog.PageRequest) (shiplog.Page[shiplog.Event], error) {
	if f.Type == "" {
		return l.listLog(ctx, projectID, f, page)
	}
	typed := eventTypePrefix + f.Type + "#"
	q := Query{Table: State, PK: projectPrefix + projectID, Prefix: typed, Desc: true}
	if c, err := decodeCursor(Query{Table: State, PK: q.PK}, EventPrefix, page.Cursor); err == nil && c != nil {
		// A cursor into the log: the page before reached the events older than the type's list.
		return l.listLog(ctx, projectID, f, page)
	}
	if floor := shiplog.EventIDFloor(f.Since); floor != "" {
		q.Prefix, q.From, q.To = "", typed+floor, eventTypePrefix+f.Type+"$"
	}
	if f.Since > 0 {
		q.Filter = condPtr(Ge(attrAt, f.Since))
	}
	what := "list events of " + projectID
	out, err := listPage(ctx, l, q, typed, page, eventRecord.event, what)
	if err != nil || out.NextCursor != "" {
		return out, err
	}
	// The type's list is exhausted. Every event of a project registered since the lists are kept
	// is in it; one registered before may have older events of the type in its log alone (they
	// are all older than the list's: a list starts with the first event written since).
	var prec projectRecord
	found, err := l.get(ctx, projectKey(projectID), &prec)
	if err != nil {
		return shiplog.Page[shiplog.Event]{}, fmt.Errorf("%s: read the project: %w", what, err)
	}
	if !found || prec.EventsTyped {
		return out, nil
	}
	below := "" // the log is read from below the last event the list gave, or the cursor's
	if n := len(out.Items); n > 0 {
		below = out.Items[n-1].ID
	} else if c, _ := decodeCursor(q, typed, page.Cursor); c != nil {
		below = strings.TrimPrefix(c.SK, typed)
	}
	logQ := Query{Table: State, PK: q.PK}
	var cursor string
	if below != "" {
		cursor = encodeCursor(logQ, eventKey(projectID, below))
	}
	room := pageLimit(page.Limit) - len(out.Items)
	if room == 0 {
		// A full page: the log's older events of the type, if any, are the next page's.
		out.NextCursor = cursor
		return out, nil
	}
	rest, err := l.listLog(ctx, projectID, f, shiplog.PageRequest{Limit: room, Cursor: cursor})
	if err != nil {
		return shiplog.Page[shiplog.Event]{}, err
	}
	out.Items = append(out.Items, rest.Items...)
	out.NextCursor = rest.NextCursor
	return out, nil
}

// listLog returns a page of a project's events newest first from its log: its event items, from
// the newest down to the since's EventIDFloor (a key range, so an old log costs nothing),
// filtered to the type and the since's exact second. Filtered to a type, its cost follows the
// log, not the type: ListEvents reads it only for events older than the type's list.
func (l *Ledger) listLog(ctx context.Context, projectID string, f shiplog.EventFilter, page shiplog.PageRequest) (shiplog.Page[shiplog.Event], error) {
	q := Query{Table: State, PK: projectPrefix + projectID, Prefix: EventPrefix, Desc: true}
	if floor := shiplog.EventIDFloor(f.Since); floor != "" {
		// Every event sort key lies below "event$" ("$" follows "#").
		q.Prefix, q.From, q.To = "", EventPrefix+floor, "event$"
	}
	var filters []Cond
	if f.Type != "" {
		filters = append(filters, Eq(attrType, f.Type))
	}
	if f.Since > 0 {
		filters = append(filters, Ge(attrAt, f.Since))
	}
	switch len(filters) {
	case 1:
		q.Filter = &filters[0]
	case 2:
		q.Filter = condPtr(And(filters...))
	}
	return listPage(ctx, l, q, EventPrefix, page, eventRecord.event, "list events of "+projectID)
}

// pageLimit applies the domain's bounds to a store-level request (the service has checked them).
func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return shiplog.DefaultPageLimit
	case limit > shiplog.MaxPageLimit:
		return shiplog.MaxPageLimit
	}
	return limit
}

// listPage reads one page of q from a cursor (which must name a key under prefix): it asks for
// one item more than the page holds, so that the last page never carries a cursor and reading
// the newest 20 reads at most 21 items however long the list.
func listPage[R, T any](ctx context.Context, l *Ledger, q Query, prefix string, page shiplog.PageRequest, conv func(R) T, what string) (shiplog.Page[T], error) {
	after, err := decodeCursor(q, prefix, page.Cursor)
	if err != nil {
		return shiplog.Page[T]{}, err
	}
	limit := pageLimit(page.Limit)
	if after != nil && q.Desc && q.From != "" && after.SK < q.From {
		// A cursor of a longer list (events without since) below this one's range: nothing
		// follows it here. (DynamoDB refuses a start key outside the key condition.)
		return shiplog.Page[T]{Items: []T{}}, nil
	}
	q.After, q.Limit = after, limit+1
	items, err := l.d.Query(ctx, q)
	if err != nil {
		return shiplog.Page[T]{}, fmt.Errorf("%s: %w", what, err)
	}
	out := shiplog.Page[T]{Items: make([]T, 0, min(len(items), limit))}
	if len(items) > limit {
		items = items[:limit]
		out.NextCursor = encodeCursor(q, items[limit-1].Key)
	}
	for _, it := range items {
		var rec R
		if err := it.Decode(&rec); err != nil {
			return shiplog.Page[T]{}, fmt.Errorf("%s: %w", what, err)
		}
		out.Items = append(out.Items, conv(rec))
	}
	return out, nil
}

func sortedUnique(ss []string) []string {
	out := slices.Clone(ss)
	sort.Strings(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
