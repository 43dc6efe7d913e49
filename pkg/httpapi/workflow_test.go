package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// routeRequests are, for TestRoutes, a query and body that make a route succeed on the seeded
// store (prod is the environment in the path), where the defaults do not.
var routeRequests = map[string]struct{ query, body string }{
	"GET /projects/{project}/diff": {query: "?from=environment:stage&to=release:latest"},
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
