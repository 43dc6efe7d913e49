package httpapi_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// requireApprovals registers storage again with prod needing approvals: required of alice, bob
// and the test's fallback caller (os-user).
func requireApprovals(t *testing.T, e *testEnv) { requireApprovalsOf(t, e, 1) }

func requireApprovalsOf(t *testing.T, e *testEnv, required int) {
	t.Helper()
	data, err := os.ReadFile("testdata/wellcome_project.json")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.ID != "storage" {
			continue
		}
		for i := range p.Environments {
			if p.Environments[i].ID == "prod" {
				p.Environments[i].Approvals = &shiplog.Approvals{Required: required, From: []string{"alice", "bob", fallback.ID}}
			}
		}
		if _, err := e.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestApprovalRoutes: the caller approves (once, whatever the retries), lists, is refused where
// it may not approve, and withdraws; the deploy waits for the approvals and names who may still
// give them.
func TestApprovalRoutes(t *testing.T) {
	e := newTestEnv(t)
	rel := e.seedRelease(t)
	requireApprovalsOf(t, e, 2)
	path := "/projects/storage/environments/prod/approvals"
	as := func(id string) map[string]string { return map[string]string{"X-Shiplog-User": id} }
	body := `{"release_id":"` + rel.ID + `"}`

	rec := e.do(t, "POST", "/projects/storage/environments/prod/deployments", body, as("carol"))
	wantStatus(t, rec, http.StatusConflict)
	if !strings.Contains(rec.Body.String(), "has 0 of the 2 approvals prod requires") || !strings.Contains(rec.Body.String(), "who may still approve: alice, bob, os-user") {
		t.Errorf("deploy with no approvals: got %s", rec.Body)
	}

	for range 2 { // approving again is the same answer
		rec = e.do(t, "POST", path, body, as("alice"))
		wantStatus(t, rec, http.StatusOK)
	}
	st := decode[shiplog.ApprovalStatus](t, rec)
	if st.Changed || len(st.Approvals) != 1 || st.Approvals[0].By.ID != "alice" || st.Approvals[0].By.Via != shiplog.ViaAPI || st.Required != 2 || st.Approved {
		t.Errorf("approval again: got %+v", st)
	}
	wantStatus(t, e.do(t, "POST", path, body, as("bob")), http.StatusOK)
	rec = e.do(t, "GET", "/projects/storage/releases/"+rel.ID+"/approvals?environment=prod", "", nil)
	wantStatus(t, rec, http.StatusOK)
	if st := decode[shiplog.ApprovalStatus](t, rec); !st.Approved || strings.Join(st.Counted, ",") != "alice,bob" {
		t.Errorf("listing: got %+v", st)
	}
	rec = e.do(t, "POST", path, body, as("mallory"))
	wantStatus(t, rec, http.StatusForbidden)
	if !strings.Contains(rec.Body.String(), "mallory may not approve deploys to storage/prod") {
		t.Errorf("a stranger's approval: got %s", rec.Body)
	}
	rec = e.do(t, "POST", "/projects/storage/environments/stage/approvals", body, as("alice"))
	wantStatus(t, rec, http.StatusConflict)

	// bob withdraws (the release in the query): the deploy is refused again.
	rec = e.do(t, "DELETE", path+"?release_id="+rel.ID, "", as("bob"))
	wantStatus(t, rec, http.StatusOK)
	if st := decode[shiplog.ApprovalStatus](t, rec); !st.Changed || st.Approved {
		t.Errorf("withdrawal: got %+v", st)
	}
	rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", body, as("carol"))
	wantStatus(t, rec, http.StatusConflict)
	wantStatus(t, e.do(t, "POST", path, body, as("bob")), http.StatusOK)
	wantStatus(t, e.do(t, "POST", "/projects/storage/environments/prod/deployments", body, as("carol")), http.StatusCreated)

	evs, err := e.svc.Events(t.Context(), "storage", shiplog.EventFilter{Type: shiplog.EventApprovalGranted}, shiplog.PageRequest{Limit: 10})
	if err != nil || len(evs.Items) != 3 {
		t.Errorf("approval.granted events: got %d (%v), want 3 (alice, bob, bob again after withdrawing)", len(evs.Items), err)
	}

	// Bad requests, each refused with what was wrong.
	for _, tt := range []struct {
		method, target, body string
		header               map[string]string
		status               int
		want                 string
	}{
		{"POST", path, `{}`, as("alice"), 400, "release_id: is required"},
		{"POST", path, `{"release":"x"}`, as("alice"), 400, "release"},
		{"POST", path, `{"release_id":"01NOSUCH"}`, as("alice"), 404, "has no release"},
		{"POST", path + "?release_id=" + rel.ID, body, as("alice"), 400, "takes none"},
		{"DELETE", path, "", as("alice"), 400, "release_id: is required"},
		{"GET", "/projects/storage/releases/" + rel.ID + "/approvals?release_id=" + rel.ID, "", nil, 400, "is not a parameter of this route; it takes environment"},
		{"GET", "/projects/storage/releases/" + rel.ID + "/approvals", "", nil, 400, "environment: is required"},
		{"GET", "/projects/storage/releases/01NOSUCH/approvals?environment=prod", "", nil, 404, "has no release"},
		{"POST", "/projects/storage/environments/qa/approvals", body, as("alice"), 404, "is not one of storage's: stage, prod"},
	} {
		rec := e.do(t, tt.method, tt.target, tt.body, tt.header)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s %s %s: got %d %s, want %d containing %q", tt.method, tt.target, tt.body, rec.Code, rec.Body, tt.status, tt.want)
		}
	}
}
