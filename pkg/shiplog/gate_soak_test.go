package shiplog_test

import (
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// soakDeployment is a deployment of the release to env with the given status history, each a
// status and how long before gateNow it was set.
func soakDeployment(id, env string, history ...any) shiplog.Deployment {
	d := shiplog.Deployment{ID: id, Environment: shiplog.Environment{ID: env}}
	for i := 0; i < len(history); i += 2 {
		d.StatusHistory = append(d.StatusHistory, shiplog.StatusEntry{Status: history[i].(string), At: gateNow.Add(-history[i+1].(time.Duration)).Unix()})
		d.Status = history[i].(string)
	}
	return d
}

func TestSoakGate(t *testing.T) {
	soaked := shiplog.Environment{ID: "prod", Requires: []string{"stage", "qa"}, Soak: map[string]int64{"stage": 1800}}
	both := shiplog.Environment{ID: "prod", Requires: []string{"stage", "qa"}, Soak: map[string]int64{"stage": 1800, "qa": 600}}
	const (
		applied  = shiplog.StatusApplied
		verified = shiplog.StatusVerified
		failed   = shiplog.StatusFailed
	)
	in := func(env shiplog.Environment, kind string, ds ...shiplog.Deployment) shiplog.GateInput {
		return shiplog.GateInput{ProjectID: "storage", Environment: env, Release: shiplog.Release{ID: "r1", Deployments: ds}, Kind: kind, Now: gateNow}
	}
	verifiedAgo := func(ago time.Duration) string { return gateNow.Add(-ago).UTC().Format(time.RFC3339) }
	runGateCases(t, "soak", []gateCase{
		{name: "no soak", in: in(gateProd, shiplog.KindDeploy), allow: true, parts: []string{"prod requires no soak"}},
		{name: "soaked long enough", in: in(soaked, shiplog.KindPromote, soakDeployment("d1", "stage", applied, time.Hour, verified, 45*time.Minute)),
			allow: true, parts: []string{"release r1 has soaked 45m0s in stage (30m0s required) with no failure since"}},
		{name: "soaked exactly long enough", in: in(soaked, shiplog.KindDeploy, soakDeployment("d1", "stage", verified, 30*time.Minute)),
			allow: true, parts: []string{"soaked 30m0s in stage"}},
		{name: "still soaking", in: in(soaked, shiplog.KindPromote, soakDeployment("d1", "stage", applied, time.Hour, verified, 10*time.Minute)),
			parts:     []string{"release r1 cannot be deployed to prod yet", "it has soaked 10m0s in stage since it was verified at " + verifiedAgo(10*time.Minute), "of the 30m0s required, until " + verifiedAgo(-20*time.Minute)},
			retryWant: 20 * time.Minute},
		{name: "not verified", in: in(soaked, shiplog.KindDeploy, soakDeployment("d1", "stage", applied, time.Hour)),
			parts: []string{"it has not been verified in stage yet, and must soak 30m0s there once it is"}},
		{name: "verified elsewhere only", in: in(soaked, shiplog.KindDeploy, soakDeployment("d1", "qa", verified, 2*time.Hour)),
			parts: []string{"not been verified in stage"}},
		{name: "failed after it was verified", in: in(soaked, shiplog.KindDeploy, soakDeployment("d1", "stage", verified, 2*time.Hour, failed, time.Hour)),
			parts: []string{"it failed in stage at " + verifiedAgo(time.Hour) + " (deployment d1) and has not been verified there since"}},
		{name: "a later deployment failed", in: in(soaked, shiplog.KindDeploy,
			soakDeployment("d1", "stage", verified, 3*time.Hour), soakDeployment("d2", "stage", applied, 2*time.Hour, failed, time.Hour)),
			parts: []string{"(deployment d2)"}},
		{name: "verified again since the failure, soaked", in: in(soaked, shiplog.KindDeploy,
			soakDeployment("d1", "stage", verified, 3*time.Hour, failed, 2*time.Hour), soakDeployment("d2", "stage", verified, time.Hour)),
			allow: true, parts: []string{"soaked 1h0m0s in stage"}},
		{name: "verified again since the failure, still soaking", in: in(soaked, shiplog.KindDeploy,
			soakDeployment("d1", "stage", verified, 3*time.Hour, failed, 2*time.Hour), soakDeployment("d2", "stage", verified, 5*time.Minute)),
			parts: []string{"soaked 5m0s in stage"}, retryWant: 25 * time.Minute},
		{name: "two soaks, both waiting: the later end", in: in(both, shiplog.KindDeploy,
			soakDeployment("d1", "stage", verified, 20*time.Minute), soakDeployment("d2", "qa", verified, 8*time.Minute)),
			parts: []string{"soaked 20m0s in stage", "soaked 8m0s in qa"}, retryWant: 10 * time.Minute},
		{name: "two soaks, one not verified: no time", in: in(both, shiplog.KindDeploy, soakDeployment("d1", "stage", verified, 20*time.Minute)),
			parts: []string{"soaked 20m0s in stage", "not been verified in qa"}},
		{name: "a rollback passes", in: in(soaked, shiplog.KindRollback), allow: true, parts: []string{"a rollback", "not checked"}},
	})
}

func TestValidateSoak(t *testing.T) {
	project := func(prod shiplog.Environment) shiplog.Project {
		prod.ID, prod.Name = "prod", "prod"
		return shiplog.Project{ID: "x", Name: "x", Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}, prod},
			ImageRepositories: []shiplog.ImageRepository{{ID: "x/web", Services: []string{"web"}}}}
	}
	if err := project(shiplog.Environment{Requires: []string{"stage"}, Soak: map[string]int64{"stage": 60}}).Validate(); err != nil {
		t.Errorf("a valid soak: %v", err)
	}
	for _, tt := range []struct {
		name string
		env  shiplog.Environment
		want string
	}{
		{"a soak of an environment not required", shiplog.Environment{Soak: map[string]int64{"stage": 60}}, `x.environments[1].soak: "stage" is not one of the environments it requires`},
		{"zero", shiplog.Environment{Requires: []string{"stage"}, Soak: map[string]int64{"stage": 0}}, "x.environments[1].requires[0].soak: must be positive"},
		{"too long", shiplog.Environment{Requires: []string{"stage"}, Soak: map[string]int64{"stage": 1 << 62}}, "is longer than the limit"},
	} {
		err := project(tt.env).Validate()
		wantError(t, tt.name, err, shiplog.Invalid, tt.want)
	}
}

// TestSoakOnTheService: a promotion waits for the release's soak upstream, says when it ends,
// and goes once it has; a failure upstream starts it again.
func TestSoakOnTheService(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	if err := h.register(t, "soaked", `{"name": "Soaked", "environments": [{"id": "stage"},
		{"id": "prod", "requires": [{"environment": "stage", "soak": "30m"}]}], "image_repositories": [{"id": "soaked/web"}]}`); err != nil {
		t.Fatal(err)
	}
	if err := h.store.PutParameters(ctx, map[string]string{shiplog.ParameterName("soaked", "latest", "web"): image("soaked/web", 1)}); err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "soaked", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	stage, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "soaked", ReleaseID: r.ID, Environment: "stage", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	report := func(status string) {
		t.Helper()
		if _, err := h.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "soaked", DeploymentID: stage.Deployment.ID, Status: status, By: alice}); err != nil {
			t.Fatal(err)
		}
	}
	report(shiplog.StatusVerified)
	verifiedAt := h.clock.Now()
	promote := shiplog.DeployInput{ProjectID: "soaked", FromEnvironment: "stage", Environment: "prod", RequestedBy: alice}

	h.clock.Advance(10 * time.Minute)
	before := h.snapshot(t, "soaked")
	_, err = h.svc.Deploy(ctx, promote)
	wantError(t, "Promote 10 minutes after verification", err, shiplog.Conflict, "it has soaked 10m0s in stage", "until "+verifiedAt.Add(30*time.Minute).UTC().Format(time.RFC3339))
	h.wantUnchanged(t, "Promote before the soak ends", "soaked", before)
	plan, err := h.svc.Plan(ctx, promote)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range plan.Plan.Gates {
		switch g.Gate {
		case "requires":
			if !g.Allow {
				t.Errorf("the requires gate refuses a release verified in stage: %+v", g)
			}
		case "soak":
			if g.Allow || g.RetryAt != verifiedAt.Add(30*time.Minute).Unix() {
				t.Errorf("the soak gate: got %+v, want a refusal until %d", g, verifiedAt.Add(30*time.Minute).Unix())
			}
		}
	}

	// A failure in stage: plain requires still passes (verified once), the soak does not.
	report(shiplog.StatusFailed)
	h.clock.Advance(time.Hour)
	_, err = h.svc.Deploy(ctx, promote)
	wantError(t, "Promote after a failure upstream", err, shiplog.Conflict, "it failed in stage at", "has not been verified there since")

	// Deployed again to stage and verified, it soaks from then.
	if stage, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "soaked", ReleaseID: r.ID, Environment: "stage", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}
	report(shiplog.StatusVerified)
	h.clock.Advance(30 * time.Minute)
	res, err := h.svc.Deploy(ctx, promote)
	if err != nil {
		t.Fatalf("promote after the soak: %v", err)
	}
	if res.Deployment.Kind != shiplog.KindPromote || res.Release.ID != r.ID {
		t.Errorf("promotion after the soak: got %+v", res.Deployment)
	}
}
