package dashboard_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestApproveARelease: an environment that needs approvals offers Approve; the dialog shows who
// approved the chosen release, records the page's writer's approval, and withdraws it. An
// environment that needs none offers no such button.
func TestApproveARelease(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	p, err := st.svc.Project(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Environments {
		if p.Environments[i].ID == "prod" {
			p.Environments[i].Approvals = &shiplog.Approvals{Required: 2, From: []string{"erin", "bob"}}
		}
	}
	if _, err := st.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.svc.Approve(ctx, shiplog.ApprovalInput{ProjectID: "storage", Environment: "prod", ReleaseID: st.rel["r2"], RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	approvers := func() []string {
		t.Helper()
		s, err := st.svc.ApprovalsOf(ctx, "storage", "prod", st.rel["r2"])
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range s.Approvals {
			ids = append(ids, a.By.ID)
		}
		return ids
	}

	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/storage")
	if run(tb, chromedp.Evaluate[bool](`!!document.querySelector('button[data-key="approve:stage"]')`)) {
		t.Error("stage, which needs no approvals, offers Approve")
	}
	tb.click(`button[data-key="approve:prod"]`)
	tb.wait(`document.querySelector('#approve-release')`)
	tb.choose("#approve-release", st.rel["r2"])
	tb.wait(`document.querySelector('#approvers li[data-approver="bob"]')`)
	if s := tb.text("#approvals-status"); !strings.Contains(s, "1 of 2") || !strings.Contains(s, "not enough yet") {
		t.Errorf("the approvals shown: %q, want 1 of 2, not enough", s)
	}
	tb.click("#confirm")
	tb.wait(`document.querySelector('#approvals-status[data-approved="true"]')`)
	if got := strings.Join(approvers(), ","); got != "bob,erin" {
		t.Errorf("approvals stored after Approve: %s, want bob,erin", got)
	}
	tb.screenshot("approve")
	tb.click("#withdraw")
	tb.wait(`document.querySelector('#approvals-status[data-approved="false"]') && !document.querySelector('#approvers li[data-approver="erin"]')`)
	if got := strings.Join(approvers(), ","); got != "bob" {
		t.Errorf("approvals stored after Withdraw: %s, want bob", got)
	}
}
