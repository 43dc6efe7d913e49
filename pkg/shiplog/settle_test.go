package shiplog_test

import (
	"context"
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

// lostOnceStore refuses the first record it is asked to write as a store does to a writer that
// lost the race (nothing written, the version unchanged), and keeps the Retry of each record.
type lostOnceStore struct {
	shiplog.Store
	lost    bool
	retries []string
}

func (s *lostOnceStore) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	if w.Deployment != nil {
		s.retries = append(s.retries, w.Retry)
		if !s.lost {
			s.lost = true
			return shiplog.ErrVersionConflict
		}
	}
	return s.Store.WriteEnvironment(ctx, w)
}

// A record that lost a race whose winner never shows (the version does not move) is tried again
// once raceWait has passed, and the retry names the request, so that a store may make the
// writers of one version take turns.
func TestDeployRetryNamesTheRequest(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r := h.createRelease(t, 1)
	store := &lostOnceStore{Store: h.store}
	h.svc.Store = store
	start := h.clock.Now()
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage"}); err != nil {
		t.Fatal(err)
	}
	if waited := h.clock.Now().Sub(start); waited < time.Second || waited >= 2*time.Second {
		t.Errorf("deploy after a lost record whose version never moved waited %s, want just over a second (raceWait)", waited)
	}
	if len(store.retries) != 2 || store.retries[0] != "" || store.retries[1] == "" {
		t.Errorf("Retry of the record's attempts: got %q, want none on the first and the request on the retry", store.retries)
	}
}
