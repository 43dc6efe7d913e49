package ledger_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

var alice = shiplog.Person{ID: "alice", Name: "Alice"}

// legacyStore is a store holding a deployment recorded before releases listed their deployments
// (no release listing item), as the current deployment of stage.
func legacyStore(t *testing.T) (*memstore.Store, shiplog.EnvironmentState, shiplog.DeploymentRecord) {
	t.Helper()
	s := memstore.New()
	env := shiplog.Environment{ID: "stage", Name: "Stage"}
	r := shiplog.Release{ID: "01HREL0000000000000000001", ProjectID: "p", Images: map[string]string{"a": "x"}, DeploymentCount: 1}
	d := shiplog.DeploymentRecord{ProjectID: "p", ReleaseID: r.ID, Deployment: shiplog.Deployment{ID: "01HDEP0000000000000000001", Environment: env, CreatedAt: 100}}
	st := shiplog.EnvironmentState{ProjectID: "p", Environment: env, ReleaseID: r.ID, DeploymentID: d.ID, Images: r.Images, Version: 3}
	var im ledger.Import
	im.Project(shiplog.Project{ID: "p", Name: "P", Environments: []shiplog.Environment{env}})
	im.Release(r)
	im.Deployment(d, false)
	im.State(st)
	if err := im.Write(t.Context(), s.Driver()); err != nil {
		t.Fatal(err)
	}
	return s, st, d
}

// TestStatusOfALegacyDeployment: a status update of a deployment that has no release listing
// item writes its other listings, the release's verified_in and the state, and creates no
// release listing; one of a deployment not recorded at all is refused, writing nothing.
func TestStatusOfALegacyDeployment(t *testing.T) {
	ctx := t.Context()
	s, st, d := legacyStore(t)
	entry := shiplog.StatusEntry{Status: shiplog.StatusVerified, At: 200, By: alice}
	next := st
	next.Status = shiplog.StatusVerified
	w := st.Next(next)
	w.Statuses = []shiplog.StatusUpdate{{ProjectID: "p", ReleaseID: d.ReleaseID, Environment: "stage", DeploymentID: d.ID, Entry: entry}}
	if err := s.WriteEnvironment(ctx, w); err != nil {
		t.Fatalf("status of a legacy deployment: %v", err)
	}
	got, err := s.GetDeployment(ctx, "p", d.ID)
	if err != nil || got.Status != shiplog.StatusVerified || len(got.StatusHistory) != 1 {
		t.Errorf("the deployment after its status: got %+v, %v", got, err)
	}
	page, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{})
	if err != nil || len(page.Items) != 1 || page.Items[0].Status != shiplog.StatusVerified {
		t.Errorf("stage's listing after the status: got %+v, %v", page.Items, err)
	}
	if page, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{Release: d.ReleaseID}, shiplog.PageRequest{}); err != nil || len(page.Items) != 0 {
		t.Errorf("the release's listing: got %+v, %v, want none made", page.Items, err)
	}
	r, err := s.GetRelease(ctx, "p", d.ReleaseID)
	if err != nil || len(r.VerifiedIn) != 1 || r.VerifiedIn[0] != "stage" {
		t.Errorf("verified_in: got %v, %v, want [stage]", r.VerifiedIn, err)
	}

	// Not recorded at all: refused, nothing written.
	next2 := w.State
	next2.Status = shiplog.StatusFailed
	w2 := w.State.Next(next2)
	w2.Statuses = []shiplog.StatusUpdate{{ProjectID: "p", ReleaseID: d.ReleaseID, Environment: "stage", DeploymentID: "01HDEP0000000000000000009", Entry: entry}}
	if err := s.WriteEnvironment(ctx, w2); !errors.Is(err, shiplog.ErrDeploymentNotFound) {
		t.Errorf("status of a deployment not recorded: got %v, want ErrDeploymentNotFound", err)
	}
	states, err := s.EnvironmentStates(ctx, "p")
	if err != nil || len(states) != 1 || states[0].Version != w.State.Version {
		t.Errorf("state after a refused write: got %+v, %v, want version %d", states, err, w.State.Version)
	}
}

// busyDriver answers ErrBusy to its first n writes, as DynamoDB does to a transaction that met
// another on some of its items.
type busyDriver struct {
	ledger.Driver
	n, writes int
}

func (d *busyDriver) Write(ctx context.Context, ops []ledger.Op) error {
	d.writes++
	if d.writes <= d.n {
		return ledger.ErrBusy
	}
	return d.Driver.Write(ctx, ops)
}

// TestBusyWriteIsTriedAgain: a write that met another on some of its items is tried again at once
// (after a short wait) by the ledger, up to four times; after that the writer is told it lost
// the race, having written nothing.
func TestBusyWriteIsTriedAgain(t *testing.T) {
	for _, tt := range []struct {
		busy   int
		writes int
		ok     bool
	}{{0, 1, true}, {1, 2, true}, {3, 4, true}, {4, 4, false}, {9, 4, false}} {
		s, st, _ := legacyStore(t)
		d := &busyDriver{Driver: s.Driver(), n: tt.busy}
		l := ledger.New(d)
		var slept time.Duration
		l.Sleep = func(_ context.Context, d time.Duration) error { slept += d; return nil }
		next := st
		next.Description = "changed"
		err := l.WriteEnvironment(t.Context(), st.Next(next))
		if (err == nil) != tt.ok || (!tt.ok && !errors.Is(err, shiplog.ErrVersionConflict)) {
			t.Errorf("%d busy answers: got %v, want ok %v (else ErrVersionConflict)", tt.busy, err, tt.ok)
		}
		if d.writes != tt.writes {
			t.Errorf("%d busy answers: %d writes, want %d", tt.busy, d.writes, tt.writes)
		}
		if slept > 200*time.Millisecond {
			t.Errorf("%d busy answers: waited %s in all, want short waits", tt.busy, slept)
		}
		states, _ := s.EnvironmentStates(t.Context(), "p")
		if want := map[bool]string{true: "changed", false: ""}[tt.ok]; len(states) != 1 || states[0].Description != want {
			t.Errorf("%d busy answers: state %+v, want description %q", tt.busy, states, want)
		}
	}
}

// TestStatusOfALegacyDeploymentLosesARace: a legacy deployment's status written over a version
// that has moved is a lost race (ErrVersionConflict, which the domain retries), not a
// deployment not found, though its release listing is missing too.
func TestStatusOfALegacyDeploymentLosesARace(t *testing.T) {
	ctx := t.Context()
	s, st, d := legacyStore(t)
	moved := st
	moved.Description = "someone locked it"
	if err := s.WriteEnvironment(ctx, st.Next(moved)); err != nil {
		t.Fatal(err)
	}
	next := st
	next.Status = shiplog.StatusVerified
	w := st.Next(next) // over the version before the move
	w.Statuses = []shiplog.StatusUpdate{{ProjectID: "p", ReleaseID: d.ReleaseID, Environment: "stage", DeploymentID: d.ID,
		Entry: shiplog.StatusEntry{Status: shiplog.StatusVerified, At: 200, By: alice}}}
	if err := s.WriteEnvironment(ctx, w); !errors.Is(err, shiplog.ErrVersionConflict) {
		t.Fatalf("got %v, want ErrVersionConflict", err)
	}
	if got, err := s.GetDeployment(ctx, "p", d.ID); err != nil || got.Status != "" {
		t.Errorf("the deployment after a lost write: got %+v, %v, want it unchanged", got, err)
	}
}
