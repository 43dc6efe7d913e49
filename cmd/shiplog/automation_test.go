package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
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
