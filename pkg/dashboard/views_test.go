package dashboard_test

// The views issue 23 asked for: the overview across projects, live updates, the events tab, a
// page per deployment, the timeline of every environment, the dependency graph and the guide of
// an empty project.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/version"
)

type overviewRow struct {
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Runs        string `json:"runs"`
	Marks       string `json:"marks"`
}

func (tb *tab) overview() []overviewRow {
	tb.t.Helper()
	return run(tb, chromedp.Evaluate[[]overviewRow](`[...document.querySelectorAll('#projects [data-project] tr[data-environment]')].filter((tr) => !tr.hidden && !tr.closest('[data-project]').hidden).map((tr) => ({
		project: tr.closest('[data-project]').dataset.project, environment: tr.dataset.environment,
		runs: tr.cells[1].innerText, marks: tr.cells[2].innerText }))`))
}

func TestOverviewShowsEveryProjectsEnvironments(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	if _, err := st.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "prod", Reason: "release week", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	if _, err := st.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "bugfarm", ID: "holidays", Scope: "stage", StartsAt: now - 60, EndsAt: now + 86400, Reason: "holidays", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, st.url)
	tb.open("")

	want := map[string]string{} // project/env: the short id of the release it runs, or "nothing"
	for _, p := range []string{"bugfarm", "storage"} {
		for id, e := range st.environments(t, p) {
			want[p+"/"+id] = "nothing"
			if e.Current != nil {
				want[p+"/"+id] = e.Current.ReleaseID[len(e.Current.ReleaseID)-8:]
			}
		}
	}
	rows := tb.overview()
	if len(rows) != len(want) {
		t.Fatalf("the overview shows %d environments, want %d: %+v", len(rows), len(want), rows)
	}
	for _, r := range rows {
		if w := want[r.Project+"/"+r.Environment]; !strings.HasPrefix(r.Runs, w) {
			t.Errorf("%s/%s runs %q, want %q", r.Project, r.Environment, r.Runs, w)
		}
	}
	marks := map[string]string{}
	for _, r := range rows {
		marks[r.Project+"/"+r.Environment] = r.Marks
	}
	if !strings.Contains(marks["storage/prod"], "locked") || !strings.Contains(marks["bugfarm/stage"], "frozen") || strings.Contains(marks["storage/stage"], "locked") {
		t.Errorf("marks: %q; want storage/prod locked and bugfarm/stage frozen, storage/stage neither", marks)
	}
	tb.screenshot("overview")

	// The filter narrows by text, and to what needs attention.
	tb.typeInto("#overview-filter", "bugfarm")
	if got := tb.overview(); len(got) != 1 || got[0].Project != "bugfarm" {
		t.Errorf("filtered by \"bugfarm\": %+v, want bugfarm's one environment", got)
	}
	tb.do(chromedp.Evaluate[chromedp.Void](`(() => { const f = document.querySelector('#overview-filter'); f.value = ''; f.dispatchEvent(new Event('input')); })()`))
	tb.click("#overview-problems")
	var got []string
	for _, r := range tb.overview() {
		got = append(got, r.Project+"/"+r.Environment)
	}
	if strings.Join(got, ",") != "bugfarm/stage,storage/prod" {
		t.Errorf("only what needs attention: %v, want bugfarm/stage (frozen) and storage/prod (locked)", got)
	}
}

// TestLiveUpdates: a deploy made through the API, by someone else, appears without a reload.
func TestLiveUpdates(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	// A reload would forget this.
	tb.do(chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))
	r2, err := st.svc.Release(context.Background(), "storage", st.rel["r2"])
	if err != nil {
		t.Fatal(err)
	}
	if prod := st.environments(t, "storage")["prod"].Current; prod.ReleaseID == r2.ID {
		t.Fatal("the seed's prod runs r2 already")
	}
	body, _ := json.Marshal(map[string]string{"release_id": r2.ID, "description": "from the API"})
	req, _ := http.NewRequest("POST", st.url+"/projects/storage/environments/prod/deployments", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shiplog-User", "frank")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("the deploy through the API answered %d", res.StatusCode)
	}
	tb.wait(fmt.Sprintf(`document.querySelector('#matrix td[data-service=archivist][data-environment=prod]').dataset.image === %q`, r2.Images["archivist"]))
	if !run(tb, chromedp.Evaluate[bool](`window.sameDocument === true`)) {
		t.Error("the page was reloaded; it should have updated in place")
	}
	if card := tb.text(`.env-card[data-environment=prod]`); !strings.Contains(card, "frank") {
		t.Errorf("prod's card reads %q, want frank's deployment", card)
	}

	// The overview follows every project.
	tb.open("")
	tb.do(chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`))
	if _, err := st.svc.Lock(context.Background(), shiplog.LockInput{ProjectID: "bugfarm", Environment: "stage", Reason: "moving house", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	tb.wait(`document.querySelector('#projects [data-project=bugfarm] tr[data-environment=stage]').innerText.includes('locked') && window.sameDocument === true`)
}

func TestEventsTabFiltersByTypeAndPerson(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	all, err := st.svc.Events(ctx, "storage", shiplog.EventFilter{}, shiplog.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, st.url)
	tb.open("#/p/storage/events")
	ids := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#events [data-event]')].map((e) => e.dataset.event)`))
	var want []string
	for _, ev := range all.Items {
		want = append(want, ev.ID)
	}
	if strings.Join(ids, ",") != strings.Join(want[:min(len(want), 50)], ",") && strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("events: got %d %v, want the log's newest first %v", len(ids), ids, want)
	}

	// By type, through the select.
	tb.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#events-type'); s.value = 'deployment.verified'; s.dispatchEvent(new Event('change')); })()`))
	tb.waitShown("type=deployment.verified")
	verified, err := st.svc.Events(ctx, "storage", shiplog.EventFilter{Type: shiplog.EventDeploymentVerified}, shiplog.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	types := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#events [data-event]')].map((e) => e.dataset.type)`))
	if len(types) != len(verified.Items) || len(types) == 0 {
		t.Errorf("deployment.verified events: the page shows %d, the log holds %d", len(types), len(verified.Items))
	}
	for _, ty := range types {
		if ty != shiplog.EventDeploymentVerified {
			t.Errorf("filtered by deployment.verified, the page shows a %s", ty)
		}
	}

	// By person, typed.
	tb.open("#/p/storage/events")
	tb.typeInto("#events-by", "carol")
	tb.click(`.filter-bar button[type=submit]`)
	tb.waitShown("by=carol")
	n := 0
	for _, ev := range all.Items {
		if ev.By.ID == "carol" {
			n++
		}
	}
	by := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#events [data-event]')].map((e) => e.dataset.by)`))
	if len(by) != n || n == 0 {
		t.Errorf("carol's events: the page shows %d, the log holds %d", len(by), n)
	}
	for _, b := range by {
		if b != "carol" {
			t.Errorf("filtered by carol, the page shows an event by %q", b)
		}
	}
}

func TestDeploymentPage(t *testing.T) {
	st := newStack(t)
	prod := st.deployments(t, "storage", "prod")
	d := prod[1] // the promotion the rollback undid
	if d.Kind != shiplog.KindPromote {
		t.Fatalf("prod's second newest deployment is a %s; the seed should make it the promotion", d.Kind)
	}
	tb := newTab(t, st.url)
	tb.open("#/p/storage/deployments?environment=prod")
	tb.click(fmt.Sprintf(`#timeline [data-deployment=%q] a[href$=%q]`, d.ID, d.ID))
	tb.wait(`document.querySelector('#deployment-facts')`)
	facts := tb.text("#deployment-facts")
	for _, s := range []string{d.ID, "stage", "weekly promotion", "Carol"} {
		if !strings.Contains(facts, s) {
			t.Errorf("the deployment's facts read %q, want %q", facts, s)
		}
	}
	history := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#status-history li')].map((li) => li.querySelector('.badge').innerText)`))
	var want []string
	for _, s := range d.StatusHistory {
		want = append(want, s.Status)
	}
	if strings.Join(history, ",") != strings.Join(want, ",") {
		t.Errorf("status history: got %v, want %v", history, want)
	}
	if gates := tb.text("#gates"); !strings.Contains(gates, "requires a release verified in stage") || !strings.Contains(gates, "met") {
		t.Errorf("gates read %q, want prod's requirement of stage, met", gates)
	}
	type change struct {
		Service string `json:"service"`
		Before  string `json:"before"`
		After   string `json:"after"`
	}
	changes := run(tb, chromedp.Evaluate[[]change](`[...document.querySelectorAll('#changes tr[data-service]')].map((tr) => ({service: tr.dataset.service, before: tr.cells[2].title, after: tr.cells[3].title}))`))
	r1, err := st.svc.Release(context.Background(), "storage", prod[2].ReleaseID) // what prod ran before the promotion
	if err != nil {
		t.Fatal(err)
	}
	r2, err := st.svc.Release(context.Background(), "storage", d.ReleaseID)
	if err != nil {
		t.Fatal(err)
	}
	var wantChanges []change
	for _, svc := range d.Changes.Changed {
		wantChanges = append(wantChanges, change{svc, r1.Images[svc], r2.Images[svc]})
	}
	if fmt.Sprint(changes) != fmt.Sprint(wantChanges) {
		t.Errorf("changes: got %+v, want %+v", changes, wantChanges)
	}
	tb.screenshot("deployment")
}

func TestTimelineOfEveryEnvironment(t *testing.T) {
	st := newStack(t)
	page, err := st.svc.Deployments(context.Background(), "storage", shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, st.url)
	tb.open("#/p/storage/timeline")
	type dot struct {
		ID  string `json:"id"`
		Env string `json:"env"`
		Y   int    `json:"y"`
	}
	dots := run(tb, chromedp.Evaluate[[]dot](`[...document.querySelectorAll('#lanes a.dot')].map((a) => ({id: a.dataset.deployment, env: a.dataset.environment, y: Math.round(a.querySelector('circle').cy.baseVal.value)}))`))
	if len(dots) != len(page.Items) {
		t.Fatalf("the timeline draws %d deployments, the record holds %d", len(dots), len(page.Items))
	}
	lane := map[string]int{}
	for i, d := range dots {
		if d.ID != page.Items[i].ID || d.Env != page.Items[i].Environment.ID {
			t.Errorf("dot %d: %+v, want %s in %s", i, d, page.Items[i].ID, page.Items[i].Environment.ID)
		}
		if y, ok := lane[d.Env]; ok && y != d.Y {
			t.Errorf("%s's deployments are drawn in two lanes, %d and %d", d.Env, y, d.Y)
		}
		lane[d.Env] = d.Y
	}
	if lane["stage"] == lane["prod"] {
		t.Errorf("stage and prod share a lane: %v", lane)
	}
	if items := run(tb, chromedp.Evaluate[int](`document.querySelectorAll('#timeline [data-deployment]').length`)); items != len(page.Items) {
		t.Errorf("the list below shows %d deployments, want %d", items, len(page.Items))
	}
}

func TestDependencyGraph(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	edges := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#env-graph .edge')].map((e) => e.dataset.from + '>' + e.dataset.to)`))
	if strings.Join(edges, ",") != "stage>prod" {
		t.Errorf("storage's graph draws %v, want stage>prod (prod requires stage)", edges)
	}
	// prod is drawn to the right of what it requires.
	xs := run(tb, chromedp.Evaluate[map[string]float64](`Object.fromEntries([...document.querySelectorAll('#env-graph .node')].map((n) => [n.dataset.environment, n.querySelector('rect').x.baseVal.value]))`))
	if len(xs) != 2 || xs["prod"] <= xs["stage"] {
		t.Errorf("node positions %v, want prod right of stage", xs)
	}
	tb.open("#/p/bugfarm")
	if n := run(tb, chromedp.Evaluate[int](`document.querySelectorAll('#env-graph .edge').length`)); n != 0 {
		t.Errorf("bugfarm's graph draws %d edges; none of its environments requires another", n)
	}
}

func TestEmptyProjectSaysHowToStart(t *testing.T) {
	st := newStack(t)
	projects, err := manifest.Parse([]byte(`{"fresh": {"name": "Fresh", "environments": [{"id": "dev"}, {"id": "live", "requires": ["dev"]}],
		"image_repositories": [{"id": "fresh/web"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.svc.RegisterProjects(context.Background(), shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, st.url)
	tb.open("#/p/fresh")
	guide := tb.text("#getting-started")
	for _, s := range []string{"shiplog project show fresh", "--function-name ecr-push", "shiplog release create fresh", "shiplog deploy fresh dev", "shiplog promote fresh dev live"} {
		if !strings.Contains(guide, s) {
			t.Errorf("the guide reads %q, want the command %q", guide, s)
		}
	}
	tb.open("#/p/storage")
	if run(tb, chromedp.Evaluate[bool](`!!document.querySelector('#getting-started')`)) {
		t.Error("storage, which runs releases, shows the guide for an empty project")
	}
}

// TestFooterNamesTheVersion: the footer names the version of shiplog that answered the page's
// requests, as the API's X-Shiplog-Version header says, so a report of a problem can name it.
func TestFooterNamesTheVersion(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	want := "shiplog " + version.String()
	tb.wait(fmt.Sprintf(`document.querySelector('#version').textContent === %q`, want))
	if got := tb.text("#version"); got != want {
		t.Errorf("the footer reads %q, want %q", got, want)
	}
}
