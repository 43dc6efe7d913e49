package shiplogtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// keyedRelease is the write that creates release r with the idempotency key k, recorded at the
// release's time.
func keyedRelease(r shiplog.Release, k string) shiplog.ReleaseWrite {
	return shiplog.ReleaseWrite{Release: r, Event: releaseEvent(r), Key: &shiplog.ReleaseKey{
		ProjectID: r.ProjectID, Key: k, Hash: "hash-of-" + r.ID, ReleaseID: r.ID, At: r.CreatedAt,
	}}
}

// An idempotency key is recorded with its release, is the project's own, and refuses a second
// release while it lives; an expired one is replaced. A refused write writes nothing.
func testCreateReleaseKeys(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p, q := newProject("p"), newProject("q")
	putProjects(t, s, p, q)

	_, err := s.GetReleaseKey(ctx, "p", "ci-1")
	wantErr(t, "GetReleaseKey before any", err, shiplog.ErrReleaseKeyNotFound)

	r1 := newRelease(p, 1)
	w1 := keyedRelease(r1, "ci-1")
	mustOK(t, "CreateRelease with a key", s.CreateRelease(ctx, w1))
	got, err := s.GetReleaseKey(ctx, "p", "ci-1")
	mustOK(t, "GetReleaseKey", err)
	diff(t, "GetReleaseKey", got, *w1.Key)
	diff(t, "release created with a key", getRelease(t, s, "p", r1.ID), r1)
	_, err = s.GetReleaseKey(ctx, "q", "ci-1")
	wantErr(t, "GetReleaseKey of another project", err, shiplog.ErrReleaseKeyNotFound)

	// The key, live until KeyTTL after it was recorded, refuses another release.
	before := takeSnapshot(t, s, "p")
	r2 := newRelease(p, 2)
	w2 := keyedRelease(r2, "ci-1")
	w2.Key.At = r1.CreatedAt + int64(shiplog.KeyTTL/time.Second) - 1
	err = s.CreateRelease(ctx, w2)
	wantErr(t, "CreateRelease with a live key", err, shiplog.ErrReleaseKeyExists)
	sameSnapshot(t, "after a release refused for its key", takeSnapshot(t, s, "p"), before)
	_, err = s.GetRelease(ctx, "p", r2.ID)
	wantErr(t, "GetRelease of the release refused for its key", err, shiplog.ErrReleaseNotFound)
	got, err = s.GetReleaseKey(ctx, "p", "ci-1")
	mustOK(t, "GetReleaseKey after the refusal", err)
	diff(t, "GetReleaseKey after the refusal", got, *w1.Key)

	// The same key in another project is that project's.
	rq := newRelease(q, 3)
	mustOK(t, "CreateRelease with the key in another project", s.CreateRelease(ctx, keyedRelease(rq, "ci-1")))

	// A release whose id exists records no key.
	again := keyedRelease(r1, "ci-2")
	wantKind(t, "CreateRelease of an existing id with a new key", s.CreateRelease(ctx, again), shiplog.Conflict)
	_, err = s.GetReleaseKey(ctx, "p", "ci-2")
	wantErr(t, "GetReleaseKey of a refused release's key", err, shiplog.ErrReleaseKeyNotFound)

	// A key of another project, or of another release, is a caller's mistake: nothing is written.
	bad := keyedRelease(newRelease(p, 4), "ci-4")
	bad.Key.ProjectID = "q"
	wantKind(t, "CreateRelease with a key of another project", s.CreateRelease(ctx, bad), shiplog.Invalid)
	bad = keyedRelease(newRelease(p, 4), "ci-4")
	bad.Key.ReleaseID = r1.ID
	wantKind(t, "CreateRelease with a key of another release", s.CreateRelease(ctx, bad), shiplog.Invalid)
	_, err = s.GetRelease(ctx, "p", releaseID(4))
	wantErr(t, "GetRelease of a release refused for a bad key", err, shiplog.ErrReleaseNotFound)

	// Once expired (KeyTTL after it was recorded), the key is absent: the next release takes it.
	w2.Key.At = w1.Key.ExpiresAt()
	mustOK(t, "CreateRelease with an expired key", s.CreateRelease(ctx, w2))
	got, err = s.GetReleaseKey(ctx, "p", "ci-1")
	mustOK(t, "GetReleaseKey after it was taken again", err)
	diff(t, "GetReleaseKey after it was taken again", got, *w2.Key)
	diff(t, "release created with an expired key", getRelease(t, s, "p", r2.ID), r2)
	evs := allEvents(t, s, "p", shiplog.EventFilter{Type: shiplog.EventReleaseCreated}, shiplog.MaxPageLimit)
	if len(evs) != 2 {
		t.Errorf("release events of p: got %d, want 2 (one per release created)", len(evs))
	}
}

// concurrentKeyedReleases is how many creates with one key the concurrency tests start at once.
const concurrentKeyedReleases = 16

// Writes of distinct releases with one key, all at once: exactly one lands, with its key and its
// event; the others are refused and write nothing.
func testConcurrentReleaseKey(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	writes := make([]shiplog.ReleaseWrite, concurrentKeyedReleases)
	for i := range writes {
		writes[i] = keyedRelease(newRelease(p, 1+i), "once")
		writes[i].Key.At = writes[0].Release.CreatedAt
	}
	errs := make([]error, len(writes))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			<-start
			errs[i] = s.CreateRelease(ctx, writes[i])
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("concurrent releases with one key: both %d and %d were created", winner, i)
		case err == nil:
			winner = i
		case errors.Is(err, shiplog.ErrReleaseKeyExists), shiplog.IsKind(err, shiplog.Conflict), shiplog.IsKind(err, shiplog.Unavailable):
		default:
			t.Errorf("concurrent release %d with one key: got %v, want nil, ErrReleaseKeyExists, Conflict or Unavailable", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("concurrent releases with one key: none was created (%v)", errors.Join(errs...))
	}
	w := writes[winner]
	rels, _ := allReleases(t, s, "p", shiplog.MaxPageLimit)
	diff(t, "releases after concurrent creates with one key", rels, []shiplog.Release{w.Release})
	got, err := s.GetReleaseKey(ctx, "p", "once")
	mustOK(t, "GetReleaseKey", err)
	diff(t, "key after concurrent creates", got, *w.Key)
	latest, err := s.LatestRelease(ctx, "p")
	mustOK(t, "LatestRelease", err)
	if latest.ID != w.Release.ID {
		t.Errorf("LatestRelease after concurrent creates with one key: got %s, want the one created, %s", latest.ID, w.Release.ID)
	}
	evs := allEvents(t, s, "p", shiplog.EventFilter{Type: shiplog.EventReleaseCreated}, shiplog.MaxPageLimit)
	diff(t, "release events after concurrent creates with one key", evs, []shiplog.Event{w.Event})
}

// Creates with one key through the Service, all at once: every one answers the one release that
// was created, and the log has its one event.
func testConcurrentCreateReleaseWithOneKey(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	params := NewMemoryParameters()
	images := map[string]string{}
	for _, r := range p.ImageRepositories {
		for _, svc := range r.Services {
			images[shiplog.ParameterName("p", shiplog.LatestLabel, svc)] = imageURI(r.ID, 1)
		}
	}
	mustOK(t, "PutParameters", params.PutParameters(ctx, images))
	svc := shiplog.NewService(params, s, nil, nil)
	in := shiplog.CreateReleaseInput{ProjectID: "p", Description: "build 7", RequestedBy: bob, IdempotencyKey: "build-7"}

	results := make([]shiplog.Release, concurrentKeyedReleases)
	errs := make([]error, concurrentKeyedReleases)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrentKeyedReleases {
		wg.Go(func() {
			<-start
			results[i], errs[i] = svc.CreateRelease(ctx, in)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("concurrent create-release %d with one key", i), err)
	}
	rels, _ := allReleases(t, s, "p", shiplog.MaxPageLimit)
	if len(rels) != 1 {
		t.Fatalf("releases after %d concurrent creates with one key: got %d, want 1", concurrentKeyedReleases, len(rels))
	}
	for i, r := range results {
		diff(t, fmt.Sprintf("answer %d", i), r, rels[0])
	}
	evs := allEvents(t, s, "p", shiplog.EventFilter{Type: shiplog.EventReleaseCreated}, shiplog.MaxPageLimit)
	if len(evs) != 1 || evs[0].ReleaseID != rels[0].ID {
		t.Errorf("release events after concurrent creates with one key: got %+v, want one, of %s", evs, rels[0].ID)
	}
	// Another request with the key is refused, and writes nothing.
	before := takeSnapshot(t, s, "p")
	other := in
	other.Description = "build 8"
	_, err := svc.CreateRelease(ctx, other)
	wantKind(t, "create-release with the key and another request", err, shiplog.Conflict)
	sameSnapshot(t, "after the key with another request", takeSnapshot(t, s, "p"), before)
}
