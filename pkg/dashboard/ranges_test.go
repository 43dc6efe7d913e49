package dashboard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestRangesOnReleasePageAndPromoteDialog: where the images' sources are known, the release
// page's "against what runs now" and the promote dialog's plan show each changed service's range:
// the revisions, the compare link, and why part of it is unknown.
func TestRangesOnReleasePageAndPromoteDialog(t *testing.T) {
	const repo = "https://github.com/wellcomecollection/storage-service"
	rev1, rev2 := strings.Repeat("a1", 20), strings.Repeat("b2", 20)
	st := newStack(t)
	ctx := context.Background()
	release := func(n int, rev string) shiplog.Release {
		t.Helper()
		// The build's tag names the revision; CI names the repository when it makes the release.
		// Pushed on the fixture's clock, after everything it pushed, so that it is latest.
		if out, err := st.svc.RecordPush(ctx, shiplog.ImagePush{Account: "123456789012", Region: "eu-west-1", Repository: "uk.ac.wellcome/archivist",
			Digest: digest(n), Tag: "sha-" + rev, Action: "PUSH", Result: "SUCCESS", Time: st.svc.Now().Add(time.Duration(n-100) * time.Second)}); err != nil || len(out.Updated) == 0 {
			t.Fatalf("push: %+v, %v", out, err)
		}
		r, err := st.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: ci,
			Sources: map[string]shiplog.SourceInput{"archivist": {Repository: repo}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Sources["archivist"]; got.Revision != rev || got.Repository != repo {
			t.Fatalf("release's archivist source: %+v, want %s in %s (images %v)", got, rev, repo, r.Images)
		}
		return r
	}
	deployStage := func(r shiplog.Release) {
		t.Helper()
		res, err := st.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage", RequestedBy: ci})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "storage", DeploymentID: res.Deployment.ID, Status: shiplog.StatusVerified, Detail: "smoke tests passed", By: ci}); err != nil {
			t.Fatal(err)
		}
	}
	deployStage(release(101, rev1))
	r2 := release(102, rev2)

	tb := newTab(t, st.url)
	tb.open("#/p/storage/releases/" + r2.ID)
	tb.wait(`document.querySelector('.diff .range a.compare')`)
	links := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.diff .range a.compare')].map((a) => a.href)`))
	if want := repo + "/compare/" + rev1 + "..." + rev2; len(links) != 1 || links[0] != want {
		t.Errorf("compare links on the release page: %v, want stage's %s", links, want)
	}
	if text := tb.text("#main"); !strings.Contains(text, rev1[:12]+".."+rev2[:12]) {
		t.Errorf("the release page does not show stage's range %s..%s:\n%s", rev1[:12], rev2[:12], text)
	}

	// Stage runs release 2; prod's images carry no source: the plan says which part is unknown.
	deployStage(r2)
	tb.open("#/p/storage")
	tb.click("#user")
	tb.typeInto("#user-name", "dana")
	tb.click(`dialog[open] button[type=submit]`)
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#user').innerText.includes('dana')`)
	tb.click(`button[data-key="promote:prod"]`)
	tb.wait(`document.querySelector('#plan')`)
	got := run(tb, chromedp.Evaluate[string](`(document.querySelector('#plan tr[data-service=archivist] .range') || document.querySelector('#plan')).innerText`))
	if !strings.Contains(got, "?.."+rev2[:12]) || !strings.Contains(got, "the running image's revision is not known") {
		t.Errorf("archivist's range in the promote plan: %q, want ?..%s and why the running side is unknown", got, rev2[:12])
	}
	if n := run(tb, chromedp.Evaluate[int](`document.querySelectorAll('#plan a.compare').length`)); n != 0 {
		t.Errorf("the plan has %d compare links, want none (prod's revision is unknown)", n)
	}
}
