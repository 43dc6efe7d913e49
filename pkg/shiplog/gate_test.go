package shiplog_test

import (
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// gateNamed returns the gate of that name from shiplog.Gates.
func gateNamed(t *testing.T, name string) shiplog.Gate {
	t.Helper()
	for _, g := range shiplog.Gates {
		if g.Name() == name {
			return g
		}
	}
	t.Fatalf("no gate %q in shiplog.Gates", name)
	return nil
}

// gateCase is one row of a gate's table: the input, and the decision wanted (the message must
// contain each of parts).
type gateCase struct {
	name      string
	in        shiplog.GateInput
	allow     bool
	parts     []string
	retryWant time.Duration
}

func runGateCases(t *testing.T, gate string, cases []gateCase) {
	t.Helper()
	g := gateNamed(t, gate)
	if !g.BreakGlass() {
		t.Errorf("%s: break glass does not pass it, want it to", gate)
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			d := g.Evaluate(tt.in)
			if d.Allow != tt.allow {
				t.Errorf("Allow: got %v, want %v (message %q)", d.Allow, tt.allow, d.Message)
			}
			if !contains(d.Message, tt.parts...) {
				t.Errorf("message: got %q, want it to contain %q", d.Message, tt.parts)
			}
			if d.RetryAfter != tt.retryWant {
				t.Errorf("RetryAfter: got %v, want %v", d.RetryAfter, tt.retryWant)
			}
		})
	}
}

var (
	gateNow  = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	gateProd = shiplog.Environment{ID: "prod", Name: "Production", Requires: []string{"stage", "qa"}}
)

// gateState is prod's state with the given lock and freezes.
func gateState(lock *shiplog.EnvironmentLock, freezes ...shiplog.Freeze) *shiplog.EnvironmentState {
	return &shiplog.EnvironmentState{ProjectID: "storage", Environment: shiplog.Environment{ID: "prod", Name: "Production"}, Lock: lock, Freezes: freezes}
}

func gateIn(st *shiplog.EnvironmentState) shiplog.GateInput {
	return shiplog.GateInput{ProjectID: "storage", Environment: gateProd, Current: st, Kind: shiplog.KindDeploy, Now: gateNow}
}

func TestLockGate(t *testing.T) {
	now := gateNow.Unix()
	lock := &shiplog.EnvironmentLock{Environment: "prod", Reason: "incident 42", LockedBy: bob, LockedAt: now - 60}
	expiring := *lock
	expiring.ExpiresAt = now + 3600
	expired := *lock
	expired.ExpiresAt = now
	hold := *lock
	hold.Rollback = "01ROLLBACK"
	runGateCases(t, "lock", []gateCase{
		{name: "nothing deployed yet", in: gateIn(nil), allow: true, parts: []string{"storage/prod is not locked"}},
		{name: "no lock", in: gateIn(gateState(nil)), allow: true, parts: []string{"not locked"}},
		{name: "locked until unlocked", in: gateIn(gateState(lock)),
			parts: []string{"storage/prod is locked by Bob (bob)", `"incident 42"`, "until it is unlocked (DELETE /projects/storage/environments/prod/lock)", "emergency deployment passes the lock"}},
		{name: "locked for an hour", in: gateIn(gateState(&expiring)),
			parts: []string{"locked by Bob", "until 2026-11-21T11:00:00Z"}, retryWant: time.Hour},
		{name: "a lock that has expired", in: gateIn(gateState(&expired)), allow: true, parts: []string{"not locked"}},
		{name: "a rollback's hold is the hold gate's", in: gateIn(gateState(&hold)), allow: true, parts: []string{"not locked"}},
		{name: "a rollback is refused too", in: func() shiplog.GateInput {
			in := gateIn(gateState(lock))
			in.Kind = shiplog.KindRollback
			return in
		}(), parts: []string{"locked by Bob"}},
	})
}

func TestHoldGate(t *testing.T) {
	now := gateNow.Unix()
	hold := &shiplog.EnvironmentLock{Environment: "prod", Reason: "notifier errors", LockedBy: bob, LockedAt: now - 60, Rollback: "01ROLLBACK"}
	expiring := *hold
	expiring.ExpiresAt = now + 90
	lock := *hold
	lock.Rollback = ""
	runGateCases(t, "hold", []gateCase{
		{name: "nothing deployed yet", in: gateIn(nil), allow: true, parts: []string{"storage/prod is not held"}},
		{name: "a person's lock is the lock gate's", in: gateIn(gateState(&lock)), allow: true, parts: []string{"not held"}},
		{name: "held", in: gateIn(gateState(hold)),
			parts: []string{"storage/prod is held by rollback 01ROLLBACK", "locked by Bob (bob)", `"notifier errors"`, "until it is unlocked", "emergency deployment passes the hold"}},
		{name: "held until a time", in: gateIn(gateState(&expiring)), parts: []string{"held by rollback", "until 2026-11-21T10:01:30Z"}, retryWant: 90 * time.Second},
	})
}

func TestFreezeGate(t *testing.T) {
	now := gateNow.Unix()
	week := shiplog.Freeze{ID: "release-week", StartsAt: now - 3600, EndsAt: now + 3600, Reason: "release week"}
	after := shiplog.Freeze{ID: "holidays", StartsAt: now + 1800, EndsAt: now + 7200, Reason: "holidays"}
	later := shiplog.Freeze{ID: "audit", StartsAt: now + 9000, EndsAt: now + 10000, Reason: "audit"}
	past := shiplog.Freeze{ID: "old", StartsAt: now - 7200, EndsAt: now, Reason: "old"}
	runGateCases(t, "freeze", []gateCase{
		{name: "nothing deployed yet", in: gateIn(nil), allow: true, parts: []string{"storage/prod is not frozen"}},
		{name: "no freeze", in: gateIn(gateState(nil)), allow: true, parts: []string{"not frozen"}},
		{name: "a freeze to come", in: gateIn(gateState(nil, later)), allow: true, parts: []string{"not frozen"}},
		{name: "a freeze that has ended", in: gateIn(gateState(nil, past)), allow: true, parts: []string{"not frozen"}},
		{name: "inside a freeze", in: gateIn(gateState(nil, week, later)),
			parts:     []string{"storage/prod is frozen by freeze release-week until 2026-11-21T11:00:00Z", `"release week"`, "emergency deployment passes the freeze"},
			retryWant: time.Hour},
		// The gate opens when the environment is free of every freeze that follows on.
		{name: "freezes one after another", in: gateIn(gateState(nil, after, week, later)),
			parts: []string{"freeze release-week"}, retryWant: 2 * time.Hour},
		{name: "a rollback is refused too", in: func() shiplog.GateInput {
			in := gateIn(gateState(nil, week))
			in.Kind = shiplog.KindRollback
			return in
		}(), parts: []string{"frozen by freeze release-week"}, retryWant: time.Hour},
	})
}

func TestRequiresGate(t *testing.T) {
	verified := shiplog.Release{ID: "r1", VerifiedIn: []string{"qa", "stage"}}
	half := shiplog.Release{ID: "r2", VerifiedIn: []string{"stage"}}
	// A deployment recorded before statuses existed counts as verified.
	old := shiplog.Release{ID: "r3", VerifiedIn: []string{"qa"}, Deployments: []shiplog.Deployment{{Environment: shiplog.Environment{ID: "stage"}}}}
	// A deployment that is only applied does not.
	applied := shiplog.Release{ID: "r4", VerifiedIn: []string{"qa"}, Deployments: []shiplog.Deployment{{Environment: shiplog.Environment{ID: "stage"}, Status: shiplog.StatusApplied}}}
	with := func(r shiplog.Release, kind string) shiplog.GateInput {
		in := gateIn(nil)
		in.Release, in.Kind = r, kind
		return in
	}
	free := gateIn(nil)
	free.Environment = shiplog.Environment{ID: "stage"}
	runGateCases(t, "requires", []gateCase{
		{name: "an environment that requires none", in: free, allow: true, parts: []string{"stage requires no other environment"}},
		{name: "verified in every one", in: with(verified, shiplog.KindDeploy), allow: true, parts: []string{"release r1 is verified in stage, qa"}},
		{name: "verified in one of two", in: with(half, shiplog.KindPromote),
			parts: []string{"release r2 cannot be deployed to prod", "requires a release verified in stage, qa first", "has not been verified in qa;", "emergency deployment"}},
		{name: "verified nowhere", in: with(shiplog.Release{ID: "r5"}, shiplog.KindDeploy), parts: []string{"has not been verified in stage, qa;"}},
		{name: "a deployment from before statuses", in: with(old, shiplog.KindDeploy), allow: true, parts: []string{"verified in stage, qa"}},
		{name: "applied is not verified", in: with(applied, shiplog.KindDeploy), parts: []string{"has not been verified in stage;"}},
		{name: "a rollback passes", in: with(shiplog.Release{ID: "r5"}, shiplog.KindRollback), allow: true, parts: []string{"a rollback", "not checked"}},
	})
}

// TestPlanListsEveryGate: a plan shows each gate's decision, not only the first refusal; break
// glass passes the gates that refuse and the deployment records which.
func TestPlanListsEveryGate(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "prod")
	now := h.clock.Now().Unix()
	if _, err := h.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "prod", Reason: "incident 42", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "storage", ID: "release-week", Environments: []string{"prod"},
		StartsAt: now, EndsAt: now + 3600, Reason: "release week", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	in := shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod"}
	_, deployErr := h.svc.Deploy(ctx, in)
	wantError(t, "Deploy locked and frozen", deployErr, shiplog.Conflict, "locked by Bob")

	at := func(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
	lockMsg := `storage/prod is locked by Bob (bob) since ` + at(now) + `: "incident 42"; it stays locked until it is unlocked (DELETE /projects/storage/environments/prod/lock). An emergency deployment passes the lock`
	freezeMsg := `storage/prod is frozen by freeze release-week until ` + at(now+3600) + `: "release week". An emergency deployment passes the freeze`
	gates := []shiplog.GateDecision{
		{Gate: "lock", Message: lockMsg},
		{Gate: "hold", Allow: true, Message: "storage/prod is not held by a rollback"},
		{Gate: "freeze", Message: freezeMsg, RetryAt: now + 3600},
		{Gate: "freeze_window", Allow: true, Message: "prod has no recurring freezes"},
		{Gate: "window", Allow: true, Message: "prod has no deploy windows: deploys go at any time"},
		{Gate: "requires", Allow: true, Message: "prod requires no other environment first"},
		{Gate: "soak", Allow: true, Message: "prod requires no soak"},
		{Gate: "approvals", Allow: true, Message: "prod requires no approvals"},
		{Gate: "alarms", Allow: true, Message: "prod names no alarms"},
		{Gate: "findings", Allow: true, Message: "prod sets no max_finding_severity"},
	}
	plan, err := h.svc.Plan(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "gates of the plan", plan.Plan.Gates, gates)
	diff(t, "refusal of the plan", plan.Plan.Refusal, &shiplog.Refusal{Kind: "Conflict", Message: shiplog.MessageOf(deployErr)})
	if shiplog.MessageOf(deployErr) != lockMsg {
		t.Errorf("the deploy's refusal: got %q, want the first gate's %q", shiplog.MessageOf(deployErr), lockMsg)
	}

	// Break glass: the plan shows both refusals passed, and the deploy records which it passed.
	in.OverrideReason = "the fix"
	in.RequestedBy = alice
	plan, err = h.svc.Plan(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	gates[0].Overridden, gates[2].Overridden = true, true
	diff(t, "gates of the break-glass plan", plan.Plan.Gates, gates)
	if plan.Plan.Refusal != nil {
		t.Errorf("refusal of the break-glass plan: got %+v, want none", plan.Plan.Refusal)
	}
	res, err := h.svc.Deploy(ctx, in)
	if err != nil {
		t.Fatalf("break-glass deploy: %v", err)
	}
	diff(t, "override", res.Deployment.Override, &shiplog.Override{Reason: "the fix", By: alice, Gates: []string{"lock", "freeze"}})
	stored, err := h.svc.Deployment(ctx, "storage", res.Deployment.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "override as stored", stored.Override, res.Deployment.Override)
}

// TestHoldIsItsOwnGate: a rollback with hold refuses through the hold gate, and unlocking lifts it.
func TestHoldIsItsOwnGate(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "stage")
	h.clock.Advance(time.Minute)
	h.seedLabel(t, "latest", 2, "notifier")
	r2 := h.createRelease(t, 2)
	h.deploy(t, r2.ID, "stage")
	rb, err := h.svc.Rollback(ctx, shiplog.RollbackInput{ProjectID: "storage", Environment: "stage", Reason: "notifier errors", Hold: true, RequestedBy: bob})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	var refused []string
	for _, g := range plan.Plan.Gates {
		if !g.Allow {
			refused = append(refused, g.Gate)
		}
	}
	diff(t, "gates refusing after a held rollback", refused, []string{"hold"})
	if plan.Plan.Refusal == nil || !contains(plan.Plan.Refusal.Message, "held by rollback "+rb.Deployment.ID, `"notifier errors"`) {
		t.Errorf("refusal after a held rollback: got %+v, want the hold's", plan.Plan.Refusal)
	}
	if _, err := h.svc.Unlock(ctx, "storage", "stage", bob); err != nil {
		t.Fatal(err)
	}
	h.deploy(t, r2.ID, "stage")
}
