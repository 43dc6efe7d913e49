package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMetricsRoute(t *testing.T) {
	e := newTestEnv(t)
	// archivist's image is pushed an hour before the deploy; the others are put under latest by
	// hand, so they have no push time.
	if _, err := e.svc.RecordPush(t.Context(), shiplog.ImagePush{
		Account: "123456789012", Region: "eu-west-1", Repository: "uk.ac.wellcome/archivist", Digest: fmt.Sprintf("sha256:%064x", 50),
		Tag: "v", Action: "PUSH", Result: "SUCCESS", Time: now.Add(-time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	e.seedRelease(t) // deploys to stage at now

	// One day, [now-86399, now+1): 1 per day, 7 per week; the one lead time is 3600 s.
	since, until := now.Unix()-86399, now.Unix()+1
	rec := e.do(t, "GET", fmt.Sprintf("/projects/storage/metrics?environment=stage&since=%d&until=%d", since, until), "", nil)
	wantStatus(t, rec, http.StatusOK)
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(fmt.Sprintf(`{
		"project_id": "storage", "environment": "stage", "since": %d, "until": %d,
		"deployments": 1,
		"deployment_frequency": {"per_day": 1, "per_week": 7},
		"lead_time_seconds": {"count": 1, "median": 3600, "p90": 3600},
		"change_failure_rate": {"failed": 0, "total": 1, "rate": 0},
		"time_to_restore_seconds": {"count": 0, "median": null, "p90": null, "unrestored": 0}
	}`, since, until)), &want); err != nil {
		t.Fatal(err)
	}
	diff(t, "metrics body", got, want)

	// The defaults: the 30 days to now, the current second included.
	rec = e.do(t, "GET", "/projects/storage/metrics?environment=prod", "", nil)
	wantStatus(t, rec, http.StatusOK)
	m := decode[shiplog.Metrics](t, rec)
	if m.Until != now.Unix()+1 || m.Since != now.Unix()+1-30*86400 || m.Deployments != 0 {
		t.Errorf("default window: got [%d, %d) with %d deployments, want [%d, %d) with 0", m.Since, m.Until, m.Deployments, now.Unix()+1-30*86400, now.Unix()+1)
	}
	// The deploy to stage, made at now, counts at once.
	rec = e.do(t, "GET", "/projects/storage/metrics?environment=stage", "", nil)
	wantStatus(t, rec, http.StatusOK)
	if m := decode[shiplog.Metrics](t, rec); m.Deployments != 1 {
		t.Errorf("default window right after a deploy: got %d deployments in [%d, %d), want 1", m.Deployments, m.Since, m.Until)
	}

	for _, tt := range []struct {
		name, target string
		status       int
		phrase       string
	}{
		{"no environment", "/projects/storage/metrics", 400, "environment: is required"},
		{"an empty environment", "/projects/storage/metrics?environment=", 400, "environment: is required"},
		{"an unknown parameter", "/projects/storage/metrics?environment=prod&limit=5", 400, `"limit" is not a parameter`},
		{"a repeated parameter", "/projects/storage/metrics?environment=prod&since=1&since=2", 400, "given 2 times"},
		{"since not a number", "/projects/storage/metrics?environment=prod&since=yesterday", 400, `since: "yesterday" is not a time in Unix seconds`},
		{"since a date", "/projects/storage/metrics?environment=prod&since=2026-03-01", 400, "since"},
		{"since zero", "/projects/storage/metrics?environment=prod&since=0", 400, "since"},
		{"until negative", "/projects/storage/metrics?environment=prod&until=-5", 400, "until"},
		{"since after until", fmt.Sprintf("/projects/storage/metrics?environment=prod&since=%d&until=%d", until, since), 400, "not before until"},
		{"a window too long", fmt.Sprintf("/projects/storage/metrics?environment=prod&since=%d", now.Unix()-400*86400), 400, "the longest is 366 days"},
		{"an unknown environment", "/projects/storage/metrics?environment=prd", 404, "stage, prod"},
		{"an unknown project", "/projects/nope/metrics?environment=prod", 404, "not registered"},
	} {
		rec := e.do(t, "GET", tt.target, "", nil)
		if rec.Code != tt.status {
			t.Errorf("%s: got %d %s, want %d", tt.name, rec.Code, rec.Body, tt.status)
			continue
		}
		body := decode[httpapi.ErrorBody](t, rec)
		if !strings.Contains(body.Error.Message, tt.phrase) {
			t.Errorf("%s: got message %q, want it to contain %q", tt.name, body.Error.Message, tt.phrase)
		}
	}
}
