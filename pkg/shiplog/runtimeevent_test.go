package shiplog_test

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The rules an ECS event must pass before it changes a deployment (issue 16, section 1): from
// where the environment's cluster is, dated after the deployment was applied, about the ECS
// deployment that rolls out the deployment's images.

// home is the stack's account and region in these tests.
var home = shiplog.Location{Account: "760097843905", Region: "eu-west-1"}

// prodOnECS is a harness whose prod runs storage's archivist as ECS service hatching of cluster
// bugfarm-prod (named without an ARN: in the stack's home), with release 1 deployed there and
// applied, and ECS deployment ecs-svc/1 of hatching rolling out its archivist image.
type prodOnECS struct {
	*harness
	rt      *fakeRuntime
	release shiplog.Release
	deploy  shiplog.Deployment
	applied int64
}

func newProdOnECS(t *testing.T, cluster string) *prodOnECS {
	t.Helper()
	h := newHarness(t)
	p, err := h.svc.Project(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	p.Environments[1].ECS = &shiplog.ECSTarget{Cluster: cluster, Services: map[string]string{"archivist": "hatching"}}
	if _, err := h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	rt := &fakeRuntime{runs: map[string]shiplog.ServiceRun{}, deployments: map[string]shiplog.ServiceDeployment{}}
	h.svc.Runtime = rt
	h.svc.Home = home
	r1 := h.createRelease(t, 1)
	applied := h.clock.Now().Unix()
	d := h.deploy(t, r1.ID, "prod").Deployment
	if d.Status != shiplog.StatusApplied {
		t.Fatalf("deployment %s: got %s, want applied", d.ID, d.Status)
	}
	rt.deployments[cluster+"/hatching/ecs-svc/1"] = shiplog.ServiceDeployment{
		Found: true, TaskDefinition: "arn:aws:ecs:eu-west-1:760097843905:task-definition/hatching:7",
		Images: []string{r1.Images["archivist"], "public.ecr.aws/datadog/agent:7"}, Rollout: shiplog.RolloutFailed,
	}
	return &prodOnECS{harness: h, rt: rt, release: r1, deploy: d, applied: applied}
}

// failed is a genuine ECS event: ECS failed deployment ecs-svc/1 of hatching, a minute ago.
func (f *prodOnECS) failed() shiplog.RuntimeEvent {
	return shiplog.RuntimeEvent{
		ID: "ev-1", Account: home.Account, Region: home.Region, Cluster: "bugfarm-prod", Service: "hatching",
		Deployment: "ecs-svc/1", Outcome: shiplog.RolloutFailed, Reason: "ECS deployment circuit breaker: task failed to start.",
		At: f.clock.Now().Add(-time.Minute).Unix(),
	}
}

// status is prod's deployment's status now, and how many statuses it has had.
func (f *prodOnECS) status(t *testing.T, id string) (string, int) {
	t.Helper()
	d, err := f.svc.Deployment(t.Context(), "storage", id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Status, len(d.StatusHistory)
}

func TestRuntimeEventRules(t *testing.T) {
	date := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.Unix()
	}
	tests := []struct {
		name    string
		cluster string // prod's ECS cluster; "" for bugfarm-prod
		edit    func(f *prodOnECS, ev *shiplog.RuntimeEvent)
		want    string // prod's status after
		ignored string // in the environment's Ignored; "" when the event acts
		whole   bool   // ignored as a whole, concerning no environment
	}{
		{name: "a genuine failure fails the deployment", want: shiplog.StatusFailed},
		{
			name: "the issue's reproduction: another account, another region, dated 2001",
			edit: func(_ *prodOnECS, ev *shiplog.RuntimeEvent) {
				ev.Account, ev.Region, ev.At = "999999999999", "us-east-1", date("2001-01-01T00:00:00Z")
			},
			want: shiplog.StatusApplied, ignored: "account 999999999999, region us-east-1",
		},
		{
			name: "another account",
			edit: func(_ *prodOnECS, ev *shiplog.RuntimeEvent) { ev.Account = "999999999999" },
			want: shiplog.StatusApplied, ignored: "account 999999999999",
		},
		{
			name: "another region",
			edit: func(_ *prodOnECS, ev *shiplog.RuntimeEvent) { ev.Region = "us-east-1" },
			want: shiplog.StatusApplied, ignored: "region us-east-1",
		},
		{
			name: "the stack does not know its home: a cluster named without an ARN matches nothing",
			edit: func(f *prodOnECS, _ *shiplog.RuntimeEvent) { f.svc.Home = shiplog.Location{} },
			want: shiplog.StatusApplied, ignored: "does not know its own account and region",
		},
		{
			name: "a real event dated before the deployment was applied",
			edit: func(f *prodOnECS, ev *shiplog.RuntimeEvent) { ev.At = f.applied - 1 },
			want: shiplog.StatusApplied, ignored: "before deployment",
		},
		{
			name: "an event dated in the future",
			edit: func(f *prodOnECS, ev *shiplog.RuntimeEvent) { ev.At = f.clock.Now().Add(time.Hour).Unix() },
			want: shiplog.StatusApplied, ignored: "ahead of this shiplog's clock", whole: true,
		},
		{
			name: "an ECS deployment whose task definition runs other images",
			edit: func(f *prodOnECS, ev *shiplog.RuntimeEvent) {
				f.rt.deployments["bugfarm-prod/hatching/ecs-svc/2"] = shiplog.ServiceDeployment{
					Found: true, TaskDefinition: "arn:aws:ecs:eu-west-1:760097843905:task-definition/hatching:6",
					Images: []string{image("uk.ac.wellcome/archivist", 9)}, Rollout: shiplog.RolloutFailed,
				}
				ev.Deployment = "ecs-svc/2"
			},
			want: shiplog.StatusApplied, ignored: "does not run deployment",
		},
		{
			name: "an ECS deployment that runs the same digest from another repository",
			edit: func(f *prodOnECS, ev *shiplog.RuntimeEvent) {
				f.rt.deployments["bugfarm-prod/hatching/ecs-svc/2"] = shiplog.ServiceDeployment{
					Found: true, TaskDefinition: "td:6", Images: []string{image("evil/archivist", 1)}, Rollout: shiplog.RolloutFailed,
				}
				ev.Deployment = "ecs-svc/2"
			},
			want: shiplog.StatusApplied, ignored: "does not run deployment",
		},
		{
			name: "a failure that names no ECS deployment, which ECS always does",
			edit: func(_ *prodOnECS, ev *shiplog.RuntimeEvent) { ev.Deployment = "" },
			want: shiplog.StatusApplied, ignored: "the failure names no ECS deployment",
		},
		{
			name: "an ECS deployment ECS does not list",
			edit: func(_ *prodOnECS, ev *shiplog.RuntimeEvent) { ev.Deployment = "ecs-svc/404" },
			want: shiplog.StatusApplied, ignored: "ECS does not list deployment ecs-svc/404",
		},
		{
			name:    "a cluster ARN says where: an event from there acts",
			cluster: "arn:aws:ecs:eu-west-2:111111111111:cluster/bugfarm-prod",
			edit: func(_ *prodOnECS, ev *shiplog.RuntimeEvent) {
				ev.Account, ev.Region = "111111111111", "eu-west-2"
			},
			want: shiplog.StatusFailed,
		},
		{
			name:    "a cluster ARN says where: an event from the stack's home does not",
			cluster: "arn:aws:ecs:eu-west-2:111111111111:cluster/bugfarm-prod",
			want:    shiplog.StatusApplied, ignored: "account 760097843905, region eu-west-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := tt.cluster
			if cluster == "" {
				cluster = "bugfarm-prod"
			}
			f := newProdOnECS(t, cluster)
			ev := f.failed()
			if tt.edit != nil {
				tt.edit(f, &ev)
			}
			_, before := f.status(t, f.deploy.ID)
			res, err := f.svc.HandleRuntimeEvent(t.Context(), ev)
			if err != nil {
				t.Fatalf("HandleRuntimeEvent: %v", err)
			}
			out := only(t, res)
			if tt.whole {
				out.ProjectID, out.Environment, out.DeploymentID, out.Status = "storage", "prod", f.deploy.ID, shiplog.StatusApplied
			}
			if out.ProjectID != "storage" || out.Environment != "prod" || out.DeploymentID != f.deploy.ID {
				t.Errorf("outcome: got %+v, want it to name storage/prod's deployment %s", out, f.deploy.ID)
			}
			if tt.ignored == "" && out.Ignored != "" || !strings.Contains(out.Ignored, tt.ignored) {
				t.Errorf("outcome's Ignored: got %q, want %q", out.Ignored, tt.ignored)
			}
			status, after := f.status(t, f.deploy.ID)
			if status != tt.want || out.Status != tt.want {
				t.Errorf("status: got %q (outcome %q), want %q", status, out.Status, tt.want)
			}
			if tt.want == shiplog.StatusApplied && after != before {
				t.Errorf("status history: got %d entries, want %d: an ignored event writes nothing", after, before)
			}
		})
	}
}

// TestRuntimeEventReplay: the dead-letter queue replayed after a redeploy delivers the old
// failure again; it concerned the deployment it failed, not the one now applied.
func TestRuntimeEventReplay(t *testing.T) {
	f := newProdOnECS(t, "bugfarm-prod")
	ev := f.failed()
	if _, err := f.svc.HandleRuntimeEvent(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.status(t, f.deploy.ID); s != shiplog.StatusFailed {
		t.Fatalf("the first delivery: got %s, want failed", s)
	}
	// The fix is the same images redeployed (a rollback would do the same): ECS rolls them
	// out again as a new ECS deployment, but the old event names the old one, and is older.
	redeploy := f.harness.deploy(t, f.release.ID, "prod").Deployment
	res, err := f.svc.HandleRuntimeEvent(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	out := only(t, res)
	if out.DeploymentID != redeploy.ID || !strings.Contains(out.Ignored, "before deployment "+redeploy.ID+" was applied") {
		t.Errorf("the replay: got %+v, want it ignored as older than %s", out, redeploy.ID)
	}
	if s, _ := f.status(t, redeploy.ID); s != shiplog.StatusApplied {
		t.Errorf("the redeployment after the replay: got %s, want applied", s)
	}
}

// TestRuntimeEventReason: ECS's reason is text from outside; what is recorded of it is bounded
// and has no control characters, whatever it was.
func TestRuntimeEventReason(t *testing.T) {
	f := newProdOnECS(t, "bugfarm-prod")
	ev := f.failed()
	ev.Reason = "task failed\x1b[2J\r\n2026-11-21 INFO deployment verified by alice\u2028\u0085" + strings.Repeat("x", 5000)
	if _, err := f.svc.HandleRuntimeEvent(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.Deployment(t.Context(), "storage", f.deploy.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := d.StatusHistory[len(d.StatusHistory)-1]
	if d.Status != shiplog.StatusFailed || !strings.HasPrefix(last.Detail, "ECS failed the rollout of hatching") {
		t.Fatalf("got %s with %q, want failed by ECS", d.Status, last.Detail)
	}
	if len(last.Detail) > shiplog.MaxDescriptionLength {
		t.Errorf("detail: %d bytes, want at most %d", len(last.Detail), shiplog.MaxDescriptionLength)
	}
	if i := strings.IndexFunc(last.Detail, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }); i >= 0 {
		t.Errorf("detail %q has a control character at %d", last.Detail[:min(len(last.Detail), 120)], i)
	}
	if !strings.Contains(last.Detail, "task failed") || !strings.Contains(last.Detail, "verified by alice") {
		t.Errorf("detail %q: want the reason's text kept", last.Detail[:min(len(last.Detail), 120)])
	}
}

// TestRuntimeEventTwoProjects: two projects claim ECS service hatching of bugfarm-prod; the event
// names the ECS deployment that rolls out storage's image, so storage's prod fails and twin's does
// not, and the answer says so of each.
func TestRuntimeEventTwoProjects(t *testing.T) {
	f := newProdOnECS(t, "bugfarm-prod")
	ctx := t.Context()
	if err := f.register(t, "twin", `{"name": "Twin", "environments": [{"id": "prod", "name": "Production",
		"ecs": {"cluster": "bugfarm-prod", "services": {"archivist": "hatching"}}}],
		"image_repositories": [{"id": "uk.ac.wellcome/archivist"}]}`); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("twin", "latest", "archivist"): image("uk.ac.wellcome/archivist", 2)}); err != nil {
		t.Fatal(err)
	}
	rel, err := f.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "twin", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	twin, err := f.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "twin", ReleaseID: rel.ID, Environment: "prod", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	ev := f.failed()
	ev.At = f.clock.Now().Unix()

	res, err := f.svc.HandleRuntimeEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Environments) != 2 {
		t.Fatalf("outcome: got %+v, want one answer for each of storage/prod and twin/prod", res)
	}
	for _, o := range res.Environments {
		switch o.ProjectID {
		case "storage":
			if o.Status != shiplog.StatusFailed || o.Ignored != "" || o.DeploymentID != f.deploy.ID {
				t.Errorf("storage/prod: got %+v, want %s failed", o, f.deploy.ID)
			}
		case "twin":
			if o.Status != shiplog.StatusApplied || !strings.Contains(o.Ignored, "does not run deployment") || o.DeploymentID != twin.Deployment.ID {
				t.Errorf("twin/prod: got %+v, want %s left applied, with why", o, twin.Deployment.ID)
			}
		default:
			t.Errorf("an answer for %s: want only storage and twin", o.ProjectID)
		}
	}
	if d, _ := f.svc.Deployment(ctx, "twin", twin.Deployment.ID); d.Status != shiplog.StatusApplied {
		t.Errorf("twin's deployment: got %s, want applied", d.Status)
	}
}

// TestRuntimeEventWithoutECS: the local stack has no Runtime. An event that passes the rules
// needs ECS to read the deployment it names, or what runs: it answers Unavailable and changes
// nothing; one that fails them says why, as anywhere.
func TestRuntimeEventWithoutECS(t *testing.T) {
	for _, outcome := range []string{shiplog.RolloutFailed, shiplog.RolloutCompleted} {
		t.Run(outcome, func(t *testing.T) {
			f := newProdOnECS(t, "bugfarm-prod")
			f.svc.Runtime = nil
			ev := f.failed()
			ev.Outcome = outcome
			_, before := f.status(t, f.deploy.ID)
			_, err := f.svc.HandleRuntimeEvent(t.Context(), ev)
			wantError(t, "an event that needs ECS, without ECS", err, shiplog.Unavailable, "no access to ECS")
			if s, after := f.status(t, f.deploy.ID); s != shiplog.StatusApplied || after != before {
				t.Errorf("deployment: got %s with %d statuses, want applied with %d", s, after, before)
			}
			ev.Account = "999999999999"
			res, err := f.svc.HandleRuntimeEvent(t.Context(), ev)
			if err != nil || !strings.Contains(only(t, res).Ignored, "account 999999999999") {
				t.Errorf("an event from another account, without ECS: got %+v, %v, want it ignored, with why", res, err)
			}
		})
	}
}
