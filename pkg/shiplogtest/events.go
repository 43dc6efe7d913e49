package shiplogtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Event fixtures. Event ids are ULIDs of the event's time, as the Service makes them, so that
// a store may bound a since by shiplog.EventIDFloor.

var (
	eventMu      sync.Mutex
	eventEntropy = ulid.Monotonic(rand.Reader, 0)
)

// newEvent returns an event of project projectID at Unix second at, with a fresh id that sorts
// after every id made before for the same second.
func newEvent(projectID, typ string, at int64) shiplog.Event {
	eventMu.Lock()
	defer eventMu.Unlock()
	id := ulid.MustNew(uint64(at)*1000, eventEntropy)
	return shiplog.Event{ID: id.String(), Type: typ, At: at, By: alice, ProjectID: projectID}
}

func projectEvent(p shiplog.Project) shiplog.Event {
	ev := newEvent(p.ID, shiplog.EventProjectRegistered, 1_800_000_000)
	ev.Detail = map[string]string{"name": p.Name}
	return ev
}

func releaseEvent(r shiplog.Release) shiplog.Event {
	ev := newEvent(r.ProjectID, shiplog.EventReleaseCreated, r.CreatedAt)
	ev.ReleaseID = r.ID
	ev.Detail = map[string]string{"label": r.Label, "description": r.Description}
	return ev
}

func pushEvent(rec shiplog.ImageRecord) shiplog.Event {
	ev := newEvent(rec.ProjectID, shiplog.EventImageRecorded, max(rec.PushedAt, 1))
	ev.Service = rec.ServiceID
	ev.By = shiplog.Person{ID: "ecr", Name: "Amazon ECR"}
	ev.Detail = map[string]string{"image": rec.URI}
	return ev
}

// allEvents walks every page of a project's events, checking that each page is one.
func allEvents(t *testing.T, s shiplog.Store, projectID string, f shiplog.EventFilter, limit int) []shiplog.Event {
	t.Helper()
	out := []shiplog.Event{}
	seen := map[string]bool{}
	req := shiplog.PageRequest{Limit: limit}
	for pages := 1; ; pages++ {
		page, err := s.ListEvents(t.Context(), projectID, f, req)
		mustOK(t, fmt.Sprintf("ListEvents %s %+v page %d", projectID, f, pages), err)
		if len(page.Items) > limit {
			t.Fatalf("ListEvents %s page %d: got %d items, want at most %d", projectID, pages, len(page.Items), limit)
		}
		if page.NextCursor != "" && len(page.Items) < limit {
			t.Fatalf("ListEvents %s %+v page %d: got %d items and a next cursor; only a full page has one", projectID, f, pages, len(page.Items))
		}
		for _, ev := range page.Items {
			if seen[ev.ID] {
				t.Fatalf("ListEvents %s page %d: event %s listed twice", projectID, pages, ev.ID)
			}
			seen[ev.ID] = true
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		if pages > 1000 {
			t.Fatalf("ListEvents %s: cursor never ends", projectID)
		}
		req.Cursor = page.NextCursor
	}
}

// newestFirst returns evs in descending id order, as a log lists them.
func newestFirst(evs ...shiplog.Event) []shiplog.Event {
	out := slices.Clone(evs)
	slices.SortFunc(out, func(a, b shiplog.Event) int {
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	return out
}

// testEventsRideWithWrites checks that each write logs its events when it changes what it writes,
// and only then.
func testEventsRideWithWrites(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	want := []shiplog.Event{}
	check := func(what string) {
		t.Helper()
		diff(t, "events after "+what, allEvents(t, s, "p", shiplog.EventFilter{}, 100), newestFirst(want...))
	}
	check("nothing")

	p := newProject("p")
	ev := projectEvent(p)
	mustOK(t, "PutProject", s.PutProject(ctx, p, ev))
	want = append(want, ev)
	check("registering a project")
	mustOK(t, "PutProject unchanged", s.PutProject(ctx, p, projectEvent(p)))
	check("registering the same project again (no change, no event)")
	p.Name = "Project p renamed"
	ev = projectEvent(p)
	mustOK(t, "PutProject changed", s.PutProject(ctx, p, ev))
	want = append(want, ev)
	check("registering a changed project")

	push := func(n int, at int64) shiplog.ImageRecord {
		return shiplog.ImageRecord{ProjectID: "p", ServiceID: "api", URI: imageURI("shared/base", n), PushedAt: at}
	}
	pushes := []struct {
		name   string
		rec    shiplog.ImageRecord
		logged bool
	}{
		{"first push", push(1, 1000), true},
		{"the same push again", push(1, 1000), false},
		{"an older push", push(2, 999), false},
		{"another image at the same time", push(3, 1000), false},
		{"a newer push", push(4, 1001), true},
	}
	for _, st := range pushes {
		ev := pushEvent(st.rec)
		_, err := s.RecordPush(ctx, st.rec, ev)
		mustOK(t, "RecordPush "+st.name, err)
		if st.logged {
			want = append(want, ev)
		}
		check("RecordPush of " + st.name)
	}

	r := newRelease(p, 1)
	ev = releaseEvent(r)
	mustOK(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: ev}))
	want = append(want, ev)
	check("CreateRelease")
	// A release older than the latest one takes the store's other path; its event is logged all
	// the same.
	r0 := newRelease(p, 0)
	ev = releaseEvent(r0)
	mustOK(t, "CreateRelease older", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r0, Event: ev}))
	want = append(want, ev)
	check("CreateRelease of an older release")

	d := newDeployment(p, r, "stage", 1, 0)
	held := newEvent("p", shiplog.EventEnvironmentLocked, d.Deployment.CreatedAt)
	held.Environment = "stage"
	d.Events = append(d.Events, held)
	recordDeployments(t, s, d)
	want = append(want, d.Events...)
	check("recording a deployment with two events")

	// A write of the state alone (a lock) logs its event too.
	lock := d.State
	lock.Lock = &shiplog.EnvironmentLock{Environment: "stage", Reason: "incident", LockedBy: alice, LockedAt: 1_800_000_500}
	w := (&d.State).Next(lock)
	ev = newEvent("p", shiplog.EventEnvironmentLocked, 1_800_000_500)
	ev.Environment, ev.Detail = "stage", map[string]string{"reason": "incident"}
	w.Events = []shiplog.Event{ev}
	mustOK(t, "WriteEnvironment with a lock", s.WriteEnvironment(ctx, w))
	want = append(want, ev)
	check("locking")
	// And a write with no events logs none.
	plain := (&w.State).Next(w.State)
	mustOK(t, "WriteEnvironment without events", s.WriteEnvironment(ctx, plain))
	check("a write without events")

	got, err := s.ListEvents(ctx, "q", shiplog.EventFilter{}, shiplog.PageRequest{Limit: 10})
	mustOK(t, "ListEvents of another project", err)
	if len(got.Items) != 0 || got.NextCursor != "" {
		t.Errorf("ListEvents of another project: got %d events (cursor %q), want none", len(got.Items), got.NextCursor)
	}
}

// testEventsOfRefusedWrites checks that a refused write logs none of its events.
func testEventsOfRefusedWrites(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	d := newDeployment(p, r, "stage", 1, 0)
	recordDeployments(t, s, d)
	before := takeSnapshot(t, s, "p")
	if len(before.Events) != 3 {
		t.Fatalf("events after a registration, a release and a deployment: got %d, want 3", len(before.Events))
	}

	again := r
	again.Description = "again"
	wantKind(t, "CreateRelease of an existing id", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: again, Event: releaseEvent(again)}), shiplog.Conflict)
	sameSnapshot(t, "after a refused CreateRelease", takeSnapshot(t, s, "p"), before)

	stale := newDeployment(p, r, "stage", 2, 0)
	wantErr(t, "WriteEnvironment at a stale version", s.WriteEnvironment(ctx, stale), shiplog.ErrVersionConflict)
	sameSnapshot(t, "after a stale deployment", takeSnapshot(t, s, "p"), before)

	reused := newDeployment(p, r, "prod", 1, 0)
	wantErr(t, "WriteEnvironment reusing a deployment id", s.WriteEnvironment(ctx, reused), shiplog.ErrDeploymentExists)
	sameSnapshot(t, "after a reused deployment id", takeSnapshot(t, s, "p"), before)

	gone := newDeployment(p, newRelease(p, 9), "prod", 3, 0)
	wantErr(t, "WriteEnvironment of a missing release", s.WriteEnvironment(ctx, gone), shiplog.ErrReleaseNotFound)
	sameSnapshot(t, "after a deployment of a missing release", takeSnapshot(t, s, "p"), before)

	bad := statusWrite(d, shiplog.StatusVerified, d.Deployment.CreatedAt+1)
	bad.Statuses[0].DeploymentID = deploymentID(99)
	wantErr(t, "WriteEnvironment with a status of a missing deployment", s.WriteEnvironment(ctx, bad), shiplog.ErrDeploymentNotFound)
	sameSnapshot(t, "after a status update of a missing deployment", takeSnapshot(t, s, "p"), before)

	lockOnly := d.State
	lockOnly.Lock = &shiplog.EnvironmentLock{Environment: "stage", Reason: "x", LockedBy: alice, LockedAt: 1}
	w := shiplog.EnvironmentWrite{State: withVersion(lockOnly, 5), Expect: 4}
	ev := newEvent("p", shiplog.EventEnvironmentLocked, 1_800_000_900)
	ev.Environment = "stage"
	w.Events = []shiplog.Event{ev}
	wantErr(t, "WriteEnvironment of a lock at a stale version", s.WriteEnvironment(ctx, w), shiplog.ErrVersionConflict)
	sameSnapshot(t, "after a stale lock", takeSnapshot(t, s, "p"), before)
}

// eventLog writes a log of seven events of project p at known times (and one of project q) in one
// write, and returns p's, oldest first.
func eventLog(t *testing.T, s shiplog.Store) []shiplog.Event {
	t.Helper()
	p := newProject("p")
	putProjects(t, s, p)
	base := int64(1_800_000_000)
	types := []string{
		shiplog.EventReleaseCreated, shiplog.EventDeploymentRequested, shiplog.EventDeploymentApplied,
		shiplog.EventDeploymentRequested, shiplog.EventDeploymentFailed, shiplog.EventDeploymentRequested,
		shiplog.EventEnvironmentLocked,
	}
	// Two events share a second, as the events of one write do.
	ats := []int64{base + 10, base + 20, base + 20, base + 30, base + 40, base + 50, base + 60}
	var evs []shiplog.Event
	for i, typ := range types {
		ev := newEvent("p", typ, ats[i])
		ev.Environment = "stage"
		ev.DeploymentID = deploymentID(i)
		evs = append(evs, ev)
	}
	st := shiplog.EnvironmentState{ProjectID: "p", Environment: p.Environments[0], Images: map[string]string{}}
	w := (*shiplog.EnvironmentState)(nil).Next(st)
	w.Events = append(slices.Clone(evs), newEvent("q", shiplog.EventReleaseCreated, base+35))
	mustOK(t, "WriteEnvironment with a log", s.WriteEnvironment(t.Context(), w))
	all := allEvents(t, s, "p", shiplog.EventFilter{}, 100)
	return append([]shiplog.Event{all[len(all)-1]}, evs...) // the registration is the oldest
}

func testListEvents(t *testing.T, s shiplog.Store) {
	log := eventLog(t, s) // the registration, then the seven
	evs := log[1:]
	base := int64(1_800_000_000)
	pick := func(is ...int) []shiplog.Event {
		var out []shiplog.Event
		for _, i := range is {
			out = append(out, evs[i])
		}
		return newestFirst(out...)
	}
	tests := []struct {
		name   string
		filter shiplog.EventFilter
		want   []shiplog.Event
	}{
		{"all", shiplog.EventFilter{}, newestFirst(log...)},
		{"one type", shiplog.EventFilter{Type: shiplog.EventDeploymentRequested}, pick(1, 3, 5)},
		{"a type with no event", shiplog.EventFilter{Type: shiplog.EventFreezeSet}, nil},
		{"since a second two events share", shiplog.EventFilter{Since: base + 20}, pick(1, 2, 3, 4, 5, 6)},
		{"since a second with no event", shiplog.EventFilter{Since: base + 21}, pick(3, 4, 5, 6)},
		{"since after the last", shiplog.EventFilter{Since: base + 61}, nil},
		{"since before the first", shiplog.EventFilter{Since: 1}, newestFirst(log...)},
		{"type and since", shiplog.EventFilter{Type: shiplog.EventDeploymentRequested, Since: base + 25}, pick(3, 5)},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 3, 100} {
			got := allEvents(t, s, "p", tt.filter, limit)
			diff(t, fmt.Sprintf("ListEvents %s in pages of %d", tt.name, limit), got, append([]shiplog.Event{}, tt.want...))
		}
	}
	q := allEvents(t, s, "q", shiplog.EventFilter{}, 10)
	if len(q) != 1 || q[0].ProjectID != "q" {
		t.Errorf("ListEvents of project q: got %+v, want its one event", q)
	}
	// A cursor of the whole log, deep below a since's range, used with that since: nothing
	// follows it there (an empty last page), not an error.
	deep, err := s.ListEvents(t.Context(), "p", shiplog.EventFilter{}, shiplog.PageRequest{Limit: len(log) - 1})
	mustOK(t, "ListEvents of all but the oldest", err)
	page, err := s.ListEvents(t.Context(), "p", shiplog.EventFilter{Since: base + 21}, shiplog.PageRequest{Limit: 2, Cursor: deep.NextCursor})
	mustOK(t, "ListEvents since a time, from a cursor below it", err)
	if len(page.Items) != 0 || page.NextCursor != "" {
		t.Errorf("ListEvents since a time, from a cursor below it: got %d events and cursor %q, want none", len(page.Items), page.NextCursor)
	}
}

func testListEventsBadCursor(t *testing.T, s shiplog.Store) {
	eventLog(t, s)
	page, err := s.ListEvents(t.Context(), "p", shiplog.EventFilter{}, shiplog.PageRequest{Limit: 2})
	mustOK(t, "ListEvents", err)
	if page.NextCursor == "" {
		t.Fatal("ListEvents of 8 events in pages of 2: got no cursor")
	}
	bad := []struct{ name, cursor string }{
		{"garbage", "not a cursor"},
		{"base64 of nothing useful", base64.RawURLEncoding.EncodeToString([]byte("{}"))},
		{"another project's", page.NextCursor},
	}
	for _, b := range bad {
		project := "p"
		if b.name == "another project's" {
			project = "q"
		}
		_, err := s.ListEvents(t.Context(), project, shiplog.EventFilter{}, shiplog.PageRequest{Limit: 2, Cursor: b.cursor})
		wantKind(t, "ListEvents with a cursor that is "+b.name, err, shiplog.Invalid)
	}
}
