package shiplog_test

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// ecsHarness is a harness whose stage runs on ECS cluster storage-stage, as fakeRuntime says.
func ecsHarness(t *testing.T) (*harness, *fakeRuntime) {
	t.Helper()
	h := newHarness(t)
	p, err := h.svc.Project(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	p.Environments[0].ECS = &shiplog.ECSTarget{Cluster: "arn:aws:ecs:eu-west-1:760097843905:cluster/storage-stage"}
	if _, err := h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	rt := &fakeRuntime{runs: map[string]shiplog.ServiceRun{}, deployments: map[string]shiplog.ServiceDeployment{}}
	h.svc.Runtime = rt
	h.svc.Home = stageHome
	return h, rt
}

// stageHome is where ecsHarness's stage cluster is, and the harness's stack.
var stageHome = shiplog.Location{Account: "760097843905", Region: "eu-west-1"}

// stageEvent is an event from ECS about a service of stage's cluster, dated now.
func (h *harness) stageEvent(svc, outcome, reason string) shiplog.RuntimeEvent {
	return shiplog.RuntimeEvent{ID: "e", Account: stageHome.Account, Region: stageHome.Region, Cluster: "storage-stage", Service: svc,
		Outcome: outcome, Reason: reason, At: h.clock.Now().Unix()}
}

// only is the outcome of an event in the one environment it concerned, or the event's Ignored
// alone if it concerned none.
func only(t *testing.T, out shiplog.RuntimeOutcome) shiplog.EnvironmentOutcome {
	t.Helper()
	switch len(out.Environments) {
	case 0:
		return shiplog.EnvironmentOutcome{Ignored: out.Ignored}
	case 1:
		return out.Environments[0]
	}
	t.Fatalf("outcome %+v: concerns %d environments, want at most one", out, len(out.Environments))
	return shiplog.EnvironmentOutcome{}
}

// runAll makes the fake cluster run images, every rollout completed.
func (f *fakeRuntime) runAll(images map[string]string, rollout string) {
	for svc, uri := range images {
		f.runs["arn:aws:ecs:eu-west-1:760097843905:cluster/storage-stage/"+svc] = shiplog.ServiceRun{Found: true, Images: []string{uri}, Rollout: rollout}
	}
}

func TestRuntimeEventsVerify(t *testing.T) {
	h, rt := ecsHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	d := h.deploy(t, r1.ID, "stage").Deployment
	event := func(svc, outcome string) shiplog.EnvironmentOutcome {
		t.Helper()
		out, err := h.svc.HandleRuntimeEvent(ctx, h.stageEvent(svc, outcome, "circuit breaker"))
		if err != nil {
			t.Fatalf("HandleRuntimeEvent: %v", err)
		}
		return only(t, out)
	}

	// ECS still runs nothing of the release: a completed rollout of one service verifies nothing.
	out := event("archivist", shiplog.RolloutCompleted)
	if out.DeploymentID != d.ID || out.Status != shiplog.StatusApplied || out.Ignored == "" {
		t.Errorf("a completed rollout while the others still run old images: got %+v, want %s left applied, with why", out, d.ID)
	}
	out = event("nope", shiplog.RolloutCompleted)
	if out.ProjectID != "" || out.Ignored == "" {
		t.Errorf("an event of a service no environment runs: got %+v, want it ignored", out)
	}
	out = event("archivist", shiplog.RolloutInProgress)
	if out.Ignored == "" {
		t.Errorf("a rollout in progress: got %+v, want it ignored", out)
	}

	rt.runAll(r1.Images, shiplog.RolloutCompleted)
	out = event("notifier", shiplog.RolloutCompleted)
	if out.Status != shiplog.StatusVerified || out.Ignored != "" {
		t.Errorf("the last rollout completed: got %+v, want verified", out)
	}
	got, err := h.svc.Deployment(ctx, "storage", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := got.StatusHistory[len(got.StatusHistory)-1]
	if got.Status != shiplog.StatusVerified || last.By.ID != "ecs" {
		t.Errorf("the deployment: got %q by %+v, want verified by ecs", got.Status, last.By)
	}
	// The same event again, at least once as EventBridge delivers: nothing changes.
	out = event("notifier", shiplog.RolloutCompleted)
	if out.Ignored == "" || out.Status != shiplog.StatusVerified {
		t.Errorf("the same event again: got %+v, want it ignored", out)
	}
	again, _ := h.svc.Deployment(ctx, "storage", d.ID)
	if len(again.StatusHistory) != len(got.StatusHistory) {
		t.Errorf("history after a repeated event: got %d entries, want %d", len(again.StatusHistory), len(got.StatusHistory))
	}
}

func TestRuntimeEventsFail(t *testing.T) {
	h, rt := ecsHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	d := h.deploy(t, r1.ID, "stage").Deployment
	// ECS's deployment ecs-svc/1 of archivist rolls out the deployed image, and failed.
	rt.deployments["arn:aws:ecs:eu-west-1:760097843905:cluster/storage-stage/archivist/ecs-svc/1"] = shiplog.ServiceDeployment{
		Found: true, TaskDefinition: "td:1", Images: []string{r1.Images["archivist"]}, Rollout: shiplog.RolloutFailed,
	}
	ev := h.stageEvent("archivist", shiplog.RolloutFailed, "tasks failed to start")
	ev.Deployment = "ecs-svc/1"
	ran, err := h.svc.HandleRuntimeEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if out := only(t, ran); out.Status != shiplog.StatusFailed {
		t.Errorf("a failed rollout: got %+v, want the deployment failed", out)
	}
	got, _ := h.svc.Deployment(ctx, "storage", d.ID)
	if last := got.StatusHistory[len(got.StatusHistory)-1]; last.Detail != "ECS failed the rollout of archivist (ECS deployment ecs-svc/1): tasks failed to start" {
		t.Errorf("the failed entry: got %+v", last)
	}
	// Verify on demand says what runs, and a failed deployment stays failed.
	rt.runAll(r1.Images, shiplog.RolloutCompleted)
	res, err := h.svc.Verify(ctx, "storage", "", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deployment.Status != shiplog.StatusFailed || len(res.Checks) != len(r1.Images) {
		t.Errorf("Verify of a failed deployment: got %+v, want it still failed, with a check per service", res)
	}
}

func TestVerifyOnDemand(t *testing.T) {
	h, rt := ecsHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	d := h.deploy(t, r1.ID, "stage").Deployment

	rt.runAll(r1.Images, shiplog.RolloutInProgress)
	res, err := h.svc.Verify(ctx, "storage", "", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deployment.Status != shiplog.StatusApplied {
		t.Errorf("Verify mid-rollout: got %q, want applied", res.Deployment.Status)
	}
	for _, c := range res.Checks {
		if c.OK || c.Rollout != shiplog.RolloutInProgress || c.Recorded != r1.Images[c.Service] {
			t.Errorf("check of %s mid-rollout: got %+v", c.Service, c)
		}
	}
	rt.runAll(r1.Images, shiplog.RolloutCompleted)
	res, err = h.svc.Verify(ctx, "storage", "", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deployment.Status != shiplog.StatusVerified {
		t.Errorf("Verify once rolled out: got %q, want verified", res.Deployment.Status)
	}

	// prod names no cluster: verification is refused with what to do instead.
	dp := h.deploy(t, r1.ID, "prod").Deployment
	_, err = h.svc.Verify(ctx, "storage", "", dp.ID)
	wantError(t, "Verify in an environment without ECS", err, shiplog.Conflict, "names no ECS cluster", "report")
	h.svc.Runtime = nil
	_, err = h.svc.Verify(ctx, "storage", "", d.ID)
	wantError(t, "Verify without ECS access", err, shiplog.Unavailable, "no access to ECS")
}
