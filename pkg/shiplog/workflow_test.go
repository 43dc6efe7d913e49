package shiplog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/manifest"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// stored is everything a deploy can change, to check that a refusal wrote nothing.
type stored struct {
	Releases    []shiplog.Release
	Deployments []shiplog.DeploymentRecord
	States      []shiplog.EnvironmentState
	Params      map[string]string
}

func (h *harness) stored(t *testing.T, project string) stored {
	t.Helper()
	ctx := t.Context()
	var out stored
	rels, err := h.store.ListReleases(ctx, project, shiplog.PageRequest{Limit: shiplog.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	out.Releases = rels.Items
	deps, err := h.store.ListDeployments(ctx, project, shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: shiplog.MaxPageLimit})
	if err != nil {
		t.Fatal(err)
	}
	out.Deployments = deps.Items
	if out.States, err = h.store.EnvironmentStates(ctx, project); err != nil {
		t.Fatal(err)
	}
	out.Params = map[string]string{}
	p, err := h.store.GetProject(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range p.EnvironmentIDs() {
		for k, v := range h.paramsUnder(t, project, env) {
			out.Params[env+"/"+k] = v
		}
	}
	return out
}

// snapshot is stored, having forgotten the PutParameters calls so far.
func (h *harness) snapshot(t *testing.T, project string) stored {
	t.Helper()
	h.params.takePuts()
	return h.stored(t, project)
}

// wantUnchanged fails unless the project's stored state is before, and no parameter was written.
func (h *harness) wantUnchanged(t *testing.T, what, project string, before stored) {
	t.Helper()
	if d := cmp.Diff(before, h.stored(t, project)); d != "" {
		t.Errorf("%s changed the store (-before +after):\n%s", what, d)
	}
	if puts := h.params.takePuts(); len(puts) != 0 {
		t.Errorf("%s: PutParameters calls: got %v, want none", what, puts)
	}
}

// gatedEntry is a project whose prod requires stage.
const gatedEntry = `{
  "name": "Gated",
  "environments": [{"id": "stage"}, {"id": "qa"}, {"id": "prod", "requires": ["stage", "qa"]}],
  "image_repositories": [{"id": "gated/web"}, {"id": "gated/api"}]
}`

// gatedRelease registers the gated project if need be and makes release n of it.
func (h *harness) gatedRelease(t *testing.T, n int) shiplog.Release {
	t.Helper()
	ctx := t.Context()
	p, err := manifest.ParseProject("gated", []byte(gatedEntry))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{
		shiplog.ParameterName("gated", "latest", "web"): image("gated/web", n),
		shiplog.ParameterName("gated", "latest", "api"): image("gated/api", n),
	}
	if err := h.store.PutParameters(ctx, params); err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "gated", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	return r
}

func TestDeployRecordsChanges(t *testing.T) {
	h := newHarness(t)
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "stage")
	h.params.takePuts()
	h.seedLabel(t, "latest", 2, "archivist", "notifier")
	r2, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	res := h.deploy(t, r2.ID, "stage")
	want := &shiplog.Changes{
		Changed:           []string{"archivist", "notifier"},
		ParametersWritten: []string{"/storage/images/stage/archivist", "/storage/images/stage/notifier"},
	}
	diff(t, "changes of the second deploy", res.Deployment.Changes, want)
	deps, err := h.store.ListDeployments(t.Context(), "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "changes as recorded", deps.Items[0].Changes, want)
	if res.Deployment.Kind != shiplog.KindDeploy {
		t.Errorf("kind: got %q, want deploy", res.Deployment.Kind)
	}
	// Deploying it again changes nothing, and says so.
	again := h.deploy(t, r2.ID, "stage")
	diff(t, "changes of a redeploy", again.Deployment.Changes, &shiplog.Changes{})
}

func TestPlan(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	reg := &fakeRegistry{missing: map[string]bool{}}
	h.svc.Registry = reg

	got, err := h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	var services []shiplog.ServiceChange
	var params []string
	for _, svc := range storageServices {
		services = append(services, shiplog.ServiceChange{Service: svc, Change: "added", To: ptr(r1.Images[svc])})
		params = append(params, "/storage/images/stage/"+svc)
	}
	diff(t, "plan of a first deploy", got, shiplog.PlanResult{Plan: shiplog.Plan{
		ReleaseID: r1.ID, Environment: "stage", Kind: "deploy", Services: services, ParametersToWrite: params,
		Gates: []shiplog.GateDecision{
			{Gate: "lock", Allow: true, Message: "storage/stage is not locked"},
			{Gate: "hold", Allow: true, Message: "storage/stage is not held by a rollback"},
			{Gate: "freeze", Allow: true, Message: "storage/stage is not frozen"},
			{Gate: "freeze_window", Allow: true, Message: "stage has no recurring freezes"},
			{Gate: "window", Allow: true, Message: "stage has no deploy windows: deploys go at any time"},
			{Gate: "requires", Allow: true, Message: "stage requires no other environment first"},
			{Gate: "soak", Allow: true, Message: "stage requires no soak"},
			{Gate: "approvals", Allow: true, Message: "stage requires no approvals"},
			{Gate: "alarms", Allow: true, Message: "stage names no alarms"},
			{Gate: "findings", Allow: true, Message: "stage sets no max_finding_severity"},
		},
	}})
	h.wantNothingDeployed(t, r1)
	if len(reg.checked) != 1 {
		t.Errorf("registry checks of a plan: got %d, want 1", len(reg.checked))
	}

	// A plan meets the refusal the deploy would, in the deploy's words, and writes nothing.
	reg.missing[r1.Images["notifier"]] = true
	_, deployErr := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy of a release with a missing image", deployErr, shiplog.Conflict, "notifier")
	got, err = h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "refusal of the plan", got.Plan.Refusal, &shiplog.Refusal{Kind: "Conflict", Message: shiplog.MessageOf(deployErr)})
	h.wantNothingDeployed(t, r1)

	// What makes the request itself wrong is an error, as for a deploy.
	_, err = h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prd"})
	wantError(t, "Plan to an unknown environment", err, shiplog.NotFound, "stage, prod")
	_, err = h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: testID(99), Environment: "stage"})
	wantError(t, "Plan of an unknown release", err, shiplog.NotFound, testID(99))
	h.wantNothingDeployed(t, r1)

	// Against a deployed environment, the plan shows the changes from what is there.
	reg.missing = map[string]bool{}
	h.deploy(t, r1.ID, "stage")
	h.params.takePuts()
	h.seedLabel(t, "latest", 2, "archivist")
	r2, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	before := h.snapshot(t, "storage")
	got, err = h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan.Services[0].Change != "changed" || got.Plan.Services[1].Change != "unchanged" || got.Plan.Refusal != nil {
		t.Errorf("plan of a second deploy: got %+v, want archivist changed, the rest unchanged, no refusal", got.Plan)
	}
	diff(t, "parameters the second deploy would write", got.Plan.ParametersToWrite, []string{"/storage/images/stage/archivist"})
	h.wantUnchanged(t, "Plan", "storage", before)
}

func TestPromoteAndGates(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.gatedRelease(t, 1)
	deploy := func(in shiplog.DeployInput) (shiplog.DeployResult, error) {
		in.ProjectID = "gated"
		in.RequestedBy = alice
		defer h.clock.Advance(time.Minute)
		return h.svc.Deploy(ctx, in)
	}

	// Refusals name what is missing and write nothing.
	before := h.snapshot(t, "gated")
	_, err := deploy(shiplog.DeployInput{ReleaseID: r1.ID, Environment: "prod"})
	wantError(t, "Deploy to prod before stage and qa", err, shiplog.Conflict, r1.ID, "not been verified in stage, qa")
	_, err = deploy(shiplog.DeployInput{FromEnvironment: "stage", Environment: "prod"})
	wantError(t, "Promote from an empty stage", err, shiplog.Conflict, "nothing is deployed in stage")
	h.wantUnchanged(t, "refused deploys", "gated", before)

	toStage, err := deploy(shiplog.DeployInput{ReleaseID: r1.ID, Environment: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	// Applied in stage is not enough: the gate is verified.
	_, err = deploy(shiplog.DeployInput{FromEnvironment: "stage", Environment: "prod"})
	wantError(t, "Promote to prod before stage is verified", err, shiplog.Conflict, "not been verified in stage, qa")
	report := func(d shiplog.Deployment) {
		t.Helper()
		if _, err := h.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "gated", DeploymentID: d.ID, Status: shiplog.StatusVerified, By: alice}); err != nil {
			t.Fatalf("report %s verified: %v", d.ID, err)
		}
	}
	report(toStage.Deployment)
	before = h.snapshot(t, "gated")
	_, promoteErr := deploy(shiplog.DeployInput{FromEnvironment: "stage", Environment: "prod"})
	wantError(t, "Promote to prod before qa", promoteErr, shiplog.Conflict, "not been verified in qa")
	h.wantUnchanged(t, "refused promotion", "gated", before)
	plan, err := h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "gated", FromEnvironment: "stage", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Plan.Refusal == nil || plan.Plan.Refusal.Message != shiplog.MessageOf(promoteErr) || plan.Plan.Kind != "promote" {
		t.Errorf("plan of the promotion: got %+v, want kind promote refused with %q", plan.Plan, promoteErr)
	}

	// Promoting stage to qa, then qa to prod, passes both gates.
	toQA, err := deploy(shiplog.DeployInput{FromEnvironment: "stage", Environment: "qa", Description: "to qa"})
	if err != nil {
		t.Fatal(err)
	}
	if toQA.Deployment.Kind != "promote" || toQA.Deployment.PromotedFrom != "stage" || toQA.Release.ID != r1.ID {
		t.Errorf("promotion to qa: got %+v, want kind promote from stage of %s", toQA.Deployment, r1.ID)
	}
	report(toQA.Deployment)
	toProd, err := deploy(shiplog.DeployInput{FromEnvironment: "qa", Environment: "prod"})
	if err != nil {
		t.Fatalf("promote qa → prod: %v", err)
	}
	deps, err := h.store.ListDeployments(ctx, "gated", shiplog.DeploymentFilter{Environment: "prod"}, shiplog.PageRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(deps.Items) != 1 || deps.Items[0].PromotedFrom != "qa" || deps.Items[0].Kind != "promote" || deps.Items[0].ID != toProd.Deployment.ID {
		t.Errorf("prod's deployments: got %+v, want the promotion from qa", deps.Items)
	}
	if env := toProd.Deployment.Environment; len(env.Requires) != 0 {
		t.Errorf("a deployment's environment carries the manifest's gates: %+v", env)
	}

	// Release 2 has been nowhere: a break-glass deploy passes the gates and records why and who.
	r2 := h.gatedRelease(t, 2)
	res, err := deploy(shiplog.DeployInput{ReleaseID: r2.ID, Environment: "prod", OverrideReason: "hotfix for incident 7"})
	if err != nil {
		t.Fatalf("emergency deploy: %v", err)
	}
	diff(t, "override", res.Deployment.Override, &shiplog.Override{Reason: "hotfix for incident 7", By: alice, Gates: []string{"requires"}})

	for _, tt := range []struct {
		name string
		in   shiplog.DeployInput
		kind shiplog.Kind
		want string
	}{
		{"both release and environment", shiplog.DeployInput{ReleaseID: r1.ID, FromEnvironment: "stage", Environment: "prod"}, shiplog.Invalid, "not both"},
		{"from itself", shiplog.DeployInput{FromEnvironment: "prod", Environment: "prod"}, shiplog.Invalid, "from_environment"},
		{"from an unknown environment", shiplog.DeployInput{FromEnvironment: "stg", Environment: "prod"}, shiplog.NotFound, `"stg"`},
		{"from a bad id", shiplog.DeployInput{FromEnvironment: "a b", Environment: "prod"}, shiplog.Invalid, "from_environment"},
		{"a blank override reason", shiplog.DeployInput{ReleaseID: r2.ID, Environment: "prod", OverrideReason: "  "}, shiplog.Invalid, "override_reason: is blank"},
	} {
		before := h.snapshot(t, "gated")
		_, err := deploy(tt.in)
		wantError(t, tt.name, err, tt.kind, tt.want)
		h.wantUnchanged(t, tt.name, "gated", before)
	}
}

func TestParseManifestRequires(t *testing.T) {
	entry := func(envs string) []byte {
		return []byte(`{"name": "x", "environments": ` + envs + `, "image_repositories": [{"id": "x/web"}]}`)
	}
	p, err := manifest.ParseProject("x", entry(`[{"id": "stage"}, {"id": "prod", "requires": ["stage"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "environments", p.Environments, []shiplog.Environment{{ID: "stage", Name: "stage"}, {ID: "prod", Name: "prod", Requires: []string{"stage"}}})
	for _, tt := range []struct {
		name, envs, want string
	}{
		{"an unknown environment", `[{"id": "prod", "requires": ["stage"]}]`, `x.environments[0].requires[0]: "stage" is not an environment`},
		{"itself", `[{"id": "prod", "requires": ["prod"]}]`, "cannot require itself"},
		{"twice", `[{"id": "a"}, {"id": "prod", "requires": ["a", "a"]}]`, "listed twice"},
		{"a cycle", `[{"id": "a", "requires": ["c"]}, {"id": "b", "requires": ["a"]}, {"id": "c", "requires": ["b"]}]`, "cycle (a -> c -> b -> a)"},
		{"a bad id", `[{"id": "prod", "requires": ["a/b"]}]`, "requires[0]"},
		{"not a list", `[{"id": "prod", "requires": "stage"}]`, "requires"},
	} {
		_, err := manifest.ParseProject("x", entry(tt.envs))
		wantError(t, "ParseProject requiring "+tt.name, err, shiplog.Invalid, tt.want)
	}
}

func TestLocks(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	bob := shiplog.Person{ID: "bob", Name: "Bob"}

	lockedAt := h.clock.Now().Unix()
	lock, err := h.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "prod", Reason: "incident 42", RequestedBy: bob})
	if err != nil {
		t.Fatal(err)
	}
	want := shiplog.EnvironmentLock{Environment: "prod", Reason: "incident 42", LockedBy: bob, LockedAt: lockedAt}
	diff(t, "lock", lock, want)
	envs, err := h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "environments with prod locked", envs, []shiplog.EnvironmentStatus{
		{Environment: shiplog.Environment{ID: "stage", Name: "Staging"}},
		{Environment: shiplog.Environment{ID: "prod", Name: "Production"}, Lock: &want},
	})

	// Every kind of deploy is refused, saying who, why and until when, and writes nothing.
	h.deploy(t, r1.ID, "stage")
	h.params.takePuts()
	before := h.snapshot(t, "storage")
	for _, in := range []shiplog.DeployInput{
		{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod"},
		{ProjectID: "storage", FromEnvironment: "stage", Environment: "prod"},
	} {
		_, err = h.svc.Deploy(ctx, in)
		wantError(t, "Deploy to a locked environment", err, shiplog.Conflict, "locked by Bob (bob)", `"incident 42"`, "until it is unlocked", "emergency")
	}
	h.wantUnchanged(t, "deploys to a locked environment", "storage", before)

	// A break-glass deploy passes the lock and leaves it in place.
	res, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod", OverrideReason: "the fix", RequestedBy: alice})
	if err != nil {
		t.Fatalf("emergency deploy: %v", err)
	}
	diff(t, "override", res.Deployment.Override, &shiplog.Override{Reason: "the fix", By: alice, Gates: []string{"lock"}})
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod"})
	wantError(t, "Deploy after the emergency deploy", err, shiplog.Conflict, "locked by Bob")

	// Unlocking answers the lock removed; unlocking again writes nothing.
	removed, err := h.svc.Unlock(ctx, "storage", "prod", alice)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "removed lock", removed, &want)
	before = h.snapshot(t, "storage")
	if removed, err := h.svc.Unlock(ctx, "storage", "prod", alice); err != nil || removed != nil {
		t.Errorf("Unlock of an unlocked environment: got %v, %v; want nil, nil", removed, err)
	}
	h.wantUnchanged(t, "Unlock of an unlocked environment", "storage", before)
	h.deploy(t, r1.ID, "prod")

	// A lock that expires says until when, and ends by itself.
	until := h.clock.Now().Add(time.Hour).Unix()
	if _, err := h.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "stage", Reason: "change window", ExpiresAt: until}); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy to a lock that expires", err, shiplog.Conflict, "until "+time.Unix(until, 0).UTC().Format(time.RFC3339))
	h.clock.Advance(time.Hour)
	h.deploy(t, r1.ID, "stage")
	envs, err = h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	if envs[0].Lock != nil {
		t.Errorf("an expired lock is shown: %+v", envs[0].Lock)
	}

	for _, tt := range []struct {
		name string
		in   shiplog.LockInput
		kind shiplog.Kind
		want string
	}{
		{"no reason", shiplog.LockInput{ProjectID: "storage", Environment: "prod"}, shiplog.Invalid, "reason: is required"},
		{"a blank reason", shiplog.LockInput{ProjectID: "storage", Environment: "prod", Reason: " \t\n "}, shiplog.Invalid, "reason: is required: say why deploys must stop"},
		{"expiry in the past", shiplog.LockInput{ProjectID: "storage", Environment: "prod", Reason: "x", ExpiresAt: h.clock.Now().Unix()}, shiplog.Invalid, "expires_at"},
		{"unknown environment", shiplog.LockInput{ProjectID: "storage", Environment: "prd", Reason: "x"}, shiplog.NotFound, "stage, prod"},
		{"unknown project", shiplog.LockInput{ProjectID: "nope", Environment: "prod", Reason: "x"}, shiplog.NotFound, "nope"},
	} {
		before := h.snapshot(t, "storage")
		_, err := h.svc.Lock(ctx, tt.in)
		wantError(t, "Lock with "+tt.name, err, tt.kind, tt.want)
		h.wantUnchanged(t, "Lock with "+tt.name, "storage", before)
	}
}

// hookParams runs a hook before writing parameters: a person acting while a deploy is writing.
type hookParams struct {
	shiplog.ParameterStore
	before func()
}

func (p *hookParams) PutParameters(ctx context.Context, params map[string]string) error {
	if p.before != nil {
		p.before()
	}
	return p.ParameterStore.PutParameters(ctx, params)
}

// A lock taken while a deploy writes its parameters does not break the deploy, which settles
// with the lock kept; the next deploy is refused.
func TestLockDuringDeploy(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	hook := &hookParams{ParameterStore: h.params}
	h.svc.Params = hook
	hook.before = func() {
		hook.before = nil
		if _, err := h.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "stage", Reason: "mid-deploy"}); err != nil {
			t.Errorf("Lock during a deploy: %v", err)
		}
	}
	res := h.deploy(t, r1.ID, "stage")
	states, err := h.store.EnvironmentStates(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	st := states[0]
	if st.DeploymentID != res.Deployment.ID || st.LockedUntil != 0 || len(st.Pending) != 0 || st.Lock == nil || st.Lock.Reason != "mid-deploy" || st.Version != 3 {
		t.Errorf("state after a lock during a deploy: got %+v, want the deployment settled (version 3) and locked", st)
	}
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy after the lock", err, shiplog.Conflict, "mid-deploy")
}

func TestRollback(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	r2 := h.createRelease(t, 2)
	rollback := func(in shiplog.RollbackInput) (shiplog.DeployResult, error) {
		in.ProjectID = "storage"
		in.RequestedBy = alice
		defer h.clock.Advance(time.Minute)
		return h.svc.Rollback(ctx, in)
	}

	before := h.snapshot(t, "storage")
	_, err := rollback(shiplog.RollbackInput{Environment: "stage", Reason: "bad"})
	wantError(t, "Rollback of an empty environment", err, shiplog.Conflict, "nothing to roll back")
	d1 := h.deploy(t, r1.ID, "stage").Deployment
	_, err = rollback(shiplog.RollbackInput{Environment: "stage", Reason: "bad"})
	wantError(t, "Rollback with one release", err, shiplog.Conflict, "no earlier release")
	h.deploy(t, r2.ID, "stage")
	cur := h.deploy(t, r2.ID, "stage").Deployment // the same release twice: the rollback skips it
	h.params.takePuts()
	before = h.snapshot(t, "storage")
	for _, tt := range []struct {
		name string
		in   shiplog.RollbackInput
		kind shiplog.Kind
		want string
	}{
		{"no reason", shiplog.RollbackInput{Environment: "stage"}, shiplog.Invalid, "reason: is required"},
		{"a blank reason, held", shiplog.RollbackInput{Environment: "stage", Reason: "   ", Hold: true}, shiplog.Invalid, "reason: is required"},
		{"an unknown deployment", shiplog.RollbackInput{Environment: "stage", Reason: "x", ToDeployment: testID(99)}, shiplog.NotFound, testID(99)},
		{"a deployment of the current release", shiplog.RollbackInput{Environment: "stage", Reason: "x", ToDeployment: cur.ID}, shiplog.Conflict, "runs already"},
		{"an unknown environment", shiplog.RollbackInput{Environment: "prd", Reason: "x"}, shiplog.NotFound, "stage, prod"},
	} {
		_, err := rollback(tt.in)
		wantError(t, "Rollback with "+tt.name, err, tt.kind, tt.want)
	}
	h.wantUnchanged(t, "refused rollbacks", "storage", before)

	plan, err := h.svc.PlanRollback(ctx, shiplog.RollbackInput{ProjectID: "storage", Environment: "stage", Reason: "bad"})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Plan.Kind != "rollback" || plan.Plan.ReleaseID != r1.ID || plan.Plan.Refusal != nil {
		t.Errorf("plan of the rollback: got %+v, want a rollback to %s", plan.Plan, r1.ID)
	}
	h.wantUnchanged(t, "PlanRollback", "storage", before)

	res, err := rollback(shiplog.RollbackInput{Environment: "stage", Reason: "errors on upload", Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	d := res.Deployment
	if res.Release.ID != r1.ID || d.Kind != "rollback" || d.Reverts != cur.ID || d.Description != "errors on upload" {
		t.Errorf("rollback: got release %s and %+v, want release %s, kind rollback, reverting %s", res.Release.ID, d, r1.ID, cur.ID)
	}
	diff(t, "parameters after the rollback", h.paramsUnder(t, "storage", "stage"), r1.Images)
	// The hold locks the environment in the same write: the next deploy is refused.
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage"})
	wantError(t, "Deploy after a rollback with a hold", err, shiplog.Conflict, `"errors on upload"`, alice.Name)
	// And a rollback meets the lock like any deploy.
	_, err = rollback(shiplog.RollbackInput{Environment: "stage", Reason: "again", ToDeployment: cur.ID})
	wantError(t, "Rollback of a held environment", err, shiplog.Conflict, "locked")

	if _, err := h.svc.Unlock(ctx, "storage", "stage", alice); err != nil {
		t.Fatal(err)
	}
	// Rolling back the rollback, to a named deployment.
	res, err = rollback(shiplog.RollbackInput{Environment: "stage", Reason: "fixed after all", ToDeployment: cur.ID})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.ID != r2.ID || res.Deployment.Reverts != d.ID {
		t.Errorf("rollback to a named deployment: got release %s reverting %s, want %s reverting %s", res.Release.ID, res.Deployment.Reverts, r2.ID, d.ID)
	}
	_ = d1
}

func TestFreezes(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "stage")
	now := h.clock.Now().Unix()
	bob := shiplog.Person{ID: "bob", Name: "Bob"}

	// A freeze of prod from in an hour for two hours, and one of everything later on.
	window, err := h.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "storage", ID: "release-week", Environments: []string{"prod"},
		StartsAt: now + 3600, EndsAt: now + 3*3600, Reason: "release week", RequestedBy: bob})
	if err != nil {
		t.Fatal(err)
	}
	want := shiplog.Freeze{ID: "release-week", Environments: []string{"prod"}, StartsAt: now + 3600, EndsAt: now + 3*3600, Reason: "release week", CreatedBy: bob, CreatedAt: now}
	diff(t, "freeze", window, want)
	all, err := h.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "storage", ID: "holidays", StartsAt: now + 10*3600, EndsAt: now + 20*3600, Reason: "holidays"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.svc.Freezes(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "freezes", got, []shiplog.Freeze{want, all})

	// Before the window, deploys go ahead; inside it, deploys to prod are refused and write nothing.
	h.deploy(t, r1.ID, "prod")
	h.clock.Advance(time.Hour)
	before := h.snapshot(t, "storage")
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod"})
	wantError(t, "Deploy in a freeze", err, shiplog.Conflict, "freeze release-week", `"release week"`, "until "+time.Unix(now+3*3600, 0).UTC().Format(time.RFC3339))
	h.wantUnchanged(t, "Deploy in a freeze", "storage", before)
	plan, err := h.svc.Plan(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod"})
	if err != nil || plan.Plan.Refusal == nil || !contains(plan.Plan.Refusal.Message, "freeze release-week") {
		t.Errorf("plan in a freeze: got %+v, %v; want the freeze's refusal", plan.Plan, err)
	}
	h.deploy(t, r1.ID, "stage") // not frozen
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod", OverrideReason: "hotfix"}); err != nil {
		t.Errorf("emergency deploy in a freeze: %v", err)
	}

	// Replacing the freeze to cover stage too moves it; deleting it lifts it.
	if _, err := h.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "storage", ID: "release-week", Environments: []string{"stage"},
		StartsAt: now, EndsAt: now + 3*3600, Reason: "moved"}); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy to stage in the moved freeze", err, shiplog.Conflict, "moved")
	h.deploy(t, r1.ID, "prod")
	removed, err := h.svc.DeleteFreeze(ctx, "storage", "release-week", alice)
	if err != nil || removed.Reason != "moved" {
		t.Errorf("DeleteFreeze: got %+v, %v", removed, err)
	}
	h.deploy(t, r1.ID, "stage")
	_, err = h.svc.DeleteFreeze(ctx, "storage", "release-week", alice)
	wantError(t, "DeleteFreeze again", err, shiplog.NotFound, "release-week")

	// The freeze of all environments holds in its window; once ended it is no longer listed.
	h.clock.Advance(10 * time.Hour)
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy in the freeze of all environments", err, shiplog.Conflict, "holidays")
	h.clock.Advance(10 * time.Hour)
	h.deploy(t, r1.ID, "stage")
	if got, _ := h.svc.Freezes(ctx, "storage"); len(got) != 0 {
		t.Errorf("freezes after they ended: got %+v, want none", got)
	}

	for _, tt := range []struct {
		name string
		in   shiplog.FreezeInput
		kind shiplog.Kind
		want string
	}{
		{"no reason", shiplog.FreezeInput{ID: "f", StartsAt: 1, EndsAt: 9_999_999_999}, shiplog.Invalid, "reason: is required"},
		{"a blank reason", shiplog.FreezeInput{ID: "f", StartsAt: 1, EndsAt: 9_999_999_999, Reason: "   "}, shiplog.Invalid, "reason: is required"},
		{"no start", shiplog.FreezeInput{ID: "f", EndsAt: 9_999_999_999, Reason: "x"}, shiplog.Invalid, "starts_at: is required"},
		{"end before start", shiplog.FreezeInput{ID: "f", StartsAt: 9_999_999_999, EndsAt: 9_999_999_000, Reason: "x"}, shiplog.Invalid, "not after starts_at"},
		{"end in the past", shiplog.FreezeInput{ID: "f", StartsAt: 1, EndsAt: 2, Reason: "x"}, shiplog.Invalid, "in the past"},
		{"unknown environment", shiplog.FreezeInput{ID: "f", StartsAt: 1, EndsAt: 9_999_999_999, Reason: "x", Environments: []string{"prd"}}, shiplog.NotFound, `environments[0]: "prd"`},
		{"bad id", shiplog.FreezeInput{ID: "a/b", StartsAt: 1, EndsAt: 9_999_999_999, Reason: "x"}, shiplog.Invalid, "freeze"},
	} {
		tt.in.ProjectID = "storage"
		before := h.snapshot(t, "storage")
		_, err := h.svc.PutFreeze(ctx, tt.in)
		wantError(t, "PutFreeze with "+tt.name, err, tt.kind, tt.want)
		h.wantUnchanged(t, "PutFreeze with "+tt.name, "storage", before)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// hookStore runs a hook before the first environment write: a person acting between a deploy's
// read and its record.
type hookStore struct {
	shiplog.Store
	before func()
}

func (s *hookStore) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	if hook := s.before; hook != nil {
		s.before = nil
		hook()
	}
	return s.Store.WriteEnvironment(ctx, w)
}

// A freeze that starts between a deploy's read and its record makes the record lose the race;
// the deploy reads again and is refused, having written nothing.
func TestFreezeStartsMidDeploy(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	h.deploy(t, r1.ID, "prod")
	now := h.clock.Now().Unix()
	store := &hookStore{Store: h.store}
	h.svc.Store = store
	before := h.snapshot(t, "storage")
	var freezeState shiplog.EnvironmentState
	store.before = func() {
		if _, err := h.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "storage", ID: "now", Environments: []string{"prod"}, StartsAt: now, EndsAt: now + 60, Reason: "incident"}); err != nil {
			t.Errorf("PutFreeze: %v", err)
		}
		states, _ := h.store.EnvironmentStates(ctx, "storage")
		freezeState = states[0]
	}
	_, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "prod"})
	wantError(t, "Deploy racing a freeze", err, shiplog.Conflict, "freeze now")
	before.States = []shiplog.EnvironmentState{freezeState}
	h.wantUnchanged(t, "Deploy racing a freeze", "storage", before)
	if len(freezeState.Freezes) != 1 {
		t.Errorf("state written by the freeze: got %+v, want the freeze on it", freezeState)
	}
}
