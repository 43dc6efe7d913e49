package shiplog_test

import (
	"context"
	"testing"

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
