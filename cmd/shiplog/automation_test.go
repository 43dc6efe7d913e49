package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// TestStatusShowsWhatAutoPromotionWaitsFor: status lists, under its table, each auto-promoted
// environment's candidate and the gates that refuse it, with when each opens by itself; a
// person's lock opens only when a person acts.
func TestStatusShowsWhatAutoPromotionWaitsFor(t *testing.T) {
	l := newLocal(t)
	manifest := filepath.Join(t.TempDir(), "m.json")
	entry := `{"auto": {"name": "Automated", "environments": [{"id": "stage", "auto_promote": true},
	  {"id": "prod", "requires": [{"environment": "stage", "soak": "30m"}], "auto_promote": true, "auto_rollback": true}],
	  "image_repositories": [{"id": "far/web"}]}}`
	if err := os.WriteFile(manifest, []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	l.run(t, "project", "register", "-f", manifest).want(t, 0, "registered auto")
	l.run(t, "status", "auto").want(t, 0, "AUTO-PROMOTE", "auto has no release yet", "no release runs verified in stage")

	l.push(t, "far/web", 1, clock.Add(-time.Hour))
	l.run(t, "release", "create", "auto").want(t, 0, "created release ")
	ctx := context.Background()
	envs, err := l.svc.Environments(ctx, "auto")
	if err != nil {
		t.Fatal(err)
	}
	stage := envs[0].Current
	if stage == nil || stage.RequestedBy.ID != "shiplog" {
		t.Fatalf("stage after the release: %+v, want it deployed by shiplog", stage)
	}
	if _, err := l.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "auto", DeploymentID: stage.DeploymentID, Status: shiplog.StatusVerified, By: shiplog.Person{ID: "ci"}}); err != nil {
		t.Fatal(err)
	}
	r := l.run(t, "status", "auto")
	r.want(t, 0, "runs release "+stage.ReleaseID+" already")
	columnsAligned(t, r.stdout, []string{"AUTO-PROMOTE", "CANDIDATE", "WAITS FOR", "OPENS"},
		[]string{"prod", stage.ReleaseID + " (verified in stage)", "soak", "2026-11-20 10:30 (in 25m)"})

	l.run(t, "lock", "auto", "prod", "--reason", "db migration").want(t, 0, "locked auto/prod")
	r = l.run(t, "status", "auto", "prod")
	columnsAligned(t, r.stdout, []string{"AUTO-PROMOTE", "CANDIDATE", "WAITS FOR", "OPENS"},
		[]string{"prod", stage.ReleaseID + " (verified in stage)", "lock", "when a person acts"})
}

// TestServeTicks: shiplog serve runs the tick on its own clock (--tick): a build pushed to a
// project whose stage is auto-promoted from latest reaches stage with no request but the push.
func TestServeTicks(t *testing.T) {
	s := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"), "--tick", "100ms")
	if code := s.call("PUT", "/projects/ticked", "alice", `{"name": "Ticked", "environments": [{"id": "stage", "auto_promote": {"from": "latest"}}],
		"image_repositories": [{"id": "far/web"}]}`, nil); code != 201 {
		t.Fatalf("register: %d\n%s", code, s.logs)
	}
	push := `{"version":"0","id":"e","detail-type":"ECR Image Action","source":"aws.ecr","account":"000000000000","time":"` + time.Now().UTC().Format(time.RFC3339) +
		`","region":"local","resources":[],"detail":{"result":"SUCCESS","repository-name":"far/web","image-digest":"sha256:` + strings.Repeat("ab", 32) + `","action-type":"PUSH","image-tag":"v1"}}`
	res, err := http.Post(s.url+"/2015-03-31/functions/ecr-push/invocations", "application/json", strings.NewReader(push))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("ecr-push: %d\n%s", res.StatusCode, s.logs)
	}
	deadline := time.Now().Add(shiplogtest.Patience(t))
	for {
		var body struct {
			Items []shiplog.EnvironmentStatus `json:"items"`
		}
		s.call("GET", "/projects/ticked/environments", "alice", nil, &body)
		if len(body.Items) == 1 && body.Items[0].Current != nil {
			if by := body.Items[0].Current.RequestedBy.ID; by != "shiplog" {
				t.Fatalf("stage was deployed by %s, want shiplog", by)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tick did not deploy the pushed build to stage\nlogs:\n%s", s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
