package shiplogtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// faultyStore fails the fail-th write of environments it is asked for (0: none), as a store
// that lost its connection, or a process killed, mid-request would, and counts the writes.
type faultyStore struct {
	shiplog.Store
	mu     sync.Mutex
	writes int
	fail   int
}

var errFault = shiplog.Errorf(shiplog.Unavailable, "injected fault")

func (f *faultyStore) fault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.writes == f.fail {
		return errFault
	}
	return nil
}

func (f *faultyStore) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Store.WriteEnvironment(ctx, w)
}

func (f *faultyStore) WriteEnvironments(ctx context.Context, ws []shiplog.EnvironmentWrite) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Store.WriteEnvironments(ctx, ws)
}

// holders returns the environments of a project whose states hold the freeze.
func holders(t *testing.T, s shiplog.Store, projectID, freezeID string) []string {
	t.Helper()
	var out []string
	for _, st := range states(t, s, projectID) {
		for _, f := range st.Freezes {
			if f.ID == freezeID {
				out = append(out, st.Environment.ID)
			}
		}
	}
	return out
}

// A freeze over several environments is one write: a fault at any write leaves it on all of
// them or on none, with its events or none, and the listing says where it is.
func testFreezeIsOneWrite(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p", "stage", "prod", "dev")
	putProjects(t, s, p)
	now := time.Now().Unix()
	in := shiplog.FreezeInput{ProjectID: p.ID, ID: "week", StartsAt: now, EndsAt: now + 3600, Reason: "release week", RequestedBy: bob}
	for _, fail := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("fault at write %d", fail), func(t *testing.T) {
			fs := &faultyStore{Store: s, fail: fail}
			svc := shiplog.NewService(NewMemoryParameters(), fs, nil, nil)
			in := in
			in.ID = fmt.Sprintf("week-%d", fail)
			_, err := svc.PutFreeze(ctx, in)
			got := holders(t, s, p.ID, in.ID)
			if len(got) != 0 && len(got) != len(p.Environments) {
				t.Errorf("freeze after a fault at write %d (answered %v): on %v, want on all of %v or none", fail, err, got, p.EnvironmentIDs())
			}
			if (err == nil) != (len(got) > 0) {
				t.Errorf("freeze after a fault at write %d: answered %v, yet on %v", fail, err, got)
			}
			events := 0
			for _, ev := range allEvents(t, s, p.ID, shiplog.EventFilter{}, 100) {
				if ev.Type == shiplog.EventFreezeSet && ev.Detail["freeze_id"] == in.ID {
					events++
				}
			}
			if events != len(got) {
				t.Errorf("freeze after a fault at write %d: %d freeze.set events for %d environments holding it", fail, events, len(got))
			}
			if err == nil && fs.writes != 1 {
				t.Errorf("freeze over %d environments: %d writes, want 1", len(p.Environments), fs.writes)
			}
		})
	}
}

// The listing of freezes says exactly which environments hold each: a freeze of every
// environment that only some hold (written by an older shiplog that was killed mid-write, or
// made before an environment was registered) lists those.
func testFreezeListingIsExact(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p", "stage", "prod")
	putProjects(t, s, p)
	svc := shiplog.NewService(NewMemoryParameters(), s, nil, nil)
	now := time.Now().Unix()
	all := shiplog.Freeze{ID: "all", Environments: []string{}, StartsAt: now, EndsAt: now + 3600, Reason: "all", CreatedBy: bob, CreatedAt: now}
	e, _ := p.Environment("stage")
	st := shiplog.EnvironmentState{ProjectID: p.ID, Environment: e, Images: map[string]string{}, Freezes: []shiplog.Freeze{all}}
	mustOK(t, "WriteEnvironment", s.WriteEnvironment(ctx, (*shiplog.EnvironmentState)(nil).Next(st)))
	got, err := svc.Freezes(ctx, p.ID)
	mustOK(t, "Freezes", err)
	if len(got) != 1 || strings.Join(got[0].Environments, ",") != "stage" {
		t.Errorf("Freezes with a freeze of every environment held by stage only: got %+v, want it on [stage]", got)
	}
	_, err = svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: p.ID, ID: "all", StartsAt: now, EndsAt: now + 3600, Reason: "all", RequestedBy: bob})
	mustOK(t, "PutFreeze", err)
	got, err = svc.Freezes(ctx, p.ID)
	mustOK(t, "Freezes", err)
	if len(got) != 1 || len(got[0].Environments) != 0 {
		t.Errorf("Freezes after the freeze was written again: got %+v, want it on every environment ([])", got)
	}
}

// An environment holds at most MaxFreezesPerEnvironment freezes, with reasons of up to
// MaxDescriptionLength bytes, so that its state stays well inside an item's size: at the bound
// it still takes locks; past it a freeze is refused with a Conflict that names the bound, and
// nothing is written.
func testFreezeBound(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p", "stage", "prod")
	putProjects(t, s, p)
	svc := shiplog.NewService(NewMemoryParameters(), s, nil, nil)
	now := time.Now().Unix()
	reason := strings.Repeat("r", shiplog.MaxDescriptionLength)
	for i := range shiplog.MaxFreezesPerEnvironment {
		_, err := svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: p.ID, ID: fmt.Sprintf("f%03d", i), StartsAt: now + 60, EndsAt: now + 3600, Reason: reason, RequestedBy: bob})
		mustOK(t, fmt.Sprintf("freeze %d", i), err)
	}
	_, err := svc.Lock(ctx, shiplog.LockInput{ProjectID: p.ID, Environment: "prod", Reason: reason, RequestedBy: bob})
	mustOK(t, "Lock with the most freezes", err)
	_, err = svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: p.ID, ID: "one-more", StartsAt: now + 60, EndsAt: now + 3600, Reason: reason, RequestedBy: bob})
	wantKind(t, "a freeze past the bound", err, shiplog.Conflict)
	if err != nil && !strings.Contains(err.Error(), "MaxFreezesPerEnvironment") {
		t.Errorf("a freeze past the bound: %q does not name the bound", err)
	}
	if got := holders(t, s, p.ID, "one-more"); len(got) != 0 {
		t.Errorf("the refused freeze is on %v", got)
	}
	// Replacing a freeze an environment holds is no new freeze.
	_, err = svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: p.ID, ID: "f000", StartsAt: now + 60, EndsAt: now + 7200, Reason: "longer", RequestedBy: bob})
	mustOK(t, "replacing a freeze at the bound", err)
}
