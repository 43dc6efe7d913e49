package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestEnvironmentScopedRoutes: every write on an environment names it in the path, so that an IAM
// resource pattern can scope it (docs/deploying.md, "The HTTP API and who may deploy where"). A request whose
// path names one environment never acts on another's deployment or freeze, and the routes that
// named none answer 410 and change nothing.
func TestEnvironmentScopedRoutes(t *testing.T) {
	bob := map[string]string{"X-Shiplog-User": "bob"}
	e := newTestEnv(t)
	rel := e.seedRelease(t) // deployed to stage
	res, err := e.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: rel.ID, Environment: "prod", RequestedBy: shiplog.Person{ID: "seeder"}})
	if err != nil {
		t.Fatal(err)
	}
	prodID := res.Deployment.ID
	onECS(t, e) // stage runs on ECS, so a verify of stage's deployment could decide
	start := now.Unix() + 60
	freeze := fmt.Sprintf(`{"starts_at":%d,"ends_at":%d,"reason":"release week"}`, start, start+3600)
	// prod's freeze, and one over every environment, set by an admin.
	for _, f := range []struct{ id, envs string }{{"prod-window", `["prod"]`}, {"everything", `[]`}} {
		body := fmt.Sprintf(`{"environments":%s,"starts_at":%d,"ends_at":%d,"reason":"release week"}`, f.envs, start, start+3600)
		wantStatus(t, e.do(t, "PUT", "/projects/storage/freezes/"+f.id, body, bob), http.StatusCreated)
	}
	before := e.snapshot(t)

	for _, tt := range []struct {
		name, method, target, body string
		status                     int
		phrase                     string
	}{
		{"prod's deployment reported through stage", "POST", "/projects/storage/environments/stage/deployments/" + prodID + "/status", `{"status":"failed"}`, http.StatusConflict, "prod, not stage"},
		{"prod's deployment verified through stage", "POST", "/projects/storage/environments/stage/deployments/" + prodID + "/verify", ``, http.StatusConflict, "prod, not stage"},
		{"a deployment of an unknown environment", "POST", "/projects/storage/environments/prd/deployments/" + prodID + "/status", `{"status":"failed"}`, http.StatusNotFound, "prd"},
		{"the old status route", "POST", "/projects/storage/deployments/" + prodID + "/status", `{"status":"failed"}`, http.StatusGone, "/environments/{environment}/deployments/"},
		{"the old verify route", "POST", "/projects/storage/deployments/" + prodID + "/verify", ``, http.StatusGone, "/environments/{environment}/deployments/"},
		{"prod's freeze lifted through stage", "DELETE", "/projects/storage/environments/stage/freezes/prod-window", ``, http.StatusNotFound, "no freeze"},
		{"prod's freeze rewritten through stage", "PUT", "/projects/storage/environments/stage/freezes/prod-window", freeze, http.StatusConflict, "covers prod"},
		{"a freeze of every environment lifted through stage", "DELETE", "/projects/storage/environments/stage/freezes/everything", ``, http.StatusConflict, "all environments"},
		{"a freeze of every environment rewritten through stage", "PUT", "/projects/storage/environments/stage/freezes/everything", freeze, http.StatusConflict, "all environments"},
		{"a freeze body naming environments", "PUT", "/projects/storage/environments/stage/freezes/new", fmt.Sprintf(`{"environments":["prod"],"starts_at":%d,"ends_at":%d,"reason":"x"}`, start, start+60), http.StatusBadRequest, "environments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(t, tt.method, tt.target, tt.body, bob)
			wantStatus(t, rec, tt.status)
			wantMessage(t, rec, tt.phrase)
			diff(t, "state after the refusal", e.snapshot(t), before)
		})
	}

	// Through its own environment's routes, each works.
	staged, err := e.svc.Deployments(t.Context(), "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 1})
	if err != nil || len(staged.Items) != 1 {
		t.Fatalf("stage's deployment: %v, %v", staged.Items, err)
	}
	stageID := staged.Items[0].ID
	rec := e.do(t, "POST", "/projects/storage/environments/prod/deployments/"+prodID+"/status", `{"status":"verified","detail":"smoke"}`, bob)
	wantStatus(t, rec, http.StatusOK)
	if got := decode[shiplog.DeploymentRecord](t, rec); got.ID != prodID || got.Status != shiplog.StatusVerified {
		t.Errorf("report through prod: got %s %s, want %s verified", got.ID, got.Status, prodID)
	}
	rec = e.do(t, "POST", "/projects/storage/environments/stage/deployments/"+stageID+"/verify", ``, bob)
	wantStatus(t, rec, http.StatusOK)
	if got := decode[shiplog.VerifyResult](t, rec); got.Deployment.ID != stageID || got.Deployment.Status != shiplog.StatusVerified {
		t.Errorf("verify through stage: got %s %s, want %s verified", got.Deployment.ID, got.Deployment.Status, stageID)
	}

	rec = e.do(t, "PUT", "/projects/storage/environments/stage/freezes/stage-window", freeze, bob)
	wantStatus(t, rec, http.StatusCreated)
	want := shiplog.Freeze{ID: "stage-window", Environments: []string{"stage"}, StartsAt: start, EndsAt: start + 3600, Reason: "release week",
		CreatedBy: shiplog.Person{ID: "bob", Name: "bob", Via: "api"}, CreatedAt: now.Unix()}
	diff(t, "stage's freeze", decode[shiplog.Freeze](t, rec), want)
	rec = e.do(t, "PUT", "/projects/storage/environments/stage/freezes/stage-window", fmt.Sprintf(`{"starts_at":%d,"ends_at":%d,"reason":"longer"}`, start, start+7200), bob)
	wantStatus(t, rec, http.StatusOK)
	rec = e.do(t, "DELETE", "/projects/storage/environments/prod/freezes/stage-window", ``, bob)
	wantStatus(t, rec, http.StatusNotFound)
	rec = e.do(t, "DELETE", "/projects/storage/environments/stage/freezes/stage-window", ``, bob)
	wantStatus(t, rec, http.StatusOK)
	rec = e.do(t, "DELETE", "/projects/storage/environments/prod/freezes/prod-window", ``, bob)
	wantStatus(t, rec, http.StatusOK)
	rec = e.do(t, "GET", "/projects/storage/freezes", "", nil)
	if got := decode[httpapi.ItemsBody[shiplog.Freeze]](t, rec).Items; len(got) != 1 || got[0].ID != "everything" {
		t.Errorf("freezes left: got %+v, want only everything", got)
	}
}
