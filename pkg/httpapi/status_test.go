package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/httpapi"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// wantMessage checks that an error answer's message says phrase.
func wantMessage(t *testing.T, rec *httptest.ResponseRecorder, phrase string) {
	t.Helper()
	if got := decode[httpapi.ErrorBody](t, rec).Error.Message; !strings.Contains(got, phrase) {
		t.Errorf("error message: got %q, want it to say %q", got, phrase)
	}
}

func TestStatusRoutes(t *testing.T) {
	bob := map[string]string{"X-Shiplog-User": "bob"}
	e := newTestEnv(t)
	e.seedRelease(t)
	staged, err := e.svc.Deployments(t.Context(), "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 1})
	if err != nil || len(staged.Items) != 1 {
		t.Fatalf("stage's deployment: %v, %v", staged.Items, err)
	}
	id := staged.Items[0].ID
	path := "/projects/storage/deployments/" + id
	report := "/projects/storage/environments/stage/deployments/" + id + "/status"

	rec := e.do(t, "GET", path, "", nil)
	wantStatus(t, rec, http.StatusOK)
	if got := decode[shiplog.DeploymentRecord](t, rec); got.ID != id || got.Status != shiplog.StatusApplied || got.ReleaseID == "" {
		t.Errorf("GET the deployment: got %+v, want %s applied with its release", got, id)
	}

	// Reports need a body that says what.
	for body, phrase := range map[string]string{
		``:                                    "request body",
		`{"status":"applied"}`:                "cannot be reported",
		`{"status":"verified","details":"x"}`: "detail",
		`{"state":"verified"}`:                "state",
	} {
		rec = e.do(t, "POST", report, body, bob)
		wantStatus(t, rec, http.StatusBadRequest)
		wantMessage(t, rec, phrase)
	}
	rec = e.do(t, "POST", "/projects/storage/environments/stage/deployments/01HNOSUCHDEPLOYMENT0000000/status", `{"status":"failed"}`, bob)
	wantStatus(t, rec, http.StatusNotFound)
	if got, _ := e.svc.Deployment(t.Context(), "storage", id); got.Status != shiplog.StatusApplied {
		t.Errorf("after refused reports: got status %q, want applied", got.Status)
	}

	rec = e.do(t, "POST", report, `{"status":"verified","detail":"smoke tests passed"}`, bob)
	wantStatus(t, rec, http.StatusOK)
	got := decode[shiplog.DeploymentRecord](t, rec)
	if got.Status != shiplog.StatusVerified || len(got.StatusHistory) != 3 || got.StatusHistory[2].By.ID != "bob" || got.StatusHistory[2].Detail != "smoke tests passed" {
		t.Errorf("report verified: got %+v, want verified by bob with the detail", got)
	}
	rec = e.do(t, "POST", report, `{"status":"verified"}`, bob)
	wantStatus(t, rec, http.StatusOK) // the same report again changes nothing
	rec = e.do(t, "POST", report, `{"status":"failed","detail":"5xx"}`, bob)
	wantStatus(t, rec, http.StatusOK)
	rec = e.do(t, "POST", report, `{"status":"verified"}`, bob)
	wantStatus(t, rec, http.StatusConflict)
	wantMessage(t, rec, "cannot become verified")

	rec = e.do(t, "GET", "/projects/storage/deployments/01HNOSUCHDEPLOYMENT0000000", "", nil)
	wantStatus(t, rec, http.StatusNotFound)
	wantMessage(t, rec, "no deployment")
}
