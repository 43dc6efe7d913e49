package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// routeRequests are, for TestRoutes, a query and body that make a route succeed on the seeded
// store (prod is the environment in the path), where the defaults do not.
var routeRequests = map[string]struct {
	setup               func(t *testing.T, e *testEnv)
	target, query, body string
}{
	"GET /projects/{project}/diff":                                              {query: "?from=environment:stage&to=release:latest"},
	"POST /projects/{project}/environments/{environment}/emergency-deployments": {body: `{"release_id":"{release}","reason":"route test"}`},
	"PUT /projects/{project}/environments/{environment}/lock":                   {target: "/projects/storage/environments/prod/lock", body: `{"reason":"route test"}`},
	"PUT /projects/{project}/freezes/{freeze}":                                  {target: "/projects/storage/freezes/window", body: `{"starts_at":1900000000,"ends_at":1900003600,"reason":"route test"}`},
	"POST /projects/{project}/environments/{environment}/deployments/{deployment}/status": {
		target: "/projects/storage/environments/stage/deployments/{deployment}/status", body: `{"status":"verified","detail":"route test"}`},
	"POST /projects/{project}/environments/{environment}/deployments/{deployment}/verify": {
		setup: onECS, target: "/projects/storage/environments/stage/deployments/{deployment}/verify"},
	"PUT /projects/{project}/environments/{environment}/freezes/{freeze}": {
		target: "/projects/storage/environments/prod/freezes/window", body: `{"starts_at":1900000000,"ends_at":1900003600,"reason":"route test"}`},
	"GET /projects/{project}/metrics": {query: "?environment=prod"},
	"POST /projects/{project}/environments/{environment}/rollback": {
		setup: func(t *testing.T, e *testEnv) { e.deployNewRelease(t, "prod") },
		body:  `{"reason":"route test"}`,
	},
	"POST /projects/{project}/environments/{environment}/approvals":   {setup: requireApprovals, body: `{"release_id":"{release}"}`},
	"DELETE /projects/{project}/environments/{environment}/approvals": {query: "?release_id={release}"},
	"GET /projects/{project}/releases/{release}/approvals":            {query: "?environment=prod"},
}

// retiredRoutes answer 410 and change nothing (TestEnvironmentScopedRoutes): they named no
// environment, so IAM could not scope them.
var retiredRoutes = map[string]bool{
	"POST /projects/{project}/deployments/{deployment}/status": true,
	"POST /projects/{project}/deployments/{deployment}/verify": true,
}

// deployNewRelease creates a release that changes archivist's image and deploys it.
func (e *testEnv) deployNewRelease(t *testing.T, env string) shiplog.Release {
	t.Helper()
	ctx := t.Context()
	e.imageN++
	if err := e.params.PutParameters(ctx, map[string]string{
		shiplog.ParameterName("storage", "latest", "archivist"): image("uk.ac.wellcome/archivist", 100+e.imageN),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: env}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDiffRoute(t *testing.T) {
	e := newTestEnv(t)
	rel := e.seedRelease(t)

	rec := e.do(t, "GET", "/projects/storage/diff?from=environment:stage&to=label:latest", "", nil)
	wantStatus(t, rec, http.StatusOK)
	got := decode[shiplog.Diff](t, rec)
	if got.From.ReleaseID != rel.ID || got.To.ReleaseID != "" || len(got.Services) != len(storageImages) {
		t.Errorf("diff: got %+v, want stage's release %s against the label's %d services", got, rel.ID, len(storageImages))
	}
	for _, c := range got.Services {
		if c.Change != "unchanged" || c.From == nil || *c.From != storageImages[c.Service] {
			t.Errorf("diff of %s: got %+v, want unchanged at %s", c.Service, c, storageImages[c.Service])
		}
	}
	// The JSON shape: absent sides are null, services is a list.
	if body := rec.Body.String(); !contains(body, `"from":{"ref":"environment:stage","release_id":"`+rel.ID+`"}`, `"to":{"ref":"label:latest"}`) {
		t.Errorf("diff body: got %s", body)
	}

	for _, tt := range []struct {
		target string
		status int
		want   string
	}{
		{"/projects/storage/diff?from=environment:prod&to=release:latest", 404, "nothing deployed"},
		{"/projects/storage/diff?from=label:nope&to=release:latest", 404, `label \"nope\"`},
		{"/projects/storage/diff?to=release:latest", 400, "from: is required"},
		{"/projects/storage/diff?from=release:latest&to=release:latest&x=1", 400, `\"x\" is not a parameter`},
		{"/projects/nope/diff?from=release:latest&to=release:latest", 404, "nope"},
	} {
		rec := e.do(t, "GET", tt.target, "", nil)
		if rec.Code != tt.status || !contains(rec.Body.String(), tt.want) {
			t.Errorf("GET %s: got %d %s, want %d mentioning %s", tt.target, rec.Code, rec.Body, tt.status, tt.want)
		}
	}
}

func contains(body string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(body, p) {
			return false
		}
	}
	return true
}

// TestWorkflowRoutes drives plan, promote, lock, break glass and rollback through the API, and
// checks that every refusal writes nothing.
func TestWorkflowRoutes(t *testing.T) {
	e := newTestEnv(t)
	carol := map[string]string{"X-Shiplog-User": "carol", "X-Shiplog-User-Name": "Carol"}
	first := e.seedRelease(t) // on stage

	refused := func(t *testing.T, method, target, body string, status int, parts ...string) {
		t.Helper()
		before := e.snapshot(t)
		rec := e.do(t, method, target, body, carol)
		if rec.Code != status || !contains(rec.Body.String(), parts...) {
			t.Errorf("%s %s %s: got %d %s, want %d mentioning %q", method, target, body, rec.Code, rec.Body, status, parts)
		}
		diff(t, "store after "+method+" "+target, e.snapshot(t), before)
	}

	// A dry run answers the plan and writes nothing.
	before := e.snapshot(t)
	rec := e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"from_environment":"stage","dry_run":true}`, carol)
	wantStatus(t, rec, http.StatusOK)
	plan := decode[shiplog.PlanResult](t, rec)
	if got := rec.Header().Get("Location"); got != "" {
		t.Errorf("a dry run has Location %q; it creates nothing", got)
	}
	if plan.Plan.ReleaseID != first.ID || plan.Plan.Kind != "promote" || len(plan.Plan.Services) != len(storageImages) || plan.Plan.Refusal != nil {
		t.Errorf("plan: got %+v, want a promotion of %s adding every service", plan.Plan, first.ID)
	}
	if !contains(rec.Body.String(), `"refusal":null`, `"change":"added","from":null`) {
		t.Errorf("plan body: got %s", rec.Body)
	}
	diff(t, "store after a dry run", e.snapshot(t), before)

	// Promote stage to prod.
	rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"from_environment":"stage","description":"go"}`, carol)
	wantStatus(t, rec, http.StatusCreated)
	res := decode[shiplog.DeployResult](t, rec)
	if res.Release.ID != first.ID || res.Deployment.Kind != "promote" || res.Deployment.PromotedFrom != "stage" {
		t.Errorf("promotion: got %+v of %s, want kind promote from stage of %s", res.Deployment, res.Release.ID, first.ID)
	}
	if got, want := rec.Header().Get("Location"), "/projects/storage/deployments/"+res.Deployment.ID; got != want {
		t.Errorf("promotion's Location: got %q, want %q", got, want)
	}
	refused(t, "POST", "/projects/storage/environments/prod/deployments", `{}`, 400, "release_id: is required")
	refused(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest","from_environment":"stage"}`, 400, "not both")

	// A lock says why, as a freeze does: a blank reason is none.
	refused(t, "PUT", "/projects/storage/environments/prod/lock", `{"reason":"   "}`, 400, "reason: is required: say why deploys must stop")

	// Lock prod: shown by the environments, and every deploy is refused with who, why, until.
	rec = e.do(t, "PUT", "/projects/storage/environments/prod/lock", `{"reason":"incident 9","expires_at":1900000000}`, carol)
	wantStatus(t, rec, http.StatusOK)
	wantLock := &shiplog.EnvironmentLock{Environment: "prod", Reason: "incident 9", LockedBy: shiplog.Person{ID: "carol", Name: "Carol", Via: shiplog.ViaAPI}, LockedAt: now.Unix(), ExpiresAt: 1900000000}
	diff(t, "lock", decode[httpapi.LockResponse](t, rec).Lock, wantLock)
	rec = e.do(t, "GET", "/projects/storage/environments", "", nil)
	envs := decode[httpapi.ItemsBody[shiplog.EnvironmentStatus]](t, rec).Items
	if envs[0].Lock != nil || envs[1].Lock == nil || *envs[1].Lock != *wantLock {
		t.Errorf("environments' locks: got %+v, %+v; want none on stage, %+v on prod", envs[0].Lock, envs[1].Lock, wantLock)
	}
	refused(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest"}`, 409, "locked by Carol (carol)", "incident 9", "until 2030-03-17T17:46:40Z")
	refused(t, "PUT", "/projects/storage/environments/prod/lock", `{}`, 400, "reason: is required")
	refused(t, "PUT", "/projects/storage/environments/prd/lock", `{"reason":"x"}`, 404, "stage, prod")
	rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest","dry_run":true}`, carol)
	wantStatus(t, rec, http.StatusOK)
	if p := decode[shiplog.PlanResult](t, rec).Plan; p.Refusal == nil || p.Refusal.Kind != "Conflict" || !contains(p.Refusal.Message, "locked by Carol") {
		t.Errorf("plan against the lock: got %+v, want a Conflict refusal naming Carol", p)
	}

	// Break glass passes the lock, and needs a reason.
	refused(t, "POST", "/projects/storage/environments/prod/emergency-deployments", `{"release_id":"latest"}`, 400, "reason: is required")
	second := e.deployNewRelease(t, "stage")
	rec = e.do(t, "POST", "/projects/storage/environments/prod/emergency-deployments", `{"release_id":"latest","reason":"hotfix"}`, carol)
	wantStatus(t, rec, http.StatusCreated)
	res = decode[shiplog.DeployResult](t, rec)
	diff(t, "override", res.Deployment.Override, &shiplog.Override{Reason: "hotfix", By: shiplog.Person{ID: "carol", Name: "Carol", Via: shiplog.ViaAPI}, Gates: []string{"lock"}})
	diff(t, "changes of the emergency deploy", res.Deployment.Changes, &shiplog.Changes{
		Changed: []string{"archivist"}, ParametersWritten: []string{"/storage/images/prod/archivist"},
	})
	if res.Release.ID != second.ID {
		t.Errorf("emergency deploy: got release %s, want %s", res.Release.ID, second.ID)
	}

	// Unlock, then roll back with a hold.
	rec = e.do(t, "DELETE", "/projects/storage/environments/prod/lock", "", carol)
	wantStatus(t, rec, http.StatusOK)
	if got := decode[httpapi.UnlockResponse](t, rec); got.Lock != nil || got.Removed == nil || *got.Removed != *wantLock {
		t.Errorf("unlock: got %+v, want the lock removed", got)
	}
	refused(t, "POST", "/projects/storage/environments/prod/rollback", `{}`, 400, "reason: is required")
	refused(t, "POST", "/projects/storage/environments/prod/rollback", `{"reason":" \t ","hold":true}`, 400, "reason: is required")
	refused(t, "POST", "/projects/storage/environments/prod/rollback", `{"reason":"x","to_deployment":"01JNOPE000000000000000000X"}`, 404, "01JNOPE000000000000000000X")
	rec = e.do(t, "POST", "/projects/storage/environments/prod/rollback", `{"reason":"slow uploads","hold":true}`, carol)
	wantStatus(t, rec, http.StatusCreated)
	rb := decode[shiplog.DeployResult](t, rec)
	if got, want := rec.Header().Get("Location"), "/projects/storage/deployments/"+rb.Deployment.ID; got != want {
		t.Errorf("rollback's Location: got %q, want %q", got, want)
	}
	if rb.Release.ID != first.ID || rb.Deployment.Kind != "rollback" || rb.Deployment.Reverts != res.Deployment.ID || rb.Deployment.Description != "slow uploads" {
		t.Errorf("rollback: got %+v of %s, want a rollback to %s reverting %s", rb.Deployment, rb.Release.ID, first.ID, res.Deployment.ID)
	}
	refused(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest"}`, 409, "slow uploads")
}

func TestFreezeRoutes(t *testing.T) {
	e := newTestEnv(t)
	e.seedRelease(t)
	carol := map[string]string{"X-Shiplog-User": "carol", "X-Shiplog-User-Name": "Carol"}
	start := now.Unix() - 60
	rec := e.do(t, "PUT", "/projects/storage/freezes/window", fmt.Sprintf(`{"environments":["prod"],"starts_at":%d,"ends_at":%d,"reason":"release week"}`, start, start+3600), carol)
	wantStatus(t, rec, http.StatusCreated) // a new freeze
	want := shiplog.Freeze{ID: "window", Environments: []string{"prod"}, StartsAt: start, EndsAt: start + 3600, Reason: "release week", CreatedBy: shiplog.Person{ID: "carol", Name: "Carol", Via: shiplog.ViaAPI}, CreatedAt: now.Unix()}
	diff(t, "freeze", decode[shiplog.Freeze](t, rec), want)
	rec = e.do(t, "GET", "/projects/storage/freezes", "", nil)
	wantStatus(t, rec, http.StatusOK)
	diff(t, "freezes", decode[httpapi.ItemsBody[shiplog.Freeze]](t, rec).Items, []shiplog.Freeze{want})

	before := e.snapshot(t)
	rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest"}`, carol)
	if rec.Code != 409 || !contains(rec.Body.String(), "freeze window", "release week") {
		t.Errorf("deploy in a freeze: got %d %s", rec.Code, rec.Body)
	}
	for _, tt := range []struct{ method, target, body, want string }{
		{"PUT", "/projects/storage/freezes/w2", `{"starts_at":1,"ends_at":2,"reason":"x"}`, "in the past"},
		{"PUT", "/projects/storage/freezes/w2", `{"starts_at":1,"ends_at":9999999999}`, "reason: is required"},
		{"PUT", "/projects/storage/freezes/w2", `{"environments":["prd"],"starts_at":1,"ends_at":9999999999,"reason":"x"}`, "prd"},
		{"DELETE", "/projects/storage/freezes/nope", "", "nope"},
	} {
		rec := e.do(t, tt.method, tt.target, tt.body, carol)
		if rec.Code < 400 || !contains(rec.Body.String(), tt.want) {
			t.Errorf("%s %s %s: got %d %s, want an error mentioning %s", tt.method, tt.target, tt.body, rec.Code, rec.Body, tt.want)
		}
	}
	diff(t, "store after refusals", e.snapshot(t), before)

	rec = e.do(t, "DELETE", "/projects/storage/freezes/window", "", carol)
	wantStatus(t, rec, http.StatusOK)
	diff(t, "deleted freeze", decode[shiplog.Freeze](t, rec), want)
	rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest"}`, carol)
	wantStatus(t, rec, http.StatusCreated)
}

func TestIdempotencyKeyHeader(t *testing.T) {
	e := newTestEnv(t)
	e.seedRelease(t)
	h := map[string]string{"X-Shiplog-User": "ci", "Idempotency-Key": "build-42"}
	rec := e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest"}`, h)
	wantStatus(t, rec, http.StatusCreated)
	first := rec.Body.String()
	before := e.snapshot(t)
	rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest"}`, h)
	wantStatus(t, rec, http.StatusCreated)
	if rec.Body.String() != first {
		t.Errorf("retry: got %s, want the original %s", rec.Body, first)
	}
	rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"latest","description":"other"}`, h)
	if rec.Code != http.StatusConflict || !contains(rec.Body.String(), "build-42", "another request") {
		t.Errorf("the key with another request: got %d %s, want 409", rec.Code, rec.Body)
	}
	diff(t, "store after a retry and a refusal", e.snapshot(t), before)
}

// After MaxLiveDeployKeys keyed deploys to an environment within a day, a new key is a 409 that
// names the bound, and a retry of the first key still answers its deployment.
func TestIdempotencyKeysKeptForADay(t *testing.T) {
	e := newTestEnv(t)
	e.seedRelease(t)
	deploy := func(n int) *httptest.ResponseRecorder {
		h := map[string]string{"X-Shiplog-User": "ci", "Idempotency-Key": fmt.Sprintf("build-%d", n)}
		return e.do(t, "POST", "/projects/storage/environments/stage/deployments", `{"release_id":"latest"}`, h)
	}
	rec := deploy(0)
	wantStatus(t, rec, http.StatusCreated)
	first := decode[shiplog.DeployResult](t, rec).Deployment.ID
	for n := 1; n < shiplog.MaxLiveDeployKeys; n++ {
		wantStatus(t, deploy(n), http.StatusCreated)
	}
	before := e.snapshot(t)
	rec = deploy(shiplog.MaxLiveDeployKeys)
	if rec.Code != http.StatusConflict || !contains(rec.Body.String(), "storage/stage", "idempotency keys", "deploy without a key") {
		t.Errorf("a new key past the bound: got %d %s, want 409 naming the bound", rec.Code, rec.Body)
	}
	rec = deploy(0)
	wantStatus(t, rec, http.StatusCreated)
	if got := decode[shiplog.DeployResult](t, rec).Deployment.ID; got != first {
		t.Errorf("retry of the first key: got deployment %s, want the original %s", got, first)
	}
	diff(t, "store after a refusal and a retry", e.snapshot(t), before)
}

// A create-release retried with its key answers the original, 201 with its Location, and writes
// nothing; the key with another request is 409.
func TestCreateReleaseIdempotencyKeyHeader(t *testing.T) {
	e := newTestEnv(t)
	e.seedRelease(t)
	h := map[string]string{"X-Shiplog-User": "ci", "Idempotency-Key": "4b825dc642cb6eb9a060e54bf8d69288fbee4904"}
	rec := e.do(t, "POST", "/projects/storage/releases", `{"description":"build 42"}`, h)
	wantStatus(t, rec, http.StatusCreated)
	first, location := rec.Body.String(), rec.Header().Get("Location")
	created := decode[shiplog.Release](t, rec)
	if location != "/projects/storage/releases/"+created.ID {
		t.Fatalf("Location: got %q, want the release's", location)
	}
	before := e.snapshot(t)
	rec = e.do(t, "POST", "/projects/storage/releases", `{"description":"build 42"}`, h)
	wantStatus(t, rec, http.StatusCreated)
	if rec.Body.String() != first || rec.Header().Get("Location") != location {
		t.Errorf("retry: got %s at %q, want the original %s at %q", rec.Body, rec.Header().Get("Location"), first, location)
	}
	rec = e.do(t, "POST", "/projects/storage/releases", `{"description":"build 43"}`, h)
	if rec.Code != http.StatusConflict || !contains(rec.Body.String(), `"kind":"Conflict"`, "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "another request", created.ID) {
		t.Errorf("the key with another request: got %d %s, want 409 naming the key and its release", rec.Code, rec.Body)
	}
	bad := map[string]string{"X-Shiplog-User": "ci", "Idempotency-Key": "not a key"}
	rec = e.do(t, "POST", "/projects/storage/releases", `{"description":"build 42"}`, bad)
	if rec.Code != http.StatusBadRequest || !contains(rec.Body.String(), "idempotency_key") {
		t.Errorf("a bad key: got %d %s, want 400 naming idempotency_key", rec.Code, rec.Body)
	}
	diff(t, "store after a retry and refusals", e.snapshot(t), before)
}

// runsEverything is a Runtime in which every service runs whatever image is asked about.
type runsEverything struct{ images map[string]string }

func (r runsEverything) Running(_ context.Context, _ string, services []string) (map[string]shiplog.ServiceRun, error) {
	out := map[string]shiplog.ServiceRun{}
	for _, s := range services {
		out[s] = shiplog.ServiceRun{Found: true, Images: []string{r.images[s]}, Rollout: shiplog.RolloutCompleted}
	}
	return out, nil
}

func (r runsEverything) Deployment(context.Context, string, string, string) (shiplog.ServiceDeployment, error) {
	return shiplog.ServiceDeployment{}, nil
}

// onECS makes storage's stage run on ECS, where every service runs stage's images.
func onECS(t *testing.T, e *testEnv) {
	t.Helper()
	ctx := t.Context()
	p, err := e.svc.Project(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	p.Environments[0].ECS = &shiplog.ECSTarget{Cluster: "storage"}
	if _, err := e.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	envs, err := e.svc.Environments(ctx, "storage")
	if err != nil || envs[0].Current == nil {
		t.Fatalf("stage: %v, %v", envs, err)
	}
	e.svc.Runtime = runsEverything{envs[0].Current.Images}
}

// TestEvents reads the event log through the API: newest first, filtered, paged, and refusing
// bad queries with a clear error; a refused request adds nothing to it.
func TestEvents(t *testing.T) {
	e := newTestEnv(t)
	rel := e.seedRelease(t)

	rec := e.do(t, "GET", "/projects/storage/events", "", nil)
	wantStatus(t, rec, http.StatusOK)
	all := decode[shiplog.Page[shiplog.Event]](t, rec)
	var types []string
	for _, ev := range all.Items {
		types = append(types, ev.Type)
	}
	wantTypes := []string{"deployment.applied", "deployment.requested", "release.created", "project.registered"}
	diff(t, "event types, newest first", types, wantTypes)
	if ev := all.Items[1]; ev.ReleaseID != rel.ID || ev.Environment != "stage" || ev.By.ID != "seeder" || ev.DeploymentID == "" {
		t.Errorf("deployment.requested event: got %+v", ev)
	}
	if all.NextCursor != "" {
		t.Errorf("one page of every event: got next_cursor %q", all.NextCursor)
	}
	// The JSON names are the ones the CLI and dashboard read.
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_id", "type", "at", "by", "project_id", "environment", "release_id", "deployment_id", "detail"} {
		if _, ok := raw.Items[1][k]; !ok {
			t.Errorf("deployment.requested event JSON has no %q: %v", k, raw.Items[1])
		}
	}

	rec = e.do(t, "GET", "/projects/storage/events?type=deployment.requested", "", nil)
	wantStatus(t, rec, http.StatusOK)
	if got := decode[shiplog.Page[shiplog.Event]](t, rec); len(got.Items) != 1 || got.Items[0].Type != "deployment.requested" {
		t.Errorf("events of one type: got %+v", got.Items)
	}
	rec = e.do(t, "GET", "/projects/storage/events?limit=3", "", nil)
	wantStatus(t, rec, http.StatusOK)
	first := decode[shiplog.Page[shiplog.Event]](t, rec)
	if len(first.Items) != 3 || first.NextCursor == "" {
		t.Fatalf("first page of 3: got %d events, cursor %q", len(first.Items), first.NextCursor)
	}
	rec = e.do(t, "GET", "/projects/storage/events?limit=3&cursor="+first.NextCursor, "", nil)
	wantStatus(t, rec, http.StatusOK)
	if second := decode[shiplog.Page[shiplog.Event]](t, rec); len(second.Items) != 1 || second.Items[0].Type != "project.registered" || second.NextCursor != "" {
		t.Errorf("second page: got %+v", second)
	}
	rec = e.do(t, "GET", fmt.Sprintf("/projects/storage/events?since=%d", now.Unix()+1), "", nil)
	wantStatus(t, rec, http.StatusOK)
	if got := decode[shiplog.Page[shiplog.Event]](t, rec); len(got.Items) != 0 {
		t.Errorf("events since after the last: got %+v", got.Items)
	}

	bad := []struct{ target, says string }{
		{"/projects/storage/events?type=nope", `type: \"nope\" is not an event type`},
		{"/projects/storage/events?since=yesterday", `since: \"yesterday\" is not a time in Unix seconds`},
		{"/projects/storage/events?limit=0", "limit: 0 is not between 1 and 100"},
		{"/projects/storage/events?cursor=nope", "cursor: is not a cursor this service returned"},
		{"/projects/storage/events?colour=red", "colour"},
	}
	for _, b := range bad {
		rec := e.do(t, "GET", b.target, "", nil)
		wantStatus(t, rec, http.StatusBadRequest)
		if !strings.Contains(rec.Body.String(), b.says) || !strings.Contains(rec.Body.String(), `"kind":"Invalid"`) {
			t.Errorf("GET %s: got %s, want an Invalid error saying %s", b.target, rec.Body, b.says)
		}
	}
	rec = e.do(t, "GET", "/projects/nope/events", "", nil)
	wantStatus(t, rec, http.StatusNotFound)

	// Refused requests write no event.
	before := e.snapshot(t)
	e.do(t, "PUT", "/projects/storage/environments/prod/lock", `{}`, nil) // no reason
	e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"nope"}`, nil)
	e.do(t, "POST", "/projects/storage/releases", `{"label":"empty"}`, nil)
	e.do(t, "DELETE", "/projects/storage/environments/prod/lock", ``, nil) // nothing to unlock
	diff(t, "store after refused requests", e.snapshot(t), before)
}
