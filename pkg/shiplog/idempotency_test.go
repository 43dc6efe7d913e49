package shiplog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestDeployIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	in := shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "stage", Description: "ci run 7", RequestedBy: alice, IdempotencyKey: "ci-run-7"}
	first, err := h.svc.Deploy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	h.createRelease(t, 2) // "latest" now names another release: the retry still answers the original

	before := h.snapshot(t, "storage")
	again, err := h.svc.Deploy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "retry", again, first)
	if again.Release.ID != r1.ID {
		t.Errorf("retry: got release %s, want the original's %s", again.Release.ID, r1.ID)
	}
	h.wantUnchanged(t, "a retry", "storage", before)

	other := in
	other.Description = "another run"
	_, err = h.svc.Deploy(ctx, other)
	wantError(t, "the key with another request", err, shiplog.Conflict, `"ci-run-7"`, "another request")
	h.wantUnchanged(t, "the key with another request", "storage", before)
	bad := in
	bad.IdempotencyKey = "a b"
	_, err = h.svc.Deploy(ctx, bad)
	wantError(t, "a bad key", err, shiplog.Invalid, "idempotency_key")

	// A key is remembered for KeyTTL; after that it is a new request.
	h.clock.Advance(shiplog.KeyTTL)
	later, err := h.svc.Deploy(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if later.Deployment.ID == first.Deployment.ID {
		t.Errorf("deploy a day later with the same key: got the original deployment %s, want a new one", first.Deployment.ID)
	}
}

// TestDeployIdempotencyKeysKeptByTime: a deploy's key is remembered for KeyTTL however many keyed
// deploys follow it. An environment holds at most MaxLiveDeployKeys live keys (its state is one
// item, of bounded size): a keyed deploy past that is refused and writes nothing, rather than
// forgetting a live key, whose retry would then deploy a second time.
func TestDeployIdempotencyKeysKeptByTime(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createRelease(t, 1)
	in := func(n int) shiplog.DeployInput {
		return shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "stage", RequestedBy: alice,
			Description: fmt.Sprintf("ci run %d", n), IdempotencyKey: fmt.Sprintf("ci-run-%d", n)}
	}
	first, err := h.svc.Deploy(ctx, in(0))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < shiplog.MaxLiveDeployKeys; n++ {
		h.clock.Advance(time.Second)
		if _, err := h.svc.Deploy(ctx, in(n)); err != nil {
			t.Fatalf("keyed deploy %d: %v", n, err)
		}
	}

	before := h.snapshot(t, "storage")
	_, err = h.svc.Deploy(ctx, in(shiplog.MaxLiveDeployKeys))
	wantError(t, "a keyed deploy past the live keys' bound", err, shiplog.Conflict, "storage/stage",
		fmt.Sprint(shiplog.MaxLiveDeployKeys), "idempotency keys")
	h.wantUnchanged(t, "a refused keyed deploy", "storage", before)
	again, err := h.svc.Deploy(ctx, in(0))
	if err != nil {
		t.Fatal(err)
	}
	if again.Deployment.ID != first.Deployment.ID {
		t.Errorf("retry of the first key after %d keyed deploys: got deployment %s, want the original %s",
			shiplog.MaxLiveDeployKeys, again.Deployment.ID, first.Deployment.ID)
	}
	h.wantUnchanged(t, "a retry of the first key", "storage", before)
	// A deploy without a key is not held back by the keys.
	plain := in(-1)
	plain.IdempotencyKey = ""
	if _, err := h.svc.Deploy(ctx, plain); err != nil {
		t.Fatalf("a deploy without a key: %v", err)
	}

	// Once the first key is a day old it is forgotten, and its place is free.
	h.clock.Advance(shiplog.KeyTTL - time.Duration(shiplog.MaxLiveDeployKeys-1)*time.Second)
	if _, err := h.svc.Deploy(ctx, in(shiplog.MaxLiveDeployKeys)); err != nil {
		t.Fatalf("a keyed deploy once the oldest key expired: %v", err)
	}
	// The first key is forgotten, so its retry is a new request, which needs a place too: the
	// second key's, a second later.
	h.clock.Advance(time.Second)
	later, err := h.svc.Deploy(ctx, in(0))
	if err != nil {
		t.Fatal(err)
	}
	if later.Deployment.ID == first.Deployment.ID {
		t.Errorf("the first key a day later: got the original deployment %s, want a new one", first.Deployment.ID)
	}
}

// Concurrent calls with one key record once, and all answer that deployment. They run on the
// real clock: the harness's clock, which each wait advances, would make 8 waiters time out.
func TestDeployIdempotencyKeyConcurrent(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createRelease(t, 1)
	svc := shiplog.NewService(h.params, h.store, nil, nil)
	in := shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "prod", IdempotencyKey: "once"}
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.Deploy(ctx, in)
			ids[i], errs[i] = res.Deployment.ID, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent deploys with one key: %v", err)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("deployment ids: got %v, want one id", ids)
			break
		}
	}
	deps, err := h.store.ListDeployments(ctx, "storage", shiplog.DeploymentFilter{Environment: "prod"}, shiplog.PageRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 1 {
		t.Errorf("deployments recorded: got %d, want 1", len(deps.Items))
	}
}

func TestRollbackIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	r2 := h.createRelease(t, 2)
	h.deploy(t, r1.ID, "stage")
	h.deploy(t, r2.ID, "stage")
	in := shiplog.RollbackInput{ProjectID: "storage", Environment: "stage", Reason: "bad", RequestedBy: alice, IdempotencyKey: "rb-1"}
	first, err := h.svc.Rollback(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	before := h.snapshot(t, "storage")
	// Without the key, this would roll back the rollback; with it, it is the same request.
	again, err := h.svc.Rollback(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "retried rollback", again, first)
	h.wantUnchanged(t, "a retried rollback", "storage", before)
}

// A retry after the original failed to write its parameters runs again and finishes the job.
func TestDeployIdempotencyKeyAfterFailedWrites(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createRelease(t, 1)
	in := shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "stage", IdempotencyKey: "k"}
	h.params.setFail(errors.New("throttled"))
	_, err := h.svc.Deploy(ctx, in)
	wantError(t, "Deploy with failing writes", err, shiplog.Unavailable)
	h.params.setFail(nil)
	if _, err := h.svc.Deploy(ctx, in); err != nil {
		t.Fatal(err)
	}
	states, _ := h.store.EnvironmentStates(ctx, "storage")
	if len(states[0].Pending) != 0 || len(h.paramsUnder(t, "storage", "stage")) != len(storageServices) {
		t.Errorf("after the retry: state %+v, parameters %v; want every parameter written", states[0], h.paramsUnder(t, "storage", "stage"))
	}
}

// The keys a state keeps are bookkeeping: what callers read of an environment leaves them out.
func TestEnvironmentsHideIdempotencyKeys(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.createRelease(t, 1)
	in := shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "stage", RequestedBy: alice, IdempotencyKey: "ci-run-8"}
	if _, err := h.svc.Deploy(ctx, in); err != nil {
		t.Fatal(err)
	}
	states, err := h.store.EnvironmentStates(ctx, "storage")
	if err != nil || len(states) != 1 || len(states[0].Requests) != 1 {
		t.Fatalf("stored state: got %+v, %v; want one state holding the key", states, err)
	}
	envs, err := h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if e.Current != nil && e.Current.Requests != nil {
			t.Errorf("Environments: %s shows the idempotency keys %+v", e.Environment.ID, e.Current.Requests)
		}
	}
}

// A create-release retried with its key answers the original release, as it now stands, and
// writes nothing; another request with the key is refused, before anything is registered.
func TestCreateReleaseIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.seedLabel(t, "latest", 1)
	project, err := h.svc.Project(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	in := shiplog.CreateReleaseInput{ProjectID: "storage", Description: "ci run 7", RequestedBy: alice, Register: &project, IdempotencyKey: "0123abc"}
	first, err := h.svc.CreateRelease(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	h.seedLabel(t, "latest", 2) // a new release would take other images: the retry still answers the original

	before, beforeEvents := h.snapshot(t, "storage"), h.events(t, "storage")
	wantUnchanged := func(what string) {
		t.Helper()
		h.wantUnchanged(t, what, "storage", before)
		diff(t, what+": events", h.events(t, "storage"), beforeEvents)
	}
	again, err := h.svc.CreateRelease(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "retry", again, first)
	wantUnchanged("a retry")
	// The label defaulted is the label named.
	named := in
	named.Label = shiplog.LatestLabel
	if again, err := h.svc.CreateRelease(ctx, named); err != nil || again.ID != first.ID {
		t.Errorf("retry naming the default label: got release %s, %v; want the original, %s", again.ID, err, first.ID)
	}
	wantUnchanged("a retry naming the default label")

	other := in
	other.Description = "ci run 8"
	_, err = h.svc.CreateRelease(ctx, other)
	wantError(t, "the key with another request", err, shiplog.Conflict, `"0123abc"`, "another request", first.ID)
	wantUnchanged("the key with another request")
	// Another registration with the key is refused before it is registered.
	changed := project
	changed.Environments = append(slices.Clone(project.Environments), shiplog.Environment{ID: "qa", Name: "QA"})
	other = in
	other.Register = &changed
	_, err = h.svc.CreateRelease(ctx, other)
	wantError(t, "the key with another registration", err, shiplog.Conflict, "another request")
	wantUnchanged("the key with another registration")
	if got, _ := h.svc.Project(ctx, "storage"); len(got.Environments) != len(project.Environments) {
		t.Errorf("project after the key with another registration: environments %v, want %v", got.EnvironmentIDs(), project.EnvironmentIDs())
	}
	bad := in
	bad.IdempotencyKey = "a b"
	_, err = h.svc.CreateRelease(ctx, bad)
	wantError(t, "a bad key", err, shiplog.Invalid, "idempotency_key")
	wantUnchanged("a bad key")

	// A retry after the release was deployed answers it as it now stands.
	h.deploy(t, first.ID, "stage")
	again, err = h.svc.CreateRelease(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || len(again.Deployments) != 1 || again.DeploymentCount != 1 {
		t.Errorf("retry after a deploy: got release %s with %d deployments (count %d), want %s with its one", again.ID, len(again.Deployments), again.DeploymentCount, first.ID)
	}

	// A key is remembered for KeyTTL; after that it is a new request.
	h.clock.Advance(shiplog.KeyTTL)
	later, err := h.svc.CreateRelease(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if later.ID == first.ID {
		t.Errorf("create-release a day later with the same key: got the original release %s, want a new one", first.ID)
	}
}

// raceStore makes another write of a release, with the same key, land just before the first
// CreateRelease, or refuses that CreateRelease as a transaction conflict without writing.
type raceStore struct {
	shiplog.Store
	before func(w shiplog.ReleaseWrite) error
}

func (s *raceStore) CreateRelease(ctx context.Context, w shiplog.ReleaseWrite) error {
	if hook := s.before; hook != nil {
		s.before = nil
		if err := hook(w); err != nil {
			return err
		}
	}
	return s.Store.CreateRelease(ctx, w)
}

// A create-release whose key another request records between its check and its write answers
// that request's release (or Conflict, if it was another request); one refused for a
// transaction conflict writes again.
func TestCreateReleaseIdempotencyKeyRace(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.seedLabel(t, "latest", 1)
	in := shiplog.CreateReleaseInput{ProjectID: "storage", Description: "build 9", RequestedBy: alice, IdempotencyKey: "build-9"}
	var theirs shiplog.Release
	store := &raceStore{Store: h.store}
	h.svc.Store = store
	other := shiplog.NewService(h.params, h.store, nil, nil)
	n := 0
	other.Now, other.NewID = h.svc.Now, func() string { n++; return fmt.Sprintf("01OTHER%019d", n) }
	store.before = func(shiplog.ReleaseWrite) (err error) {
		theirs, err = other.CreateRelease(ctx, in)
		return err
	}
	got, err := h.svc.CreateRelease(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "the answer of the request that lost the race", got, theirs)
	if rels := h.stored(t, "storage").Releases; len(rels) != 1 {
		t.Errorf("releases after the race: got %d, want 1", len(rels))
	}

	in.IdempotencyKey, in.Description = "build-10", "build 10"
	store.before = func(shiplog.ReleaseWrite) error {
		o := in
		o.Description = "another build"
		_, err := other.CreateRelease(ctx, o)
		return err
	}
	_, err = h.svc.CreateRelease(ctx, in)
	wantError(t, "losing the race to another request with the key", err, shiplog.Conflict, `"build-10"`, "another request")

	in.IdempotencyKey, in.Description = "build-11", "build 11"
	sleeps := h.sleeps
	store.before = func(shiplog.ReleaseWrite) error {
		return shiplog.Errorf(shiplog.Conflict, "a concurrent change to the same items won; retry")
	}
	got, err = h.svc.CreateRelease(ctx, in)
	if err != nil {
		t.Fatalf("create-release after a transaction conflict: %v", err)
	}
	if h.sleeps == sleeps {
		t.Errorf("create-release after a transaction conflict: wrote again without waiting")
	}
	if r, err := h.svc.Release(ctx, "storage", got.ID); err != nil || r.Description != "build 11" {
		t.Errorf("release after a transaction conflict: got %+v, %v", r, err)
	}
}

// Concurrent create-releases with one key create one release, and all answer it.
func TestCreateReleaseIdempotencyKeyConcurrent(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.seedLabel(t, "latest", 1)
	svc := shiplog.NewService(h.params, h.store, nil, nil)
	in := shiplog.CreateReleaseInput{ProjectID: "storage", IdempotencyKey: "once"}
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := svc.CreateRelease(ctx, in)
			ids[i], errs[i] = r.ID, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent create-releases with one key: %v", err)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("release ids: got %v, want one id", ids)
			break
		}
	}
	if rels := h.stored(t, "storage").Releases; len(rels) != 1 {
		t.Errorf("releases recorded: got %d, want 1", len(rels))
	}
}
