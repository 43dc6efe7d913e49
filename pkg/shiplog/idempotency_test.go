package shiplog_test

import (
	"errors"
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
