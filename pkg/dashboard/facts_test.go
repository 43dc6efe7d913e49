package dashboard_test

// Issue 23's wrong facts: each test reads what the page says and holds it to the record.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestReleasesListSaysHowOftenEachWasDeployed: the list's releases carry deployment_count, not
// their deployments; the page says the count and where each release runs now, never "Not
// deployed" for a release that was.
func TestReleasesListSaysHowOftenEachWasDeployed(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	envs := st.environments(t, "storage")
	tb.open("#/p/storage/releases")
	for _, name := range []string{"r1", "r2"} {
		r, err := st.svc.Release(context.Background(), "storage", st.rel[name])
		if err != nil {
			t.Fatal(err)
		}
		if r.DeploymentCount < 2 {
			t.Fatalf("the seed deployed %s %d times; want at least 2", name, r.DeploymentCount)
		}
		var runs []string
		for _, e := range []string{"stage", "prod"} {
			if envs[e].Current != nil && envs[e].Current.ReleaseID == r.ID {
				runs = append(runs, e)
			}
		}
		got := tb.text(fmt.Sprintf(`#releases [data-release=%q]`, r.ID))
		want := fmt.Sprintf("Deployed %d times; runs now in %s.", r.DeploymentCount, strings.Join(runs, ", "))
		if !strings.Contains(got, want) || strings.Contains(got, "Not deployed") {
			t.Errorf("release %s (%s) says %q, want %q", name, r.ID, got, want)
		}
	}
	if all := tb.text("#releases"); strings.Contains(all, "Not deployed") {
		t.Errorf("the releases list says \"Not deployed\", although every release was: %q", all)
	}
}

// TestTimeToRestoreCountsFailuresNotRestoredYet: a failure no deployment has restored is a
// failure to restore, not "nothing to restore".
func TestTimeToRestoreCountsFailuresNotRestoredYet(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	prod := st.environments(t, "storage")["prod"].Current
	if _, err := st.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "storage", Environment: "prod", DeploymentID: prod.DeploymentID,
		Status: shiplog.StatusFailed, Detail: "archivist 500s", By: carol}); err != nil {
		t.Fatal(err)
	}
	m, err := st.svc.Metrics(ctx, shiplog.MetricsInput{ProjectID: "storage", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	n := m.TimeToRestore.Unrestored
	if n < 1 {
		t.Fatalf("the service counts %d unrestored failures; the seed should leave some", n)
	}
	want := fmt.Sprintf("%d failures not restored yet", n)
	if n == 1 {
		want = "1 failure not restored yet"
	}
	tb := newTab(t, st.url)
	tb.open("#/p/storage/metrics?environment=prod")
	ttr := run(tb, chromedp.Evaluate[string](`[...document.querySelectorAll('#figures .figure')].find((f) => f.innerText.includes('Time to restore')).innerText`))
	if !strings.Contains(ttr, want) || strings.Contains(ttr, "nothing to restore") {
		t.Errorf("the time to restore reads %q, want it to say %q, as the API does", ttr, want)
	}
}

// TestNoEnvironmentIsPromotedBackwards: the first environment has nothing before it to promote
// from; its main action deploys a release. Later ones promote from those before them.
func TestNoEnvironmentIsPromotedBackwards(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")
	buttons := func(env string) []string {
		return run(tb, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll('.env-card[data-environment=%q] .actions button')].map((b) => b.innerText)`, env)))
	}
	stage := buttons("stage")
	if len(stage) == 0 || stage[0] != "Deploy a release…" {
		t.Errorf("stage's actions are %q, want \"Deploy a release…\" first", stage)
	}
	for _, b := range stage {
		if strings.HasPrefix(b, "Promote") {
			t.Errorf("stage, the first environment, offers %q: a promotion into it could only come from prod, backwards", b)
		}
	}
	prod := buttons("prod")
	if len(prod) == 0 || prod[0] != "Promote to Production…" {
		t.Errorf("prod's actions are %q, want \"Promote to Production…\" first", prod)
	}
	tb.click(`button[data-key="promote:prod"]`)
	tb.wait(`document.querySelector('#promote-from')`)
	if from := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#promote-from option')].map((o) => o.value)`)); strings.Join(from, ",") != "stage" {
		t.Errorf("a promotion to prod may come from %v, want only stage", from)
	}
}

// TestEmergencyDeploymentShowsItsReason: a break-glass deployment's reason is its reason; the
// page does not say "No reason given." above it.
func TestEmergencyDeploymentShowsItsReason(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	if _, err := st.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "prod", Reason: "release week", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	res, err := st.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", Environment: "prod", ReleaseID: st.rel["r2"], OverrideReason: "data loss in archivist", RequestedBy: carol})
	if err != nil {
		t.Fatal(err)
	}
	tb := newTab(t, st.url)
	tb.open("#/p/storage/deployments?environment=prod")
	got := tb.text(fmt.Sprintf(`#timeline [data-deployment=%q]`, res.Deployment.ID))
	if strings.Contains(got, "No reason given") {
		t.Errorf("the emergency deployment reads %q: it says no reason was given above its reason", got)
	}
	if !strings.Contains(got, "data loss in archivist") {
		t.Errorf("the emergency deployment reads %q, want its reason", got)
	}
}

// TestStatCardsAndChartsCoverOnePeriod: the figures cover the period whose weeks the charts
// draw, and say which.
func TestStatCardsAndChartsCoverOnePeriod(t *testing.T) {
	st := newStack(t)
	st.shapes.Store(true)
	tb := newTab(t, st.url)
	tb.open("#/p/storage/metrics?environment=prod")
	tb.wait(`document.querySelector('#deployments-chart')`)
	st.mu.Lock()
	asked := append([][2]int64(nil), st.metricsAsked...)
	st.mu.Unlock()
	if len(asked) != 9 {
		t.Fatalf("the page asked for %d metrics windows, want the figures' and 8 weeks': %v", len(asked), asked)
	}
	whole := asked[0]
	lo, hi := asked[1][0], asked[1][1]
	for _, w := range asked[1:] {
		if w[1]-w[0] != 7*86400 {
			t.Errorf("a chart's week is %v, %d s long", w, w[1]-w[0])
		}
		lo, hi = min(lo, w[0]), max(hi, w[1])
	}
	if whole != [2]int64{lo, hi} {
		t.Errorf("the figures cover %v (%.1f days), the charts %v (%.1f days); want one period", whole, float64(whole[1]-whole[0])/86400, [2]int64{lo, hi}, float64(hi-lo)/86400)
	}
	if p := tb.text("#period"); !strings.Contains(p, "last 8 weeks") || !strings.Contains(p, "same 8 weeks") {
		t.Errorf("the page says %q, want it to name the 8 weeks that figures and charts share", p)
	}
}
