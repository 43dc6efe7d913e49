package dashboard_test

// The actions beyond promote, roll back and lock, clicked through the page: deploy a chosen
// release, break glass, report verified or failed, set and lift a freeze; and the actions
// menu in the matrix's header.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// choose sets a select's value as a person picking an option would.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	tb.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change')); })()`, sel, value)))
}

func TestDeployAChosenRelease(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/storage")
	before := len(st.deployments(t, "storage", "stage"))

	tb.click(`button[data-key="deploy:stage"]`)
	tb.wait(`document.querySelector('#deploy-release')`)
	options := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#deploy-release option')].map((o) => o.value)`))
	if strings.Join(options, ",") != st.rel["r2"]+","+st.rel["r1"] {
		t.Errorf("the releases offered: %v, want r2, r1", options)
	}
	tb.choose("#deploy-release", st.rel["r1"])
	tb.typeInto("#deploy-description", "back to r1 for a test")
	tb.click("#show-plan")
	tb.wait(`document.querySelector('#plan') && !document.querySelector('#confirm').disabled`)
	if plan := tb.text("#plan"); !strings.Contains(plan, "Deploy release "+st.rel["r1"][len(st.rel["r1"])-8:]) {
		t.Errorf("the plan reads %q, want it to deploy r1", plan)
	}
	// Changing the release makes the plan stale.
	tb.choose("#deploy-release", st.rel["r2"])
	if !run(tb, chromedp.Evaluate[bool](`document.querySelector('#confirm').disabled && !document.querySelector('#plan')`)) {
		t.Error("after choosing another release the old plan can still be confirmed")
	}
	tb.choose("#deploy-release", st.rel["r1"])
	tb.click("#show-plan")
	tb.wait(`document.querySelector('#plan') && !document.querySelector('#confirm').disabled`)
	if got := len(st.deployments(t, "storage", "stage")); got != before {
		t.Fatalf("the plan recorded a deployment")
	}
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog')`)
	ds := st.deployments(t, "storage", "stage")
	if len(ds) != before+1 {
		t.Fatalf("stage has %d deployments, want %d", len(ds), before+1)
	}
	if d := ds[0]; d.ReleaseID != st.rel["r1"] || d.Kind != shiplog.KindDeploy || d.RequestedBy.ID != "erin" || d.Description != "back to r1 for a test" {
		t.Errorf("the deployment: release %s, kind %s, by %s, %q; want r1, deploy, erin, \"back to r1 for a test\"", d.ReleaseID, d.Kind, d.RequestedBy.ID, d.Description)
	}
}

func TestBreakGlass(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	if _, err := st.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "prod", Reason: "release week", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/storage")
	before := len(st.deployments(t, "storage", "prod"))

	// An ordinary deploy is refused by the lock...
	tb.click(`button[data-key="deploy:prod"]`)
	tb.wait(`document.querySelector('#deploy-release')`)
	tb.choose("#deploy-release", st.rel["r2"])
	tb.click("#show-plan")
	tb.wait(`document.querySelector('#plan .refusal')`)
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.wait(`!document.querySelector('dialog')`)

	// ...an emergency passes it, with a reason.
	tb.click(`button[data-key="emergency:prod"]`)
	tb.wait(`document.querySelector('#emergency-release')`)
	tb.choose("#emergency-release", st.rel["r2"])
	tb.click("#show-plan")
	if msg := tb.text("dialog .dialog-errors"); !strings.Contains(msg, "needs a reason") {
		t.Errorf("an emergency with no reason: got %q, want to be asked for one", msg)
	}
	tb.typeInto("#emergency-reason", "data loss in archivist")
	tb.click("#show-plan")
	tb.wait(`document.querySelector('#plan') && !document.querySelector('#confirm').disabled`)
	if refusal := run(tb, chromedp.Evaluate[bool](`!!document.querySelector('#plan .refusal')`)); refusal {
		t.Errorf("the emergency's plan is refused: %q", tb.text("#plan"))
	}
	tb.screenshot("break-glass")
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog')`)
	ds := st.deployments(t, "storage", "prod")
	if len(ds) != before+1 {
		t.Fatalf("prod has %d deployments, want %d", len(ds), before+1)
	}
	d := ds[0]
	if d.ReleaseID != st.rel["r2"] || d.Override == nil || d.Override.Reason != "data loss in archivist" || d.RequestedBy.ID != "erin" {
		t.Errorf("the deployment: release %s, override %+v, by %s; want r2, an override for \"data loss in archivist\", by erin", d.ReleaseID, d.Override, d.RequestedBy.ID)
	}
	if lock := st.environments(t, "storage")["prod"].Lock; lock == nil {
		t.Error("the emergency lifted the lock; it should only pass it")
	}
}

func TestReportVerifiedOrFailed(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/storage")
	cur := st.environments(t, "storage")["prod"].Current

	tb.click(`button[data-key="report:prod"]`)
	tb.wait(`document.querySelector('#report-failed')`)
	tb.click("#report-failed")
	tb.typeInto("#report-detail", "archivist 500s")
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#matrix th[data-environment=prod]').innerText.includes('failed')`)
	d, err := st.svc.Deployment(context.Background(), "storage", cur.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	last := d.StatusHistory[len(d.StatusHistory)-1]
	if d.Status != shiplog.StatusFailed || last.Detail != "archivist 500s" || last.By.ID != "erin" {
		t.Errorf("prod's deployment: status %s, last entry %+v; want failed by erin, \"archivist 500s\"", d.Status, last)
	}
}

func TestSetAndLiftAFreeze(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/storage")

	// From the header's actions menu, which stays in view above the matrix.
	tb.click(`button[data-key="menu:stage"]`)
	tb.wait(`document.querySelector('dialog[open] button[data-key="freeze:stage"]')`)
	tb.click(`dialog[open] button[data-key="freeze:stage"]`)
	tb.wait(`document.querySelector('#freeze-reason')`)
	tb.click("#confirm") // no reason
	if msg := tb.text("dialog .dialog-errors"); !strings.Contains(msg, "needs a reason") {
		t.Errorf("a freeze with no reason: got %q, want to be asked for one", msg)
	}
	id := run(tb, chromedp.Evaluate[string](`document.querySelector('#freeze-id').value`))
	tb.typeInto("#freeze-reason", "quarter end")
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#matrix th[data-environment=stage]').innerText.includes('frozen')`)
	// The focus came back to the header's menu button.
	if key := run(tb, chromedp.Evaluate[string](`document.activeElement.dataset.key || ''`)); key != "menu:stage" {
		t.Errorf("after the freeze the focus is on %q, want the stage column's Actions button", key)
	}
	fs, err := st.svc.Freezes(context.Background(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].ID != id || fs[0].Reason != "quarter end" || strings.Join(fs[0].Environments, ",") != "stage" || fs[0].CreatedBy.ID != "erin" {
		t.Fatalf("freezes: %+v, want %s over stage alone, by erin, \"quarter end\"", fs, id)
	}

	tb.click(fmt.Sprintf(`button[data-key="lift:stage:%s"]`, id))
	tb.wait(`document.querySelector('dialog[open] blockquote')`)
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog') && !document.querySelector('#matrix th[data-environment=stage]').innerText.includes('frozen')`)
	if fs, err := st.svc.Freezes(context.Background(), "storage"); err != nil || len(fs) != 0 {
		t.Errorf("after lifting: %+v, %v; want no freeze", fs, err)
	}
}

// TestActionsMenuByKeyboard: the header's Actions menu opens with Enter, its actions are
// buttons reached with Tab, and Escape closes it with the focus back on the menu's button.
func TestActionsMenuByKeyboard(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	tb.do(chromedp.Focus(`button[data-key="menu:prod"]`), chromedp.KeyEvent(kb.Enter))
	tb.wait(`document.querySelector('dialog[open] .menu')`)
	var reached []string
	for range 3 {
		tb.do(chromedp.KeyEvent(kb.Tab))
		reached = append(reached, run(tb, chromedp.Evaluate[string](`document.activeElement.dataset.key || document.activeElement.innerText`)))
	}
	if !strings.Contains(strings.Join(reached, ","), "promote:prod") {
		t.Errorf("tabbing through the menu reaches %v, want prod's promotion among them", reached)
	}
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.wait(`!document.querySelector('dialog')`)
	if key := run(tb, chromedp.Evaluate[string](`document.activeElement.dataset.key || ''`)); key != "menu:prod" {
		t.Errorf("after Escape the focus is on %q, want the menu's button", key)
	}
	// Enter on an action opens its dialog, whose Escape returns to the menu's button too.
	tb.do(chromedp.KeyEvent(kb.Enter))
	tb.wait(`document.querySelector('dialog[open] button[data-key="lock:prod"]')`)
	tb.do(chromedp.Focus(`dialog[open] button[data-key="lock:prod"]`), chromedp.KeyEvent(kb.Enter))
	tb.wait(`document.querySelector('dialog[open] #lock-reason')`)
	if focused := run(tb, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "lock-reason" {
		t.Errorf("the lock dialog opened with the focus on %q, want its reason", focused)
	}
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.wait(`!document.querySelector('dialog')`)
	if key := run(tb, chromedp.Evaluate[string](`document.activeElement.dataset.key || ''`)); key != "menu:prod" {
		t.Errorf("after the lock dialog's Escape the focus is on %q, want the menu's button", key)
	}
}
