package dashboard_test

// A large project, as issue 23 found it hard to use: 30 services with long names, six
// environments (one branch), a long project id. On a laptop the matrix's header row and each
// environment's actions stay in view, and "only what differs" hides the rest; on a phone nothing
// widens the page and the image cells stay visible beside the service names.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

const (
	largeID   = "platform-ingest-and-storage-of-born-digital-archives-for-the-collections-search"
	largeName = "Platform-ingest-and-storage-of-born-digital-archives-for-the-collections-search"
)

var largeEnvs = []string{"dev", "test", "stage", "preprod", "prod", "dr"}

func largeService(i int) string {
	return fmt.Sprintf("bag_verifier_post_replication_notifier_worker_%02d", i)
}

// newLargeStack is a stack whose one project has 30 services and 6 environments: dev → test →
// stage, then stage → preprod → prod and stage → dr. Release 1 runs everywhere; release 2,
// with 7 services changed, runs in dev, test, stage and preprod; a push after it changed 3 more.
func newLargeStack(t *testing.T) *stack {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := shiplog.NewService(store, store, nil, nil)
	svc.Atomic = store.AtomicParameters()
	st := &stack{svc: svc, rel: map[string]string{}}
	ctx := context.Background()

	var repos []map[string]any
	for i := range 30 {
		repos = append(repos, map[string]any{"id": "archives/" + strings.ReplaceAll(largeService(i), "_", "-"), "services": []string{largeService(i)}})
	}
	requires := map[string][]string{"test": {"dev"}, "stage": {"test"}, "preprod": {"stage"}, "prod": {"preprod"}, "dr": {"stage"}}
	var envs []map[string]any
	for _, e := range largeEnvs {
		env := map[string]any{"id": e}
		if r := requires[e]; r != nil {
			env["requires"] = r
		}
		envs = append(envs, env)
	}
	m, _ := json.Marshal(map[string]any{largeID: map[string]any{"name": largeName, "environments": envs, "image_repositories": repos}})
	projects, err := manifest.Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatal(err)
	}
	n := 0
	base := time.Now().Add(-2 * time.Hour) // each push a minute after the one before: the newest is latest
	push := func(i int) {
		t.Helper()
		n++
		repo := repos[i]["id"].(string)
		if _, err := svc.RecordPush(ctx, shiplog.ImagePush{Account: "123456789012", Region: "eu-west-1", Repository: repo,
			Digest: digest(1000 + n), Tag: fmt.Sprintf("v%d", n), Action: "PUSH", Result: "SUCCESS", Time: base.Add(time.Duration(n) * time.Minute)}); err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
	}
	release := func(name string) {
		t.Helper()
		r, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: largeID, Description: name, RequestedBy: ci})
		if err != nil {
			t.Fatal(err)
		}
		st.rel[name] = r.ID
	}
	deploy := func(name, env string) {
		t.Helper()
		res, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: largeID, ReleaseID: st.rel[name], Environment: env, RequestedBy: ci})
		if err != nil {
			t.Fatalf("deploy %s to %s: %v", name, env, err)
		}
		if _, err := svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: largeID, Environment: env, DeploymentID: res.Deployment.ID, Status: shiplog.StatusVerified, By: ci}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		push(i)
	}
	release("r1")
	for _, e := range largeEnvs {
		deploy("r1", e)
	}
	for _, i := range []int{2, 5, 8, 13, 21, 25, 29} {
		push(i)
	}
	release("r2")
	for _, e := range []string{"dev", "test", "stage", "preprod"} {
		deploy("r2", e)
	}
	for _, i := range []int{1, 5, 17} {
		push(i)
	}
	st.serve(t, nil)
	return st
}

// differingServices are the services whose image differs between neighbouring columns of the
// matrix: latest, then the environments in order.
func (st *stack) differingServices(t *testing.T) []string {
	t.Helper()
	latest, err := st.svc.Images(context.Background(), largeID, "latest")
	if err != nil {
		t.Fatal(err)
	}
	envs := st.environments(t, largeID)
	var out []string
	for i := range 30 {
		svc := largeService(i)
		prev := latest[svc]
		for _, e := range largeEnvs {
			img := envs[e].Current.Images[svc]
			if img != prev {
				out = append(out, svc)
				break
			}
			prev = img
		}
	}
	return out
}

type box struct {
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
	Left   float64 `json:"left"`
	Right  float64 `json:"right"`
	Width  float64 `json:"width"`
}

func (tb *tab) box(sel string) box {
	tb.t.Helper()
	return run(tb, chromedp.Evaluate[box](fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width}; })()`, sel)))
}

func TestLargeMatrixOnALaptop(t *testing.T) {
	st := newLargeStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/" + largeID)
	if rows := run(tb, chromedp.Evaluate[int](`document.querySelectorAll('#matrix tbody tr').length`)); rows != 30 {
		t.Fatalf("the matrix has %d rows, want 30", rows)
	}
	tb.screenshot("large-matrix")
	// Every environment's actions are in view without scrolling.
	for _, e := range largeEnvs {
		b := tb.box(fmt.Sprintf(`button[data-key="menu:%s"]`, e))
		if b.Top < 0 || b.Bottom > 900 {
			t.Errorf("%s's actions are at %+v, outside the 900 px window", e, b)
		}
	}
	// Scrolled to its last row, the matrix keeps its header row, and the actions, in view.
	tb.do(chromedp.Evaluate[chromedp.Void](`(() => { const w = document.querySelector('.matrix-wrap'); w.scrollIntoView(); w.scrollTop = w.scrollHeight; })()`))
	tb.wait(`document.querySelector('.matrix-wrap').scrollTop > 0`)
	wrap := tb.box(".matrix-wrap")
	head := tb.box(`#matrix thead th[data-environment=prod]`)
	last := tb.box(`#matrix tbody tr:last-child`)
	if head.Top < wrap.Top-1 || head.Top > wrap.Top+2 {
		t.Errorf("scrolled down, the header row is at %.0f, the matrix's box at %.0f: it scrolled away", head.Top, wrap.Top)
	}
	if last.Bottom > wrap.Bottom+1 || last.Bottom > 900 {
		t.Errorf("the last row ends at %.0f, below the matrix's box (%.0f) or the window", last.Bottom, wrap.Bottom)
	}
	menu := tb.box(`button[data-key="menu:prod"]`)
	if menu.Top < 0 || menu.Bottom > 900 {
		t.Errorf("scrolled to the last row, prod's actions are at %+v, out of view", menu)
	}
	tb.click(`button[data-key="menu:prod"]`)
	tb.wait(`document.querySelector('dialog[open] button[data-key="promote:prod"]')`)
	tb.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog[open]').close()`))
	tb.wait(`!document.querySelector('dialog')`)

	// Only what differs.
	want := st.differingServices(t)
	if len(want) == 0 || len(want) == 30 {
		t.Fatalf("the seed makes %d services differ; want some and not all", len(want))
	}
	tb.click("#only-differs")
	shown := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#matrix tbody tr')].filter((tr) => !tr.hidden).map((tr) => tr.querySelector('th').innerText)`))
	if strings.Join(shown, ",") != strings.Join(want, ",") {
		t.Errorf("only what differs shows %v, want %v", shown, want)
	}
	if say := tb.text("#rows-shown"); !strings.Contains(say, fmt.Sprintf("%d of 30", len(want))) {
		t.Errorf("the page says %q, want it to count %d of 30", say, len(want))
	}
	// The filter outlives the page's own refresh.
	tb.open("#/p/" + largeID)
	if n := run(tb, chromedp.Evaluate[int](`[...document.querySelectorAll('#matrix tbody tr')].filter((tr) => !tr.hidden).length`)); n != len(want) {
		t.Errorf("shown again, the matrix shows %d rows, want %d (the filter kept)", n, len(want))
	}
	tb.click("#only-differs")
	// The graph's branch: stage leads to preprod and to dr.
	edges := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#env-graph .edge')].map((e) => e.dataset.from + '>' + e.dataset.to)`))
	if strings.Join(edges, ",") != "dev>test,test>stage,stage>preprod,preprod>prod,stage>dr" {
		t.Errorf("the graph draws %v, want the manifest's requires", edges)
	}
}

func TestLargeMatrixOnAPhone(t *testing.T) {
	st := newLargeStack(t)
	tb := newTab(t, st.url)
	tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	for _, view := range []string{"", "#/p/" + largeID, "#/p/" + largeID + "/releases", "#/p/" + largeID + "/timeline", "#/p/" + largeID + "/events"} {
		tb.open(view)
		tb.wait(`matchMedia('(max-width: 400px)').matches`)
		if over := run(tb, chromedp.Evaluate[[]string](overflowing)); len(over) > 0 {
			t.Errorf("%q is wider than a phone: %q", view, over)
		}
	}
	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/" + largeID)
	// The service names wrap, so the first image cells are in view beside them.
	name := tb.box(`#matrix tbody tr:first-child th`)
	cell := tb.box(`#matrix tbody tr:first-child td`)
	if name.Width > 390*0.45 || cell.Left >= 390-40 {
		t.Errorf("the service name is %.0f px wide and the first image cell starts at %.0f of 390: no image is in view", name.Width, cell.Left)
	}
	// The plan of a promotion fits the screen.
	tb.click(`button[data-key="menu:prod"]`)
	tb.wait(`document.querySelector('dialog[open] button[data-key="promote:prod"]')`)
	tb.click(`dialog[open] button[data-key="promote:prod"]`)
	tb.wait(`document.querySelector('#plan tr[data-service]')`)
	if n := run(tb, chromedp.Evaluate[int](`document.querySelectorAll('#plan tr[data-service]').length`)); n != 7 {
		t.Errorf("the plan of preprod to prod changes %d services, want the 7 of release 2", n)
	}
	dialog := tb.box("dialog[open]")
	// Every table of the plan (the gates' decisions, the changes) fits.
	for _, sel := range []string{"#plan table.gates", "#plan table.changes"} {
		plan := tb.box(sel)
		if plan.Right > dialog.Right+1 || dialog.Right > 391 {
			t.Errorf("the plan's %s ends at %.0f, the dialog at %.0f, the screen at 390: it does not fit", sel, plan.Right, dialog.Right)
		}
	}
	if over := run(tb, chromedp.Evaluate[bool](`[...document.querySelectorAll('#plan .table-wrap')].some((w) => w.scrollWidth > w.clientWidth + 1)`)); over {
		t.Error("a table of the plan scrolls sideways on a phone; its columns should fit")
	}
}
