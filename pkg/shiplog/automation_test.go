package shiplog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// automatedStorage is the storage project with stage auto-promoted from the newest build, and
// prod auto-promoted once a release has soaked 30 minutes in stage and two people approved it,
// inside weekday office hours, and rolled back automatically when a deployment fails (its alarm
// entering ALARM within the 10-minute bake, or a report).
const automatedStorage = `{"name": "Storage service",
	"environments": [
		{"id": "stage", "auto_promote": {"from": "latest"}},
		{"id": "prod", "requires": [{"environment": "stage", "soak": "30m"}], "auto_promote": true, "auto_rollback": true, "approvals": {"required": 2},
		 "alarms": ["storage-prod-5xx"], "bake": "10m",
		 "windows": [{"days": "Mon-Fri", "start": "09:00", "end": "17:00", "tz": "UTC"}]}],
	"image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}, {"id": "uk.ac.wellcome/bag-register", "services": [{"id": "bag-register"}]},
		{"id": "uk.ac.wellcome/bag_verifier", "services": ["bag_verifier_pre_replication", "bag_verifier_post_replication"]}, {"id": "uk.ac.wellcome/notifier"}]}`

func automatedHarness(t *testing.T) *harness {
	t.Helper()
	h, _ := automatedHarnessWithAlarms(t)
	return h
}

// automatedHarnessWithAlarms is automatedHarness with prod's alarm, in OK, where CloudWatch
// would keep it.
func automatedHarnessWithAlarms(t *testing.T) (*harness, *fakeAlarms) {
	t.Helper()
	h := newHarness(t)
	h.svc.Home = stageHome
	alarms := &fakeAlarms{states: map[string]shiplog.AlarmState{}}
	alarms.set("storage-prod-5xx", shiplog.AlarmOK, "", h.clock.Now().Add(-time.Hour))
	h.svc.Alarms = alarms
	if err := h.register(t, "storage", automatedStorage); err != nil {
		t.Fatal(err)
	}
	return h, alarms
}

// status is what status says of an environment of storage.
func (h *harness) status(t *testing.T, env string) shiplog.EnvironmentStatus {
	t.Helper()
	envs, err := h.svc.Environments(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range envs {
		if e.Environment.ID == env {
			return e
		}
	}
	t.Fatalf("no environment %s", env)
	return shiplog.EnvironmentStatus{}
}

// current is what an environment of storage runs: its state (nil: nothing).
func (h *harness) current(t *testing.T, env string) *shiplog.EnvironmentState {
	t.Helper()
	return h.status(t, env).Current
}

func (h *harness) tick(t *testing.T) []shiplog.TickOutcome {
	t.Helper()
	out, err := h.svc.Tick(t.Context())
	if err != nil {
		t.Fatalf("Tick: %v", err)
	}
	return out
}

func (h *harness) report(t *testing.T, deployment, status, detail string) shiplog.DeploymentRecord {
	t.Helper()
	rec, err := h.svc.ReportStatus(t.Context(), shiplog.ReportInput{ProjectID: "storage", DeploymentID: deployment, Status: status, Detail: detail, By: alice})
	if err != nil {
		t.Fatalf("ReportStatus %s %s: %v", deployment, status, err)
	}
	return rec
}

// approve records alice's and bob's approvals of a release for prod.
func (h *harness) approve(t *testing.T, release string) {
	t.Helper()
	for _, by := range []shiplog.Person{alice, bob} {
		if _, err := h.svc.Approve(t.Context(), shiplog.ApprovalInput{ProjectID: "storage", Environment: "prod", ReleaseID: release, RequestedBy: by}); err != nil {
			t.Fatalf("Approve %s by %s: %v", release, by.ID, err)
		}
	}
}

// waitingGates names the gates a pending auto-promotion waits for, in the plan's order.
func waitingGates(p *shiplog.AutoPromotion) string {
	var out []string
	for _, g := range p.Waiting {
		out = append(out, g.Gate)
	}
	return strings.Join(out, ",")
}

// pending is what status says an environment of storage waits for.
func (h *harness) pending(t *testing.T, env string) *shiplog.AutoPromotion {
	t.Helper()
	return h.status(t, env).Pending
}

// TestAutomationScenario runs zero-touch delivery end to end on the local stack's store with a
// clock: a build reaches stage by itself, is verified, soaks, waits for prod's window, is
// promoted to prod, fails there, is rolled back with a hold, and is not promoted again; the
// next build is, once a person lifts the hold.
func TestAutomationScenario(t *testing.T) {
	h, alarms := automatedHarnessWithAlarms(t)
	ctx := t.Context()
	if s := h.clock.Now().Weekday(); s != time.Saturday {
		t.Fatalf("the scenario starts on a Saturday, outside prod's window; start is a %s", s)
	}

	// Before any build, nothing to do, and nothing written.
	before := len(h.events(t, "storage"))
	h.tick(t)
	if got := len(h.events(t, "storage")); got != before {
		t.Fatalf("a tick with nothing to do wrote %d events", got-before)
	}

	// A build (images under latest, as pushes put them) reaches stage at the next tick.
	h.seedLabel(t, "latest", 1)
	out := h.tick(t)
	if a := work(t, out, "automation"); a.Projects != 1 || a.Actions != 1 {
		t.Fatalf("tick = %+v, want one deployment by auto-promote over storage", out)
	}
	stage := h.current(t, "stage")
	if stage == nil || stage.RequestedBy.ID != "shiplog" {
		t.Fatalf("stage after the tick: %+v, want a deployment requested by shiplog", stage)
	}
	r1 := stage.ReleaseID
	h.clock.Advance(time.Minute)

	// Another tick does nothing: stage runs the newest build, prod waits for its verification.
	h.tick(t)
	if got := h.current(t, "stage").DeploymentID; got != stage.DeploymentID {
		t.Fatalf("a second tick deployed %s again", got)
	}
	if p := h.pending(t, "prod"); p == nil || !strings.Contains(p.Idle, "no release runs verified in stage") {
		t.Fatalf("prod pending = %+v, want idle until stage is verified", p)
	}

	// Verified in stage (as ECS or CI says): prod now waits for the soak, then for its window.
	h.report(t, stage.DeploymentID, shiplog.StatusVerified, "smoke tests passed")
	if got := h.current(t, "prod"); got != nil {
		t.Fatalf("prod was deployed before the soak ended: %+v", got)
	}
	p := h.pending(t, "prod")
	if p == nil || p.ReleaseID != r1 || p.From != "stage" || waitingGates(p) != "window,soak,approvals" || p.Waiting[1].RetryAt == 0 || p.Waiting[2].RetryAt != 0 {
		t.Fatalf("prod pending = %+v, want %s waiting on window, soak (with when it ends) and approvals (a person's)", p, r1)
	}
	h.clock.Advance(31 * time.Minute)
	h.tick(t)
	if p = h.pending(t, "prod"); h.current(t, "prod") != nil || waitingGates(p) != "window,approvals" {
		t.Fatalf("prod after the soak: pending %+v, want the window and approvals refusing", p)
	}
	h.approve(t, r1)
	h.tick(t)
	p = h.pending(t, "prod")
	if h.current(t, "prod") != nil || waitingGates(p) != "window" || p.Waiting[0].RetryAt == 0 {
		t.Fatalf("prod approved on a Saturday: pending %+v, want only the window refusing, with when it opens", p)
	}

	// Monday 09:00 UTC: the window opens and the tick promotes.
	h.clock.Advance(time.Unix(p.Waiting[0].RetryAt, 0).Sub(h.clock.Now()))
	h.tick(t)
	prod := h.current(t, "prod")
	if prod == nil || prod.ReleaseID != r1 || prod.RequestedBy.ID != "shiplog" {
		t.Fatalf("prod after the window opened: %+v, want %s by shiplog", prod, r1)
	}
	// prod needs a release it ran before to roll back to: r1 is verified, and a second build
	// goes the same way (its soak and the window pass on the clock).
	h.report(t, prod.DeploymentID, shiplog.StatusVerified, "")
	h.clock.Advance(time.Minute)
	h.seedLabel(t, "latest", 2)
	h.tick(t)
	stage2 := h.current(t, "stage")
	r2 := stage2.ReleaseID
	if r2 == r1 {
		t.Fatal("the second build was not released to stage")
	}
	h.report(t, stage2.DeploymentID, shiplog.StatusVerified, "")
	h.approve(t, r2)
	h.clock.Advance(31 * time.Minute)
	h.tick(t)
	prod2 := h.current(t, "prod")
	if prod2.ReleaseID != r2 {
		t.Fatalf("prod runs %s, want %s promoted after its soak", prod2.ReleaseID, r2)
	}

	// Two minutes into prod's bake its alarm enters ALARM: the deployment fails, and shiplog
	// rolls back to r1 with a hold naming the failure. The same event again (EventBridge
	// delivers at least once), and a report of the same failure, change nothing more.
	h.clock.Advance(2 * time.Minute)
	alarms.set("storage-prod-5xx", shiplog.AlarmAlarm, "5xx rate 12%", h.clock.Now())
	alarm := shiplog.AlarmEvent{ID: "a1", Account: stageHome.Account, Region: stageHome.Region, Name: "storage-prod-5xx", State: shiplog.AlarmAlarm, Reason: "5xx rate 12%", At: h.clock.Now().Unix()}
	if out, err := h.svc.HandleAlarmEvent(ctx, alarm); err != nil || len(out.Environments) != 1 || out.Environments[0].Status != shiplog.StatusFailed {
		t.Fatalf("prod's alarm in its bake: %+v, %v; want deployment %s failed", out, err, prod2.DeploymentID)
	}
	failed, err := h.svc.Deployment(ctx, "storage", prod2.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if last := failed.StatusHistory[len(failed.StatusHistory)-1]; failed.Status != shiplog.StatusFailed || !strings.Contains(last.Detail, "storage-prod-5xx") {
		t.Fatalf("the failure recorded as %s (%+v), want failed naming the alarm", failed.Status, last)
	}
	if _, err := h.svc.HandleAlarmEvent(ctx, alarm); err != nil {
		t.Fatal(err)
	}
	back := h.current(t, "prod")
	if back.ReleaseID != r1 || back.RequestedBy.ID != "shiplog" || back.Lock == nil || back.Lock.Rollback != back.DeploymentID ||
		!strings.Contains(back.Lock.Reason, prod2.DeploymentID) || !strings.Contains(back.Lock.Reason, "5xx rate 12%") {
		t.Fatalf("prod after the failure: %+v (lock %+v), want %s rolled back to by shiplog, held with the failure as reason", back, back.Lock, r1)
	}
	h.report(t, prod2.DeploymentID, shiplog.StatusFailed, "5xx rate 12%")
	if again := h.current(t, "prod"); again.DeploymentID != back.DeploymentID {
		t.Fatalf("the failure reported again made deployment %s", again.DeploymentID)
	}
	evs, err := h.svc.Events(ctx, "storage", shiplog.EventFilter{Type: shiplog.EventDeploymentRequested}, shiplog.PageRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if e := evs.Items[0]; e.DeploymentID != back.DeploymentID || e.By.ID != "shiplog" || e.Detail["automatic"] != "auto_rollback" || e.Detail["kind"] != shiplog.KindRollback {
		t.Fatalf("the rollback's event: %+v", e)
	}

	// Held, prod is not promoted; unheld, r2 (rolled back there) is still not promoted again.
	h.clock.Advance(time.Minute)
	h.tick(t)
	if p := h.pending(t, "prod"); len(p.Waiting) == 0 && !strings.Contains(p.Idle, "rolled back") {
		t.Fatalf("held prod pending = %+v", p)
	}
	if _, err := h.svc.Unlock(ctx, "storage", "prod", alice); err != nil {
		t.Fatal(err)
	}
	h.tick(t)
	if got := h.current(t, "prod"); got.DeploymentID != back.DeploymentID {
		t.Fatalf("prod was deployed (%s of %s) after the hold was lifted; %s was rolled back there", got.DeploymentID, got.ReleaseID, r2)
	}
	if p := h.pending(t, "prod"); p.ReleaseID != r2 || !strings.Contains(p.Idle, "was rolled back in prod") {
		t.Fatalf("prod pending = %+v, want %s idle as rolled back", p, r2)
	}

	// A newer build goes through, once the alarm is back to OK (until then the alarms gate
	// refuses it).
	alarms.set("storage-prod-5xx", shiplog.AlarmOK, "", h.clock.Now())
	h.seedLabel(t, "latest", 3)
	h.tick(t)
	stage3 := h.current(t, "stage")
	h.report(t, stage3.DeploymentID, shiplog.StatusVerified, "")
	h.approve(t, stage3.ReleaseID)
	h.clock.Advance(31 * time.Minute)
	h.tick(t)
	if got := h.current(t, "prod"); got.ReleaseID != stage3.ReleaseID {
		t.Fatalf("prod runs %s, want the newer %s", got.ReleaseID, stage3.ReleaseID)
	}
}

// TestAutoRollbackRules: a failure rolls back only in an environment with auto_rollback, never a
// failed rollback, and not when nothing ran before.
func TestAutoRollbackRules(t *testing.T) {
	const entry = `{"name": "Storage service", "environments": [{"id": "stage", "auto_rollback": %s}, {"id": "prod"}],
		"image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}, {"id": "uk.ac.wellcome/bag-register", "services": [{"id": "bag-register"}]},
		{"id": "uk.ac.wellcome/bag_verifier", "services": ["bag_verifier_pre_replication", "bag_verifier_post_replication"]}, {"id": "uk.ac.wellcome/notifier"}]}`
	setup := func(t *testing.T, auto string) (*harness, shiplog.Release, shiplog.Release) {
		h := newHarness(t)
		if err := h.register(t, "storage", strings.Replace(entry, "%s", auto, 1)); err != nil {
			t.Fatal(err)
		}
		r1, r2 := h.createRelease(t, 1), h.createRelease(t, 2)
		h.deploy(t, r1.ID, "stage")
		return h, r1, r2
	}
	t.Run("off", func(t *testing.T) {
		h, _, r2 := setup(t, "false")
		d := h.deploy(t, r2.ID, "stage")
		h.report(t, d.Deployment.ID, shiplog.StatusFailed, "broken")
		if got := h.current(t, "stage"); got.DeploymentID != d.Deployment.ID {
			t.Fatalf("stage without auto_rollback was rolled back: %+v", got)
		}
	})
	t.Run("first deployment", func(t *testing.T) {
		h := newHarness(t)
		if err := h.register(t, "storage", strings.Replace(entry, "%s", "true", 1)); err != nil {
			t.Fatal(err)
		}
		d := h.deploy(t, h.createRelease(t, 1).ID, "stage")
		rec := h.report(t, d.Deployment.ID, shiplog.StatusFailed, "broken")
		if rec.Status != shiplog.StatusFailed || h.current(t, "stage").DeploymentID != d.Deployment.ID {
			t.Fatal("a failure with nothing to roll back to was not recorded as it is")
		}
	})
	t.Run("a failed rollback stays", func(t *testing.T) {
		h, r1, r2 := setup(t, "true")
		d := h.deploy(t, r2.ID, "stage")
		h.report(t, d.Deployment.ID, shiplog.StatusFailed, "broken")
		back := h.current(t, "stage")
		if back.ReleaseID != r1.ID {
			t.Fatalf("stage runs %s after the failure, want %s", back.ReleaseID, r1.ID)
		}
		// Unheld, so that only the rule keeps the rollback from being rolled back.
		if _, err := h.svc.Unlock(t.Context(), "storage", "stage", alice); err != nil {
			t.Fatal(err)
		}
		h.report(t, back.DeploymentID, shiplog.StatusFailed, "the old one is broken too")
		if got := h.current(t, "stage"); got.DeploymentID != back.DeploymentID {
			t.Fatalf("a failed automatic rollback was rolled back again: %+v", got)
		}
	})
	t.Run("a Service that does not automate leaves it to the tick", func(t *testing.T) {
		h, r1, r2 := setup(t, "true")
		h.svc.Automate = false
		d := h.deploy(t, r2.ID, "stage")
		h.report(t, d.Deployment.ID, shiplog.StatusFailed, "broken")
		if got := h.current(t, "stage"); got.DeploymentID != d.Deployment.ID {
			t.Fatalf("a Service that does not automate rolled back: %+v", got)
		}
		out := h.tick(t)
		if work(t, out, "automation").Actions != 1 {
			t.Fatalf("tick = %+v, want one rollback", out)
		}
		back := h.current(t, "stage")
		if back.ReleaseID != r1.ID || back.Lock == nil || !strings.Contains(back.Lock.Reason, "broken") {
			t.Fatalf("stage after the tick = %+v, want %s, held", back, r1.ID)
		}
		if out := h.tick(t); work(t, out, "automation").Actions != 0 {
			t.Fatalf("a second tick = %+v, want nothing", out)
		}
	})
	t.Run("verified then failed", func(t *testing.T) {
		h, r1, r2 := setup(t, "true")
		d := h.deploy(t, r2.ID, "stage")
		h.report(t, d.Deployment.ID, shiplog.StatusVerified, "")
		h.report(t, d.Deployment.ID, shiplog.StatusFailed, "broke later")
		if got := h.current(t, "stage"); got.ReleaseID != r1.ID || got.Lock == nil {
			t.Fatalf("stage = %+v, want %s, held", got, r1.ID)
		}
	})
}

// TestAutoPromoteRules: what auto-promotion does and does not do in one environment.
func TestAutoPromoteRules(t *testing.T) {
	const entry = `{"name": "Storage service", "environments": [{"id": "stage", "auto_promote": true}, {"id": "prod", "requires": ["stage"], "auto_promote": true}],
		"image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}, {"id": "uk.ac.wellcome/bag-register", "services": [{"id": "bag-register"}]},
		{"id": "uk.ac.wellcome/bag_verifier", "services": ["bag_verifier_pre_replication", "bag_verifier_post_replication"]}, {"id": "uk.ac.wellcome/notifier"}]}`
	setup := func(t *testing.T) *harness {
		h := newHarness(t)
		if err := h.register(t, "storage", entry); err != nil {
			t.Fatal(err)
		}
		return h
	}
	t.Run("a new release deploys to the first environment at once", func(t *testing.T) {
		h := setup(t)
		r := h.createRelease(t, 1)
		if got := h.current(t, "stage"); got == nil || got.ReleaseID != r.ID {
			t.Fatalf("stage = %+v, want %s", got, r.ID)
		}
		if h.current(t, "prod") != nil {
			t.Fatal("prod was deployed before the release was verified in stage")
		}
	})
	t.Run("verification promotes onwards at once", func(t *testing.T) {
		h := setup(t)
		r := h.createRelease(t, 1)
		h.report(t, h.current(t, "stage").DeploymentID, shiplog.StatusVerified, "")
		prod := h.current(t, "prod")
		if prod == nil || prod.ReleaseID != r.ID {
			t.Fatalf("prod = %+v, want %s promoted", prod, r.ID)
		}
		d, err := h.svc.Deployment(t.Context(), "storage", prod.DeploymentID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != shiplog.KindPromote || d.PromotedFrom != "stage" || d.Override != nil {
			t.Fatalf("prod's deployment = %+v, want a promotion from stage, no break glass", d.Deployment)
		}
	})
	t.Run("a locked environment is not deployed", func(t *testing.T) {
		h := setup(t)
		if _, err := h.svc.Lock(t.Context(), shiplog.LockInput{ProjectID: "storage", Environment: "stage", Reason: "investigating", RequestedBy: alice}); err != nil {
			t.Fatal(err)
		}
		h.createRelease(t, 1)
		if got := h.current(t, "stage"); got != nil {
			t.Fatalf("a locked stage was deployed: %+v", got)
		}
		p := h.pending(t, "stage")
		if p == nil || len(p.Waiting) != 1 || p.Waiting[0].Gate != "lock" {
			t.Fatalf("stage pending = %+v, want the lock refusing", p)
		}
	})
	t.Run("a frozen environment is not deployed", func(t *testing.T) {
		h := setup(t)
		now := h.clock.Now()
		if _, err := h.svc.PutFreeze(t.Context(), shiplog.FreezeInput{ProjectID: "storage", ID: "holidays", Environments: []string{"stage"},
			StartsAt: now.Unix(), EndsAt: now.Add(time.Hour).Unix(), Reason: "holidays", RequestedBy: alice}); err != nil {
			t.Fatal(err)
		}
		h.createRelease(t, 1)
		if got := h.current(t, "stage"); got != nil {
			t.Fatalf("a frozen stage was deployed: %+v", got)
		}
		h.clock.Advance(time.Hour)
		h.tick(t)
		if got := h.current(t, "stage"); got == nil {
			t.Fatal("the tick did not deploy once the freeze ended")
		}
	})
	t.Run("nothing to do writes nothing", func(t *testing.T) {
		h := setup(t)
		h.createRelease(t, 1)
		before := len(h.events(t, "storage"))
		out, err := h.svc.AutoPromote(t.Context(), "storage")
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || !strings.Contains(out[0].Idle, "runs release") || !strings.Contains(out[1].Idle, "no release runs verified") {
			t.Fatalf("AutoPromote = %+v", out)
		}
		if got := len(h.events(t, "storage")); got != before {
			t.Fatalf("AutoPromote with nothing to do wrote %d events", got-before)
		}
	})
	t.Run("a project without auto_promote", func(t *testing.T) {
		h := newHarness(t)
		out, err := h.svc.AutoPromote(t.Context(), "storage")
		if err != nil || out != nil {
			t.Fatalf("AutoPromote = %+v, %v; want nothing", out, err)
		}
		if p := h.pending(t, "stage"); p != nil {
			t.Fatalf("pending of a manual environment = %+v", p)
		}
	})
}

// TestAutomationManifest: auto_promote and auto_rollback as the manifest writes them, and what
// is refused.
func TestAutomationManifest(t *testing.T) {
	const repos = `"image_repositories": [{"id": "repo"}]`
	parse := func(envs string) ([]shiplog.Environment, error) {
		p, err := manifest.ParseProject("x", []byte(`{"name": "x", "environments": `+envs+`, `+repos+`}`))
		return p.Environments, err
	}
	ok := []struct {
		envs       string
		promote    bool
		from       string
		rollbackOn bool
	}{
		{`[{"id": "a"}]`, false, "", false},
		{`[{"id": "a", "auto_promote": true, "auto_rollback": true}]`, true, "", true},
		{`[{"id": "a", "auto_promote": false, "auto_rollback": false}]`, false, "", false},
		{`[{"id": "a", "auto_promote": null}]`, false, "", false},
		{`[{"id": "a", "auto_promote": {"from": "latest"}}]`, true, "latest", false},
		{`[{"id": "a", "auto_promote": {"from": "release"}}]`, true, "", false},
	}
	for _, c := range ok {
		envs, err := parse(c.envs)
		if err != nil {
			t.Errorf("%s: %v", c.envs, err)
			continue
		}
		if e := envs[0]; e.AutoPromote != c.promote || e.AutoPromoteFrom != c.from || e.AutoRollback != c.rollbackOn {
			t.Errorf("%s: got %+v", c.envs, e)
		}
	}
	bad := []struct{ envs, want string }{
		{`[{"id": "a", "auto_promote": "yes"}]`, `x.environments[0].auto_promote: got "yes", want true, false or {"from": "latest"}`},
		{`[{"id": "a", "auto_promote": {}}]`, `x.environments[0].auto_promote.from: is required`},
		{`[{"id": "a", "auto_promote": {"from": "newest"}}]`, `x.environments[0].auto_promote.from: "newest" is not "latest"`},
		{`[{"id": "a", "auto_promote": {"form": "latest"}}]`, `x.environments[0].auto_promote.form`},
		{`[{"id": "a"}, {"id": "b", "requires": ["a"], "auto_promote": {"from": "latest"}}]`, `x.environments[1].auto_promote.from: "latest" applies only to an environment that requires no other`},
		{`[{"id": "a", "auto_rollback": "true"}]`, `auto_rollback`},
	}
	for _, c := range bad {
		_, err := parse(c.envs)
		wantError(t, c.envs, err, shiplog.Invalid, c.want)
	}
	// Validate holds the Go shape too: from without auto_promote.
	err := shiplog.Project{ID: "x", Name: "x", Environments: []shiplog.Environment{{ID: "a", Name: "a", AutoPromoteFrom: "latest"}},
		ImageRepositories: []shiplog.ImageRepository{{ID: "repo", Services: []string{"repo"}}}}.Validate()
	wantError(t, "from without auto_promote", err, shiplog.Invalid, "x.environments[0].auto_promote.from: is set but auto_promote is not")
}

// work is the outcome of the tick's work named name.
func work(t *testing.T, out []shiplog.TickOutcome, name string) shiplog.TickOutcome {
	t.Helper()
	for _, o := range out {
		if o.Work == name {
			return o
		}
	}
	t.Fatalf("the tick did no %s: %+v", name, out)
	return shiplog.TickOutcome{}
}
