package shiplog_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestDeploymentStatus(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	report := func(id, status, detail string) (shiplog.DeploymentRecord, error) {
		defer h.clock.Advance(time.Minute)
		return h.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "storage", DeploymentID: id, Status: status, Detail: detail, By: alice})
	}
	statuses := func(rec shiplog.DeploymentRecord) []string {
		var out []string
		for _, e := range rec.StatusHistory {
			out = append(out, e.Status)
		}
		return out
	}

	// A deploy whose parameter writes fail stays requested, and cannot be verified.
	h.params.setFail(errors.New("ssm down"))
	_, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage", RequestedBy: alice})
	wantError(t, "Deploy with SSM down", err, shiplog.Unavailable)
	h.params.setFail(nil)
	page, err := h.svc.Deployments(ctx, "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("deployments after a failed write: %v, %v", page.Items, err)
	}
	stuck := page.Items[0]
	if stuck.Status != shiplog.StatusRequested {
		t.Errorf("a deployment whose writes failed: got status %q, want requested", stuck.Status)
	}
	before := h.snapshot(t, "storage")
	_, err = report(stuck.ID, shiplog.StatusVerified, "")
	wantError(t, "verify a requested deployment", err, shiplog.Conflict, "still requested", "not all written")
	h.wantUnchanged(t, "refused report", "storage", before)

	// Deploying again finishes the job and supersedes the stuck one.
	d := h.deploy(t, r1.ID, "stage").Deployment
	if d.Status != shiplog.StatusApplied {
		t.Errorf("deploy: got status %q, want applied", d.Status)
	}
	got, err := h.svc.Deployment(ctx, "storage", stuck.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "statuses of the stuck deployment", statuses(got), []string{"requested", "superseded"})
	_, err = report(stuck.ID, shiplog.StatusVerified, "")
	wantError(t, "verify a superseded deployment", err, shiplog.Conflict, "superseded")
	_, err = report(stuck.ID, shiplog.StatusFailed, "")
	wantError(t, "fail a superseded deployment", err, shiplog.Conflict, "superseded")

	// applied → verified, once; the same report again is a no-op.
	v, err := report(d.ID, shiplog.StatusVerified, "smoke tests passed")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "statuses after verified", statuses(v), []string{"requested", "applied", "verified"})
	last := v.StatusHistory[2]
	if last.By != alice || last.Detail != "smoke tests passed" || last.At == 0 {
		t.Errorf("the verified entry: got %+v, want by alice with the detail and a time", last)
	}
	again, err := report(d.ID, shiplog.StatusVerified, "again")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "statuses after the same report again", statuses(again), []string{"requested", "applied", "verified"})
	envs, err := h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	if envs[0].Current == nil || envs[0].Current.Status != shiplog.StatusVerified {
		t.Errorf("stage's status: got %+v, want verified", envs[0].Current)
	}
	rel, err := h.svc.Release(ctx, "storage", r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "release verified_in", rel.VerifiedIn, []string{"stage"})

	// verified → failed (it broke later) is allowed; failed → verified is not.
	f, err := report(d.ID, shiplog.StatusFailed, "5xx after an hour")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "statuses after failed", statuses(f), []string{"requested", "applied", "verified", "failed"})
	_, err = report(d.ID, shiplog.StatusVerified, "")
	wantError(t, "verify a failed deployment", err, shiplog.Conflict, "failed", "deploy again")

	// A failed deployment stays failed when the next one replaces it.
	next := h.deploy(t, r1.ID, "stage").Deployment
	got, _ = h.svc.Deployment(ctx, "storage", d.ID)
	if got.Status != shiplog.StatusFailed {
		t.Errorf("a failed deployment after the next deploy: got %q, want failed", got.Status)
	}
	if next.Status != shiplog.StatusApplied {
		t.Errorf("the next deployment: got %q, want applied", next.Status)
	}

	// Bad reports are refused with what is wrong, and write nothing.
	before = h.snapshot(t, "storage")
	for _, tt := range []struct {
		name   string
		in     shiplog.ReportInput
		kind   shiplog.Kind
		phrase string
	}{
		{"no status", shiplog.ReportInput{ProjectID: "storage", DeploymentID: next.ID}, shiplog.Invalid, "status: is required"},
		{"a status shiplog sets", shiplog.ReportInput{ProjectID: "storage", DeploymentID: next.ID, Status: "applied"}, shiplog.Invalid, "cannot be reported"},
		{"an unknown status", shiplog.ReportInput{ProjectID: "storage", DeploymentID: next.ID, Status: "ok"}, shiplog.Invalid, `"ok"`},
		{"an unknown deployment", shiplog.ReportInput{ProjectID: "storage", DeploymentID: "01HNOSUCHDEPLOYMENT0000000", Status: "failed"}, shiplog.NotFound, "no deployment"},
		{"an unknown project", shiplog.ReportInput{ProjectID: "nope", DeploymentID: next.ID, Status: "failed"}, shiplog.NotFound, "nope"},
		{"a bad deployment id", shiplog.ReportInput{ProjectID: "storage", DeploymentID: "../x", Status: "failed"}, shiplog.Invalid, "deployment"},
		{"a detail with a control character", shiplog.ReportInput{ProjectID: "storage", DeploymentID: next.ID, Status: "failed", Detail: "a\x1b[31m"}, shiplog.Invalid, "detail"},
	} {
		_, err := h.svc.ReportStatus(ctx, tt.in)
		wantError(t, tt.name, err, tt.kind, tt.phrase)
	}
	h.wantUnchanged(t, "bad reports", "storage", before)
}
