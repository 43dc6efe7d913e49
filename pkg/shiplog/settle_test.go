package shiplog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// takeoverStore runs a hook before its nth environment write. It embeds only shiplog.Store, so
// the deploy writes its parameters between its record and its settle, as on DynamoDB.
type takeoverStore struct {
	shiplog.Store
	writes, at int
	hook       func()
}

func (s *takeoverStore) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	s.writes++
	if s.writes == s.at && s.hook != nil {
		s.hook()
	}
	return s.Store.WriteEnvironment(ctx, w)
}

// A deploy whose lock expired while it wrote its parameters, and whose environment another
// deploy took over meanwhile, answers Conflict when it settles: it does not start over and
// record itself a second time.
func TestSettleAfterTakeoverRecordsOnce(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1, r2 := h.createRelease(t, 1), h.createRelease(t, 2)
	store := &takeoverStore{Store: h.store, at: 2}
	h.svc.Store = store
	other := &shiplog.Service{Params: h.svc.Params, Store: h.store, Now: h.svc.Now, NewID: h.svc.NewID, Sleep: h.svc.Sleep,
		LockTTL: h.svc.LockTTL, DeployWait: h.svc.DeployWait, Log: h.svc.Log}
	store.hook = func() {
		// The first deploy's lock has expired: another deploy takes the environment over.
		h.clock.Advance(h.svc.LockTTL + 1)
		if _, err := other.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage"}); err != nil {
			t.Errorf("deploy taking over: %v", err)
		}
	}
	_, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "deploy settling after a takeover", err, shiplog.Conflict, "another deployment took over")
	page, err := h.svc.Deployments(ctx, "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 {
		var ids []string
		for _, d := range page.Items {
			ids = append(ids, d.ID+" of "+d.ReleaseID)
		}
		t.Fatalf("deployments of stage: got %d (%v), want 2: the one that lost its lock, once, and the takeover", len(page.Items), ids)
	}
	if page.Items[0].ReleaseID != r2.ID {
		t.Errorf("newest deployment of stage: release %s, want the takeover's %s", page.Items[0].ReleaseID, r2.ID)
	}
}

// busyOnceStore cancels the first record it is asked to write as a concurrent transaction on other
// items would (the environment's version does not move), and keeps the claimant of each record.
type busyOnceStore struct {
	shiplog.Store
	cancelled bool
	claimants []string
}

func (s *busyOnceStore) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	if w.Deployment != nil {
		s.claimants = append(s.claimants, w.Claimant)
		if !s.cancelled {
			s.cancelled = true
			return fmt.Errorf("%w: %w", shiplog.ErrVersionConflict, shiplog.ErrItemsBusy)
		}
	}
	return s.Store.WriteEnvironment(ctx, w)
}

// A record cancelled by a transaction on other items (the environment's version did not move)
// is tried again at once, not after waiting for the version to move; the retry names a claimant.
func TestDeployRetriesABusyRecordAtOnce(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r := h.createRelease(t, 1)
	store := &busyOnceStore{Store: h.store}
	h.svc.Store = store
	start := h.clock.Now()
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage"}); err != nil {
		t.Fatal(err)
	}
	if waited := h.clock.Now().Sub(start); waited >= 100*time.Millisecond {
		t.Errorf("deploy after a busy record waited %s, want one short backoff (the version was never going to move)", waited)
	}
	if len(store.claimants) != 2 || store.claimants[0] != "" || store.claimants[1] == "" {
		t.Errorf("claimants of the record's attempts: got %q, want none on the first and one on the retry", store.claimants)
	}
}
