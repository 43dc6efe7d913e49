package shiplog_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// fakeAlarms answers alarm states from a map of alarm name to state, counting its calls.
type fakeAlarms struct {
	mu     sync.Mutex
	states map[string]shiplog.AlarmState
	calls  int
}

func (f *fakeAlarms) AlarmStates(_ context.Context, alarms []string) ([]shiplog.AlarmState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	out := make([]shiplog.AlarmState, len(alarms))
	for i, a := range alarms {
		out[i] = f.states[shiplog.AlarmName(a)]
	}
	return out, nil
}

func (f *fakeAlarms) set(name, state, reason string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[name] = shiplog.AlarmState{Found: true, State: state, Reason: reason, UpdatedAt: at.Unix()}
}

// fakeFindings answers scan findings from a map of image to findings (none: no scan).
type fakeFindings struct {
	findings map[string]shiplog.ImageFindings
	calls    int
}

func (f *fakeFindings) ScanFindings(_ context.Context, images []string) ([]shiplog.ImageFindings, error) {
	f.calls++
	out := make([]shiplog.ImageFindings, len(images))
	for i, im := range images {
		out[i] = f.findings[im]
	}
	return out, nil
}

// guarded is a project whose prod names alarms, bakes for 10 minutes and refuses HIGH findings;
// its stage names none of them.
const guarded = `{"name": "Guarded", "environments": [{"id": "stage"}, {"id": "prod", "alarms": ["web-5xx", "arn:aws:cloudwatch:eu-west-1:760097843905:alarm:web-latency"],
	"bake": "10m", "max_finding_severity": "HIGH"}], "image_repositories": [{"id": "guarded/web"}]}`

func guardedHarness(t *testing.T) (*harness, *fakeAlarms, *fakeFindings, func(n int) shiplog.Release) {
	t.Helper()
	h := newHarness(t)
	h.svc.Home = stageHome
	if err := h.register(t, "guarded", guarded); err != nil {
		t.Fatal(err)
	}
	alarms := &fakeAlarms{states: map[string]shiplog.AlarmState{}}
	alarms.set("web-5xx", shiplog.AlarmOK, "", h.clock.Now().Add(-time.Hour))
	alarms.set("web-latency", shiplog.AlarmOK, "", h.clock.Now().Add(-time.Hour))
	findings := &fakeFindings{findings: map[string]shiplog.ImageFindings{}}
	release := func(n int) shiplog.Release {
		t.Helper()
		uri := image("guarded/web", n)
		findings.findings[uri] = shiplog.ImageFindings{Status: shiplog.ScanComplete, Counts: map[string]int{"LOW": 2}}
		if err := h.store.PutParameters(t.Context(), map[string]string{shiplog.ParameterName("guarded", "latest", "web"): uri}); err != nil {
			t.Fatal(err)
		}
		r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "guarded", RequestedBy: alice})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return h, alarms, findings, release
}

func deployGuarded(t *testing.T, h *harness, r shiplog.Release) shiplog.Deployment {
	t.Helper()
	res, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "guarded", ReleaseID: r.ID, Environment: "prod", RequestedBy: alice})
	if err != nil {
		t.Fatalf("deploy %s to guarded/prod: %v", r.ID, err)
	}
	return res.Deployment
}

func gateOf(t *testing.T, plan shiplog.PlanResult, name string) shiplog.GateDecision {
	t.Helper()
	for _, g := range plan.Plan.Gates {
		if g.Gate == name {
			return g
		}
	}
	t.Fatalf("the plan has no gate %q: %+v", name, plan.Plan.Gates)
	return shiplog.GateDecision{}
}

// TestAlarmsAndFindingsOnTheService: a deploy to prod is refused, with nothing written, while
// CloudWatch and ECR cannot be read, while an alarm is in ALARM and while an image has a HIGH
// finding; the plan shows both gates; break glass passes them, recorded; a rollback goes while
// an alarm fires; a deploy to stage, which names neither, reads neither.
func TestAlarmsAndFindingsOnTheService(t *testing.T) {
	h, alarms, findings, release := guardedHarness(t)
	ctx := t.Context()
	r1 := release(1)
	in := shiplog.DeployInput{ProjectID: "guarded", ReleaseID: r1.ID, Environment: "prod", RequestedBy: alice}
	before := h.snapshot(t, "guarded")
	_, err := h.svc.Deploy(ctx, in)
	wantError(t, "Deploy without CloudWatch", err, shiplog.Conflict, "guarded/prod names alarms (web-5xx, web-latency), and this shiplog has no access to CloudWatch")
	h.wantUnchanged(t, "Deploy without CloudWatch", "guarded", before)
	plan, err := h.svc.Plan(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if g := gateOf(t, plan, "findings"); g.Allow || !contains(g.Message, "no access to ECR's scan findings") {
		t.Errorf("findings gate without ECR: got %+v, want a refusal saying ECR cannot be read", g)
	}

	h.svc.Alarms, h.svc.Findings = alarms, findings
	alarms.set("web-latency", shiplog.AlarmAlarm, "Threshold Crossed: p99 latency 2.3s > 1s", h.clock.Now().Add(-5*time.Minute))
	findings.findings[r1.Images["web"]] = shiplog.ImageFindings{Status: shiplog.ScanComplete, Counts: map[string]int{"HIGH": 2, "CRITICAL": 1, "LOW": 4}}
	_, err = h.svc.Deploy(ctx, in)
	wantError(t, "Deploy while an alarm fires", err, shiplog.Conflict, "guarded/prod has alarms in ALARM: web-latency (since 2026-11-21T09:55:00Z: Threshold Crossed: p99 latency 2.3s > 1s)")
	h.wantUnchanged(t, "Deploy while an alarm fires", "guarded", before)
	plan, err = h.svc.Plan(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if g := gateOf(t, plan, "alarms"); g.Allow {
		t.Errorf("alarms gate in the plan: got %+v, want a refusal", g)
	}
	if g := gateOf(t, plan, "findings"); g.Allow || !contains(g.Message, "web ("+r1.Images["web"]+") has 1 CRITICAL, 2 HIGH") {
		t.Errorf("findings gate in the plan: got %+v, want a refusal naming the image and its counts", g)
	}

	alarms.set("web-latency", shiplog.AlarmOK, "", h.clock.Now())
	_, err = h.svc.Deploy(ctx, in)
	wantError(t, "Deploy of an image with findings", err, shiplog.Conflict, "release "+r1.ID+" has images with findings of HIGH or graver: web ("+r1.Images["web"]+") has 1 CRITICAL, 2 HIGH")
	h.wantUnchanged(t, "Deploy of an image with findings", "guarded", before)

	// Break glass passes both, and records them.
	alarms.set("web-5xx", shiplog.AlarmAlarm, "5xx rate 12%", h.clock.Now())
	res, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "guarded", ReleaseID: r1.ID, Environment: "prod", RequestedBy: alice, OverrideReason: "hotfix"})
	if err != nil {
		t.Fatalf("break glass: %v", err)
	}
	diff(t, "override", res.Deployment.Override, &shiplog.Override{Reason: "hotfix", By: alice, Gates: []string{"alarms", "findings"}})

	// A clean release deploys once the alarm is OK.
	alarms.set("web-5xx", shiplog.AlarmOK, "", h.clock.Now())
	r2 := release(2)
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "guarded", ReleaseID: r2.ID, Environment: "prod", RequestedBy: alice}); err != nil {
		t.Fatalf("deploy with every alarm OK and no HIGH finding: %v", err)
	}

	// A rollback goes while an alarm fires, and reads neither CloudWatch nor ECR.
	alarms.set("web-5xx", shiplog.AlarmAlarm, "5xx rate 30%", h.clock.Now())
	alarmCalls, findingCalls := alarms.calls, findings.calls
	if _, err := h.svc.Rollback(ctx, shiplog.RollbackInput{ProjectID: "guarded", Environment: "prod", Reason: "5xx", RequestedBy: alice}); err != nil {
		t.Fatalf("rollback while an alarm fires: %v", err)
	}
	// A deploy to stage, which names no alarms and no severity, reads neither.
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "guarded", ReleaseID: r2.ID, Environment: "stage", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}
	if alarms.calls != alarmCalls || findings.calls != findingCalls {
		t.Errorf("a rollback and a deploy to stage read CloudWatch %d and ECR %d times, want 0", alarms.calls-alarmCalls, findings.calls-findingCalls)
	}
}

// alarmEvent is CloudWatch's event that a guarded alarm entered state at at, from the stack's
// account and region.
func alarmEvent(name, state, reason string, at time.Time) shiplog.AlarmEvent {
	return shiplog.AlarmEvent{ID: "a", Account: stageHome.Account, Region: stageHome.Region, Name: name, State: state, Reason: reason, At: at.Unix()}
}

// TestBake: an alarm entering ALARM within prod's 10 minute bake fails its deployment, with the
// alarm's name and reason, once CloudWatch agrees; events outside the bake, from elsewhere, of
// other states or other alarms change nothing; a bake that ends with every alarm OK verifies the
// deployment (by "bake"), one that ends with an alarm in ALARM fails it, and SettleBakes says
// when the next bake ends.
func TestBake(t *testing.T) {
	h, alarms, findings, release := guardedHarness(t)
	h.svc.Alarms, h.svc.Findings = alarms, findings
	ctx := t.Context()
	r1 := release(1)
	d1 := deployGuarded(t, h, r1)
	applied := h.clock.Now()

	for _, tt := range []struct {
		name string
		ev   shiplog.AlarmEvent
		want string
	}{
		{"an alarm going OK", alarmEvent("web-5xx", shiplog.AlarmOK, "", applied), "alarm web-5xx entered OK: only an alarm entering ALARM fails a deployment"},
		{"an alarm nobody names", alarmEvent("db-cpu", shiplog.AlarmAlarm, "", applied), "no registered environment names alarm db-cpu"},
		{"before the deployment was applied", alarmEvent("web-5xx", shiplog.AlarmAlarm, "", applied.Add(-time.Second)), "before deployment " + d1.ID + " was applied"},
		{"CloudWatch says OK since before", alarmEvent("web-5xx", shiplog.AlarmAlarm, "forged", applied.Add(time.Minute)), "CloudWatch says alarm web-5xx is OK since 2026-11-21T09:00:00Z"},
	} {
		out, err := h.svc.HandleAlarmEvent(ctx, tt.ev)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		why := out.Ignored
		if len(out.Environments) == 1 {
			why = out.Environments[0].Ignored
		}
		if !contains(why, tt.want) {
			t.Errorf("%s: got %+v, want it ignored with %q", tt.name, out, tt.want)
		}
	}
	other := alarmEvent("web-5xx", shiplog.AlarmAlarm, "", applied.Add(time.Minute))
	other.Account = "111122223333"
	if out, err := h.svc.HandleAlarmEvent(ctx, other); err != nil || !contains(only(t, out).Ignored, "account 111122223333", "the environment's alarm of that name is in account 760097843905") {
		t.Errorf("an alarm of another account: %+v, %v; want it ignored", out, err)
	}
	bad := alarmEvent("web-5xx", shiplog.AlarmAlarm, "", applied)
	bad.ARN = "arn:aws:cloudwatch:eu-west-1:760097843905:alarm:other"
	_, err := h.svc.HandleAlarmEvent(ctx, bad)
	wantError(t, "an event whose ARN is another alarm's", err, shiplog.Invalid, "is not the ARN of alarm \"web-5xx\"")
	if rec, _ := h.svc.Deployment(ctx, "guarded", d1.ID); rec.Status != shiplog.StatusApplied {
		t.Fatalf("after events that change nothing: got status %q, want applied", rec.Status)
	}

	// Four minutes in, web-latency (named by ARN) fires: the deployment fails.
	h.clock.Advance(4 * time.Minute)
	alarms.set("web-latency", shiplog.AlarmAlarm, "Threshold Crossed: p99 2.3s > 1s", h.clock.Now())
	ev := alarmEvent("web-latency", shiplog.AlarmAlarm, "Threshold Crossed: p99 2.3s > 1s", h.clock.Now())
	ev.ARN = "arn:aws:cloudwatch:eu-west-1:760097843905:alarm:web-latency"
	out, err := h.svc.HandleAlarmEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if o := only(t, out); o.Status != shiplog.StatusFailed || o.DeploymentID != d1.ID {
		t.Errorf("an alarm in the bake: got %+v, want deployment %s failed", o, d1.ID)
	}
	rec, err := h.svc.Deployment(ctx, "guarded", d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := rec.StatusHistory[len(rec.StatusHistory)-1]
	diff(t, "the failure", last, shiplog.StatusEntry{Status: shiplog.StatusFailed, At: h.clock.Now().Unix(), By: shiplog.Person{ID: "cloudwatch", Name: "Amazon CloudWatch"},
		Detail: "CloudWatch alarm web-latency entered ALARM at 2026-11-21T10:04:00Z, within the 10m0s bake of the deployment: Threshold Crossed: p99 2.3s > 1s"})
	// The same event again (EventBridge delivers at least once) changes nothing more.
	if _, err := h.svc.HandleAlarmEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}

	// A bake that ends quietly verifies; SettleBakes says when it ends until it does.
	alarms.set("web-latency", shiplog.AlarmOK, "", h.clock.Now())
	r2 := release(2)
	d2 := deployGuarded(t, h, r2)
	end := h.clock.Now().Add(10 * time.Minute).Unix()
	h.clock.Advance(5 * time.Minute)
	settled, err := h.svc.SettleBakes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(settled.Environments) != 0 || settled.NextAt != end {
		t.Errorf("SettleBakes half way through the bake: got %+v, want nothing settled and next_at %d", settled, end)
	}
	h.clock.Advance(5 * time.Minute)
	settled, err = h.svc.SettleBakes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "SettleBakes at the bake's end", settled, shiplog.BakeOutcome{Environments: []shiplog.EnvironmentOutcome{
		{ProjectID: "guarded", Environment: "prod", DeploymentID: d2.ID, Status: shiplog.StatusVerified}}})
	rec, err = h.svc.Deployment(ctx, "guarded", d2.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "the verification", rec.StatusHistory[len(rec.StatusHistory)-1], shiplog.StatusEntry{Status: shiplog.StatusVerified, At: end,
		By: shiplog.Person{ID: "bake", Name: "shiplog bake"}, Detail: "the 10m0s bake ended with no alarm in ALARM (web-5xx, web-latency)"})
	settled, err = h.svc.SettleProjectBakes(ctx, "guarded")
	if err != nil || len(settled.Environments) != 0 {
		t.Errorf("SettleProjectBakes again: got %+v, %v; want nothing to settle", settled, err)
	}
	// An alarm after the bake fails nothing.
	h.clock.Advance(time.Minute)
	alarms.set("web-5xx", shiplog.AlarmAlarm, "late", h.clock.Now())
	out, err = h.svc.HandleAlarmEvent(ctx, alarmEvent("web-5xx", shiplog.AlarmAlarm, "late", h.clock.Now()))
	if err != nil || !contains(only(t, out).Ignored, "after deployment "+d2.ID+"'s 10m0s bake ended") {
		t.Errorf("an alarm after the bake: got %+v, %v; want it ignored", out, err)
	}
	alarms.set("web-5xx", shiplog.AlarmOK, "", h.clock.Now())

	// A bake that ends with an alarm in ALARM (its event missed) fails the deployment.
	r3 := release(3)
	d3 := deployGuarded(t, h, r3)
	h.clock.Advance(3 * time.Minute)
	alarms.set("web-5xx", shiplog.AlarmAlarm, "5xx rate 12%", h.clock.Now())
	h.clock.Advance(8 * time.Minute)
	settled, err = h.svc.SettleProjectBakes(ctx, "guarded")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "SettleProjectBakes with an alarm in ALARM", settled, shiplog.BakeOutcome{Environments: []shiplog.EnvironmentOutcome{
		{ProjectID: "guarded", Environment: "prod", DeploymentID: d3.ID, Status: shiplog.StatusFailed}}})
	rec, err = h.svc.Deployment(ctx, "guarded", d3.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := rec.StatusHistory[len(rec.StatusHistory)-1]; !contains(last.Detail, "at the end of the 10m0s bake, CloudWatch alarms are in ALARM: web-5xx (5xx rate 12%)") {
		t.Errorf("the failure at the bake's end: got %+v", last)
	}

	// Without CloudWatch, a bake decides nothing, and says why.
	alarms.set("web-5xx", shiplog.AlarmOK, "", h.clock.Now())
	r4 := release(4)
	d4 := deployGuarded(t, h, r4)
	h.clock.Advance(11 * time.Minute)
	h.svc.Alarms = nil
	settled, err = h.svc.SettleBakes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o := settled.Environments; len(o) != 1 || o[0].DeploymentID != d4.ID || o[0].Status != shiplog.StatusApplied || !contains(o[0].Ignored, "no access to CloudWatch") {
		t.Errorf("SettleBakes without CloudWatch: got %+v, want deployment %s left applied, saying why", o, d4.ID)
	}

	// The scheduled tick settles bakes: once d4's has ended with CloudWatch back, it verifies.
	h.svc.Alarms = alarms
	ticked, err := h.svc.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ticked) == 0 || ticked[0] != (shiplog.TickOutcome{Work: "bakes", Projects: 1, Actions: 1}) {
		t.Errorf("the tick: got %+v, want bakes first, settling one deployment of one project", ticked)
	}
	if rec, err := h.svc.Deployment(ctx, "guarded", d4.ID); err != nil || rec.Status != shiplog.StatusVerified {
		t.Errorf("after the tick: deployment %s is %q (%v), want verified by its bake", d4.ID, rec.Status, err)
	}
}

// incompleteIndex is a store whose runtime index does not cover every project yet.
type incompleteIndex struct{ shiplog.Store }

func (incompleteIndex) RuntimeMatches(context.Context, string, string) ([]shiplog.RuntimeMatch, bool, error) {
	return nil, false, nil
}

// TestAlarmEventWithoutTheIndex: while the store's index is incomplete, an alarm's event finds the
// environments that name it by looking through the projects, and fails the deployment in its bake.
func TestAlarmEventWithoutTheIndex(t *testing.T) {
	h, alarms, findings, release := guardedHarness(t)
	h.svc.Alarms, h.svc.Findings = alarms, findings
	d := deployGuarded(t, h, release(1))
	h.svc.Store = incompleteIndex{h.store}
	h.clock.Advance(time.Minute)
	alarms.set("web-5xx", shiplog.AlarmAlarm, "5xx", h.clock.Now())
	out, err := h.svc.HandleAlarmEvent(t.Context(), alarmEvent("web-5xx", shiplog.AlarmAlarm, "5xx", h.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if o := only(t, out); o.DeploymentID != d.ID || o.Status != shiplog.StatusFailed {
		t.Errorf("got %+v, want deployment %s failed", o, d.ID)
	}
	out, err = h.svc.HandleAlarmEvent(t.Context(), alarmEvent("db-cpu", shiplog.AlarmAlarm, "", h.clock.Now()))
	if err != nil || !contains(out.Ignored, "no registered environment names alarm db-cpu") {
		t.Errorf("an alarm nobody names: got %+v, %v", out, err)
	}
}
