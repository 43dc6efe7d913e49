package dashboard_test

// The dashboard in a real browser: headless Chromium (Debian's chromium package) driven by
// chromedp, against the real API handler over a bolt store seeded through the service. One
// browser serves every test of the binary; each test opens its own tab on its own server.

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/dashboard"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// chromium finds the browser: $SHIPLOG_CHROMIUM, else Debian's /usr/bin/chromium, else chromium
// on PATH.
func chromium() (string, error) {
	if p := os.Getenv("SHIPLOG_CHROMIUM"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("no Chromium: the dashboard's browser tests need it; install Debian's package with `sudo apt-get install -y chromium` (.ci/run does), or point SHIPLOG_CHROMIUM at a Chromium binary")
}

func startBrowser() {
	path, err := chromium()
	if err != nil {
		browser.err = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	browser.ctx = ctx
	browser.cancel = func() { cancel(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		browser.err = fmt.Errorf("start %s: %w", path, err)
	}
}

// patience is how long a test waits for the page before it fails: long, because on a loaded
// machine (CI shares its cores) a slow page is a wait, not a failure. A page that never shows
// what is awaited still fails, with what it shows.
const patience = 2 * time.Minute

// tab is one browser tab on one test's server.
type tab struct {
	t   *testing.T
	ctx context.Context
	url string

	mu     sync.Mutex
	errors []string // exceptions the page threw, console errors it logged
}

func newTab(t *testing.T, url string) *tab {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, bound to ctx rather than to a timeout
		t.Fatalf("open a tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx, url: url}
	err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			tb.errors = append(tb.errors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				tb.errors = append(tb.errors, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, e := range tb.errors {
			t.Errorf("the page: %s", e)
		}
	})
	tb.do(chromedp.EmulateViewport(1280, 900))
	return tb
}

// do runs actions with a deadline, failing the test with what the page said if they fail.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, patience+5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		tb.t.Fatalf("%v (page errors: %q)", err, tb.errors)
	}
}

func run[T any](tb *tab, action chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, patience+5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		tb.t.Fatalf("%v (page errors: %q)", err, tb.errors)
	}
	return v
}

func (tb *tab) open(hash string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.url + "/" + hash))
	tb.waitRendered()
}

// waitRendered waits until the view has replaced "Loading…".
func (tb *tab) waitRendered() {
	tb.t.Helper()
	tb.wait(`!document.querySelector('#main[aria-busy]') && !document.querySelector('#main > .loading')`)
}

// waitShown waits until the page shows an address holding part: the hash changing is not enough,
// since the view it names renders after a hashchange event that comes later.
func (tb *tab) waitShown(part string) {
	tb.t.Helper()
	tb.wait(fmt.Sprintf(`(document.querySelector('#main').dataset.shown || '').includes(%q) && !document.querySelector('#main[aria-busy]')`, part))
}

// wait polls a JavaScript predicate until it is true; if it never is, the test fails with what
// the page shows.
func (tb *tab) wait(predicate string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, patience+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingTimeout(patience), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		shows := run(tb, chromedp.Evaluate[string](`location.hash + ' busy=' + document.querySelector('#main').getAttribute('aria-busy') + '\n' + document.body.innerText`))
		tb.mu.Lock()
		defer tb.mu.Unlock()
		tb.t.Fatalf("waiting for %s: %v\npage errors: %q\nthe page shows:\n%s", predicate, err, tb.errors, shows)
	}
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return run(tb, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).innerText`, sel)))
}

func (tb *tab) click(sel string) { tb.t.Helper(); tb.do(chromedp.Click(chromedp.CSS(sel))) }

func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// screenshot saves the page at a laptop's and a phone's width as NAME-desktop.png and
// NAME-phone.png in $SHIPLOG_SCREENSHOTS (default: the test's temporary directory). A page with a
// dialog open is shot as the viewport shows it; any other page whole.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	dir := os.Getenv("SHIPLOG_SCREENSHOTS")
	if dir == "" {
		dir = tb.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	dialog := run(tb, chromedp.Evaluate[bool](`!!document.querySelector('dialog[open]')`))
	shot := func(suffix string) {
		var img []byte
		if dialog {
			img = run(tb, chromedp.CaptureScreenshot())
		} else {
			img = run(tb, chromedp.FullScreenshot(100))
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+suffix+".png"), img, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
	shot("desktop")
	tb.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	tb.wait(`matchMedia('(max-width: 400px)').matches`)
	if over := run(tb, chromedp.Evaluate[[]string](overflowing)); len(over) > 0 {
		tb.t.Errorf("%s does not fit a phone's screen: %q", name, over)
	}
	shot("phone")
	tb.do(chromedp.EmulateViewport(1280, 900))
	tb.wait(`matchMedia('(min-width: 1200px)').matches`)
}

// overflowing lists what makes the page wider than the screen, which a phone shows zoomed out or
// scrolling sideways; nothing, if the page fits.
const overflowing = `(() => {
	const w = document.documentElement.clientWidth;
	if (document.documentElement.scrollWidth <= w) return [];
	const out = ['the page is ' + document.documentElement.scrollWidth + ' px wide, the screen ' + w];
	for (const el of document.querySelectorAll('body *')) {
		const r = el.getBoundingClientRect();
		if (r.width && r.right > w + 1) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + el.className + ' right=' + Math.round(r.right));
	}
	return out.slice(0, 10);
})()`

// stack is the API and the dashboard on one origin, as the local stack serves them, over a
// bolt store seeded through the service.
type stack struct {
	svc *shiplog.Service
	url string
	// shapes adds what the API is to answer (SHAPES-ISSUE9: the metrics route, deployment status,
	// drift) to its answers, until it does.
	shapes atomic.Bool
	rel    map[string]string

	mu           sync.Mutex
	metricsAsked [][2]int64 // the windows (since, until) the page asked metrics for
}

// clock is the service's clock: the past while the store is seeded, the real time afterwards.
type clock struct {
	mu   sync.Mutex
	at   time.Time
	real bool
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.real {
		return time.Now()
	}
	return c.at
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

const testManifest = `{
  "storage": {
    "name": "Storage service",
    "environments": [{"id": "stage", "name": "Staging"}, {"id": "prod", "name": "Production", "requires": ["stage"]}],
    "image_repositories": [
      {"id": "uk.ac.wellcome/archivist"},
      {"id": "uk.ac.wellcome/bag-register"},
      {"id": "uk.ac.wellcome/bag_verifier", "services": ["bag_verifier_pre_replication", "bag_verifier_post_replication"]},
      {"id": "uk.ac.wellcome/notifier"}
    ]
  },
  "bugfarm": {
    "name": "Bug farm",
    "environments": [{"id": "stage", "name": "Staging"}],
    "image_repositories": [{"id": "bugfarm/hatching"}, {"id": "bugfarm/feeding"}]
  }
}`

var (
	// CI invokes the functions, so it is who it says; people use the API, which authenticates.
	ci    = shiplog.Person{ID: "ci", Name: "CI", Via: shiplog.ViaInvoke}
	bob   = shiplog.Person{ID: "bob", Name: "Bob Builder", Via: shiplog.ViaAPI}
	carol = shiplog.Person{ID: "carol", Name: "Carol", Via: shiplog.ViaAPI}
)

func newStack(t *testing.T) *stack { t.Helper(); return newStackSignedAs(t, nil) }

// newStackSignedAs is newStack as shiplog ui serves it when signer is not nil: the page's
// X-Shiplog-User never reaches the API, every request is the signer's (API Gateway hands the API
// the signer's ARN), and the dashboard is told so, as uiServer tells it.
func newStackSignedAs(t *testing.T, signer *shiplog.Person) *stack {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	svc := shiplog.NewService(store, store, nil, nil)
	svc.Atomic = store.AtomicParameters() // as the local stack wires it
	clk := &clock{at: time.Now().Add(-6 * 24 * time.Hour).Truncate(time.Second)}
	svc.Now = clk.Now
	svc.NewID = shiplog.NewULIDGenerator(clk.Now)
	st := &stack{svc: svc, rel: map[string]string{}}
	ctx := context.Background()

	projects, err := manifest.Parse([]byte(testManifest))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatalf("register: %v", err)
	}
	push := func(repo string, n int) {
		t.Helper()
		clk.advance(time.Minute)
		_, err := svc.RecordPush(ctx, shiplog.ImagePush{Account: "123456789012", Region: "eu-west-1", Repository: repo,
			Digest: digest(n), Tag: fmt.Sprintf("v%d", n), Action: "PUSH", Result: "SUCCESS", Time: clk.Now()})
		if err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
	}
	release := func(name, project, why string) {
		t.Helper()
		clk.advance(10 * time.Minute)
		r, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: project, Description: why, RequestedBy: ci})
		if err != nil {
			t.Fatalf("release %s: %v", name, err)
		}
		st.rel[name] = r.ID
	}
	deploy := func(in shiplog.DeployInput) {
		t.Helper()
		clk.advance(3 * time.Hour)
		res, err := svc.Deploy(ctx, in)
		if err != nil {
			t.Fatalf("deploy %+v: %v", in, err)
		}
		if in.Environment == "stage" {
			// CI's smoke tests pass on stage, so that stage's releases may be promoted to prod.
			if _, err := svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: in.ProjectID, DeploymentID: res.Deployment.ID,
				Status: shiplog.StatusVerified, Detail: "smoke tests passed", By: ci}); err != nil {
				t.Fatalf("report %s verified: %v", res.Deployment.ID, err)
			}
		}
	}

	for i, repo := range []string{"uk.ac.wellcome/archivist", "uk.ac.wellcome/bag-register", "uk.ac.wellcome/bag_verifier", "uk.ac.wellcome/notifier"} {
		push(repo, i+1)
	}
	release("r1", "storage", "nightly")
	deploy(shiplog.DeployInput{ProjectID: "storage", ReleaseID: st.rel["r1"], Environment: "stage", RequestedBy: ci})
	deploy(shiplog.DeployInput{ProjectID: "storage", ReleaseID: st.rel["r1"], Environment: "prod", Description: "after QA", RequestedBy: bob})
	clk.advance(24 * time.Hour)
	push("uk.ac.wellcome/archivist", 11)
	push("uk.ac.wellcome/notifier", 14)
	release("r2", "storage", "archivist retries")
	deploy(shiplog.DeployInput{ProjectID: "storage", ReleaseID: st.rel["r2"], Environment: "stage", RequestedBy: ci})
	deploy(shiplog.DeployInput{ProjectID: "storage", FromEnvironment: "stage", Environment: "prod", Description: "weekly promotion", RequestedBy: carol})
	clk.advance(time.Hour)
	if _, err := svc.Rollback(ctx, shiplog.RollbackInput{ProjectID: "storage", Environment: "prod", Reason: "archivist errors on large bags", RequestedBy: carol}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	push("uk.ac.wellcome/bag-register", 12)

	push("bugfarm/hatching", 21)
	push("bugfarm/feeding", 22)
	release("b1", "bugfarm", "first")
	deploy(shiplog.DeployInput{ProjectID: "bugfarm", ReleaseID: st.rel["b1"], Environment: "stage", RequestedBy: ci})

	clk.mu.Lock()
	clk.real = true
	clk.mu.Unlock()
	st.serve(t, signer)
	return st
}

// serve puts the dashboard and the API over st.svc on one origin, as the local stack does (or as
// shiplog ui does, when signer is not nil), and sets st.url.
func (st *stack) serve(t *testing.T, signer *shiplog.Person) {
	t.Helper()
	svc := st.svc
	// As the local stack: no fallback identity, so a write the page sends without X-Shiplog-User
	// is refused, and the requester recorded is the one the page names.
	api := httpapi.LocalIdentity(httpapi.NewHandler(svc, nil), shiplog.Person{})
	dash := dashboard.Handler()
	if signer != nil {
		inner := httpapi.NewHandler(svc, nil)
		api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del(httpapi.UserHeader)
			r.Header.Del(httpapi.UserNameHeader)
			inner.ServeHTTP(w, r.WithContext(httpapi.WithIdentity(r.Context(), *signer)))
		})
		dash = dashboard.HandlerFor(func(context.Context) (dashboard.Writer, error) {
			return dashboard.Writer{ID: signer.ID, Name: signer.Name, Fixed: true, How: "signed with your AWS credentials"}, nil
		})
	}
	metricsPath := regexp.MustCompile(`^/projects/[^/]+/metrics$`)
	envsPath := regexp.MustCompile(`^/projects/[^/]+/environments$`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if metricsPath.MatchString(r.URL.Path) {
			var since, until int64
			fmt.Sscan(r.URL.Query().Get("since"), &since)
			fmt.Sscan(r.URL.Query().Get("until"), &until)
			st.mu.Lock()
			st.metricsAsked = append(st.metricsAsked, [2]int64{since, until})
			st.mu.Unlock()
		}
		switch {
		case dashboard.Serves(r.URL.Path):
			dash.ServeHTTP(w, r)
		case st.shapes.Load() && metricsPath.MatchString(r.URL.Path):
			cannedMetrics(w, r)
		case st.shapes.Load() && envsPath.MatchString(r.URL.Path):
			withStatusAndDrift(w, r, api)
		default:
			api.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	st.url = srv.URL
}

// cannedMetrics answers GET /projects/{p}/metrics in the shape the API is to have, with figures
// that follow from the window asked for.
func cannedMetrics(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var since, until int64
	fmt.Sscan(q.Get("since"), &since)
	fmt.Sscan(q.Get("until"), &until)
	days := float64(until-since) / 86400
	n := int(days*0.6) + int(until/86400%3)
	failed := n / 5
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"environment": q.Get("environment"), "since": since, "until": until, "deployments": n,
		"deployment_frequency":    map[string]any{"per_day": float64(n) / days, "per_week": float64(n) / days * 7},
		"lead_time_seconds":       map[string]any{"count": n, "median": 3600 * (2 + until/86400%5), "p90": 3600 * 20},
		"change_failure_rate":     map[string]any{"failed": failed, "total": n, "rate": float64(failed) / float64(max(n, 1))},
		"time_to_restore_seconds": map[string]any{"count": failed, "median": 1800},
	})
}

// digest is the n-th image's digest, as random-looking as real ones.
func digest(n int) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(strconv.Itoa(n))))
}

// withStatusAndDrift answers GET /projects/{p}/environments as the API does, with each
// environment's "status" and "drift" added: prod's archivist runs another image than recorded.
func withStatusAndDrift(w http.ResponseWriter, r *http.Request, api http.Handler) {
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, r)
	var body struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, e := range body.Items {
		e["status"], e["drift"] = "verified", []any{}
		if e["environment"].(map[string]any)["id"] == "prod" {
			e["status"] = "failed"
			e["drift"] = []any{map[string]any{"service": "archivist", "kind": "not_running", "recorded": "a", "actual": "b"}}
			e["pending"] = map[string]any{"environment": "prod", "release_id": "01KCANDIDATE00000000000000", "from": "stage",
				"waiting": []any{map[string]any{"gate": "window", "allow": false, "message": "storage/prod is outside its deploy windows", "retry_at": 1795424400}}}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func (st *stack) environments(t *testing.T, project string) map[string]shiplog.EnvironmentStatus {
	t.Helper()
	envs, err := st.svc.Environments(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]shiplog.EnvironmentStatus{}
	for _, e := range envs {
		out[e.Environment.ID] = e
	}
	return out
}

func (st *stack) deployments(t *testing.T, project, env string) []shiplog.DeploymentRecord {
	t.Helper()
	page, err := st.svc.Deployments(context.Background(), project, shiplog.DeploymentFilter{Environment: env}, shiplog.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

type matrixCell struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Image       string `json:"image"`
	Text        string `json:"text"`
	Differs     bool   `json:"differs"`
}

func (tb *tab) matrix() []matrixCell {
	tb.t.Helper()
	return run(tb, chromedp.Evaluate[[]matrixCell](`[...document.querySelectorAll('#matrix td[data-service]')].map((td) => ({
		service: td.dataset.service, environment: td.dataset.environment, image: td.dataset.image,
		text: td.innerText, differs: td.classList.contains('differs') }))`))
}

func shortDigest(uri string) string {
	_, d, _ := strings.Cut(uri, "@sha256:")
	return d[:12]
}

func TestMatrixShowsWhatTheStoreHolds(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)

	tb.open("")
	if got := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#projects [data-project]')].map((e) => e.dataset.project)`)); strings.Join(got, ",") != "bugfarm,storage" {
		t.Errorf("projects: got %v, want bugfarm, storage", got)
	}

	tb.open("#/p/storage")
	latest, err := st.svc.Images(context.Background(), "storage", "latest")
	if err != nil {
		t.Fatal(err)
	}
	envs := st.environments(t, "storage")
	// The columns, left to right: the latest images, then the environments in manifest order.
	columns := []struct {
		id     string
		images map[string]string
	}{{"latest", latest}, {"stage", envs["stage"].Current.Images}, {"prod", envs["prod"].Current.Images}}
	services := []string{"archivist", "bag-register", "bag_verifier_pre_replication", "bag_verifier_post_replication", "notifier"}
	var want []matrixCell
	for _, svc := range services {
		for i, c := range columns {
			cell := matrixCell{Service: svc, Environment: c.id, Image: c.images[svc]}
			if i > 0 {
				cell.Differs = c.images[svc] != columns[i-1].images[svc]
			}
			want = append(want, cell)
		}
	}
	got := tb.matrix()
	if len(got) != len(want) {
		t.Fatalf("matrix: got %d cells, want %d: %+v", len(got), len(want), got)
	}
	differing := 0
	for i, w := range want {
		g := got[i]
		if g.Service != w.Service || g.Environment != w.Environment || g.Image != w.Image || g.Differs != w.Differs {
			t.Errorf("cell %d: got %s/%s %q differs=%v, want %s/%s %q differs=%v", i, g.Service, g.Environment, g.Image, g.Differs, w.Service, w.Environment, w.Image, w.Differs)
		}
		if w.Image != "" && !strings.Contains(g.Text, shortDigest(w.Image)) {
			t.Errorf("cell %s/%s shows %q, want the short digest %s", w.Service, w.Environment, g.Text, shortDigest(w.Image))
		}
		if w.Differs {
			differing++
		}
	}
	// The seed makes latest, stage and prod differ (a push after release 2; prod rolled back).
	if differing < 3 {
		t.Errorf("only %d cells differ from their neighbour; the seed should make at least 3", differing)
	}
	tb.screenshot("matrix")

	tb.open("#/p/storage/releases")
	if got := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#releases [data-release]')].map((e) => e.dataset.release)`)); strings.Join(got, ",") != st.rel["r2"]+","+st.rel["r1"] {
		t.Errorf("releases: got %v, want r2, r1 (%s, %s)", got, st.rel["r2"], st.rel["r1"])
	}
	tb.wait(`document.querySelector('#releases [data-release] .diff')`)
	diff := tb.text(`#releases [data-release] .diff`)
	for _, s := range []string{"2 changed", "archivist changed", "notifier changed"} {
		if !strings.Contains(diff, s) {
			t.Errorf("diff of r2 to r1: got %q, want it to say %q", diff, s)
		}
	}
	tb.screenshot("releases")

	tb.open("#/p/storage/deployments?environment=prod")
	type event struct {
		ID      string `json:"id"`
		Classes string `json:"classes"`
	}
	events := run(tb, chromedp.Evaluate[[]event](`[...document.querySelectorAll('#timeline [data-deployment]')].map((e) => ({id: e.dataset.deployment, classes: e.className}))`))
	stored := st.deployments(t, "storage", "prod")
	if len(events) != len(stored) {
		t.Fatalf("timeline of prod: got %d deployments, want %d", len(events), len(stored))
	}
	for i, d := range stored {
		want := "event kind-" + d.Kind
		if i == 1 { // the promotion that the rollback undid
			want += " reverted"
		}
		if events[i].ID != d.ID || events[i].Classes != want {
			t.Errorf("timeline %d: got %+v, want %s %q", i, events[i], d.ID, want)
		}
	}
	if first := tb.text(`#timeline [data-deployment]`); !strings.Contains(first, "archivist errors on large bags") || !strings.Contains(first, "rollback") {
		t.Errorf("newest deployment reads %q, want the rollback and its reason", first)
	}
	tb.screenshot("timeline")

	tb.open("#/p/storage/releases/" + st.rel["r2"])
	images := run(tb, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll('#images tr[data-service]')].map((tr) => [tr.dataset.service, tr.querySelector('td[title]').title]))`))
	r2, err := st.svc.Release(context.Background(), "storage", st.rel["r2"])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(images) != fmt.Sprint(r2.Images) {
		t.Errorf("release r2's images: got %v, want %v", images, r2.Images)
	}
}

func TestPromoteClickedThroughThePage(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")

	// Say who I am, once.
	tb.click("#user")
	tb.typeInto("#user-name", "dana")
	tb.click(`dialog[open] button[type=submit]`)
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#user').innerText.includes('dana')`)

	before := st.environments(t, "storage")
	beforeCount := len(st.deployments(t, "storage", "prod"))
	tb.click(`button[data-key="promote:prod"]`)
	tb.wait(`document.querySelector('#plan')`)
	changed := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#plan tr[data-service]')].map((tr) => tr.dataset.service)`))
	if strings.Join(changed, ",") != "archivist,notifier" {
		t.Errorf("the plan changes %v, want archivist and notifier (where stage and prod differ)", changed)
	}
	if plan := tb.text("#plan"); !strings.Contains(plan, "from stage to prod") {
		t.Errorf("the plan reads %q, want it to say it promotes from stage to prod", plan)
	}
	if enabled := run(tb, chromedp.Evaluate[bool](`!document.querySelector('#confirm').disabled`)); !enabled {
		t.Fatal("the confirm button is disabled under a plan with no refusal")
	}
	tb.typeInto("#promote-description", "ship the retries")
	tb.screenshot("promote-plan")
	// The dry run wrote nothing.
	if got := len(st.deployments(t, "storage", "prod")); got != beforeCount {
		t.Fatalf("the plan recorded a deployment: %d, want %d", got, beforeCount)
	}

	tb.click("#confirm")
	stage := before["stage"].Current
	tb.wait(fmt.Sprintf(`!document.querySelector('dialog') && document.querySelector('#matrix td[data-service=archivist][data-environment=prod]').dataset.image === %q`, stage.Images["archivist"]))
	after := st.environments(t, "storage")["prod"].Current
	if after.ReleaseID != stage.ReleaseID {
		t.Errorf("prod runs release %s, want stage's %s", after.ReleaseID, stage.ReleaseID)
	}
	ds := st.deployments(t, "storage", "prod")
	if len(ds) != beforeCount+1 {
		t.Fatalf("prod has %d deployments, want %d", len(ds), beforeCount+1)
	}
	d := ds[0]
	if d.Kind != shiplog.KindPromote || d.PromotedFrom != "stage" || d.RequestedBy.ID != "dana" || d.Description != "ship the retries" {
		t.Errorf("the deployment: got kind %q from %q by %q, %q; want promote from stage by dana, \"ship the retries\"", d.Kind, d.PromotedFrom, d.RequestedBy.ID, d.Description)
	}
	if status := tb.text("#status"); !strings.Contains(status, "Promoted") || !strings.Contains(status, d.ID[len(d.ID)-8:]) {
		t.Errorf("status line: got %q, want it to say deployment %s was promoted", status, d.ID)
	}
	// The matrix, read again, has prod and stage alike.
	for _, c := range tb.matrix() {
		if c.Environment == "prod" && c.Differs {
			t.Errorf("after the promotion %s still differs between stage and prod", c.Service)
		}
	}
}

// TestIdentitiesSayHowTheyWereAsserted: the page marks a requester a direct invocation named
// ("CI (ci, invoke)") wherever it shows one, and shows an API caller as before.
func TestIdentitiesSayHowTheyWereAsserted(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)

	tb.open("#/p/storage/deployments?environment=stage")
	for _, d := range st.deployments(t, "storage", "stage") {
		who := tb.text(fmt.Sprintf(`li[data-deployment=%q] p strong`, d.ID))
		if who != "CI (ci, invoke)" {
			t.Errorf("stage deployment %s is shown by %q, want \"CI (ci, invoke)\"", d.ID, who)
		}
		history := run(tb, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector('li[data-deployment=%q] details').textContent`, d.ID)))
		if !strings.Contains(history, "by CI (ci, invoke): smoke tests passed") {
			t.Errorf("stage deployment %s's status history reads %q, want CI's report marked invoke", d.ID, history)
		}
	}
	tb.open("#/p/storage/deployments?environment=prod")
	prod := st.deployments(t, "storage", "prod")
	if who := tb.text(fmt.Sprintf(`li[data-deployment=%q] p strong`, prod[len(prod)-1].ID)); who != "Bob Builder (bob)" {
		t.Errorf("bob's prod deployment is shown by %q, want \"Bob Builder (bob)\" (an API caller, unmarked)", who)
	}

	tb.open("#/p/storage/releases/" + st.rel["r1"])
	if facts := tb.text("dl.facts"); !strings.Contains(facts, "by CI (ci, invoke)") {
		t.Errorf("release r1's facts read %q, want it made by \"CI (ci, invoke)\"", facts)
	}
}

// TestUIShowsWhoTheRecordWillName is issue 16's "Sent as erin": behind shiplog ui the record
// names the AWS identity the proxy signs as, whatever name was typed in the page before. The
// page must say so before the action, and the record must name exactly what it said.
func TestUIShowsWhoTheRecordWillName(t *testing.T) {
	signer := awslambda.IAMPerson("arn:aws:sts::123456789012:assumed-role/Admin/root")
	st := newStackSignedAs(t, &signer)
	tb := newTab(t, st.url)
	// A name typed in this browser earlier, on the local stack.
	tb.open("#/p/storage")
	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/storage")
	tb.wait(`document.querySelector('#user').innerText.includes('root')`)
	if top := tb.text("#user"); strings.Contains(top, "erin") {
		t.Errorf("the header says %q, want the signer, not the name typed in the page", top)
	}

	tb.click(`button[data-key="promote:prod"]`)
	tb.wait(`document.querySelector('#plan') && document.querySelector('#who') && !document.querySelector('#who').innerText.includes('Finding out')`)
	who := tb.text("#who")
	if !strings.Contains(who, "root ("+signer.ID+")") || strings.Contains(who, "erin") {
		t.Fatalf("before the promotion the page says %q, want it recorded as %q and no erin", who, "root ("+signer.ID+")")
	}
	tb.screenshot("ui-identity")
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog')`)
	ds := st.deployments(t, "storage", "prod")
	if got := ds[0].RequestedBy; got.ID != signer.ID || got.Name != "root" {
		t.Errorf("the record names %+v, want %s (root), as the page said", got, signer.ID)
	}

	// The button at the top explains instead of asking for a name.
	tb.click("#user")
	tb.wait(`document.querySelector('dialog[open]')`)
	if tb.text("dialog[open]") == "" || run(tb, chromedp.Evaluate[bool](`!!document.querySelector('dialog[open] input')`)) {
		t.Errorf("the user button behind shiplog ui offers a name to type: %q", tb.text("dialog[open]"))
	}
}

func TestRefusalsAndLocks(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)
	tb.open("#/p/storage")

	// A write without a name: the local stack here has no fallback user, and says so.
	tb.click(`button[data-key="lock:prod"]`)
	tb.typeInto("#lock-reason", "release week")
	tb.click("#confirm")
	tb.wait(`document.querySelector('dialog .dialog-errors .error')`)
	if msg := tb.text("dialog .dialog-errors .error"); !strings.Contains(msg, "no caller identity") {
		t.Errorf("a lock with no user: got %q, want the API's message about the caller's identity", msg)
	}
	if st.environments(t, "storage")["prod"].Lock != nil {
		t.Fatal("the refused lock was written")
	}
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.wait(`!document.querySelector('dialog')`)

	tb.do(chromedp.Evaluate[chromedp.Void](`localStorage.setItem('shiplog.user', 'erin')`))
	tb.open("#/p/storage")
	tb.click(`button[data-key="lock:prod"]`)
	tb.typeInto("#lock-reason", "release week")
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog') && document.querySelector('#matrix th[data-environment=prod]').innerText.includes('locked')`)
	lock := st.environments(t, "storage")["prod"].Lock
	if lock == nil || lock.Reason != "release week" || lock.LockedBy.ID != "erin" {
		t.Fatalf("prod's lock: got %+v, want one by erin for \"release week\"", lock)
	}
	// The focus stays on the button that acted, now Unlock.
	if focused := run(tb, chromedp.Evaluate[string](`document.activeElement.innerText`)); focused != "Unlock…" {
		t.Errorf("after locking, the focus is on %q, want the Unlock… button", focused)
	}

	// A promotion into the locked environment: the plan shows the refusal, and nothing can be confirmed.
	count := len(st.deployments(t, "storage", "prod"))
	plan, err := st.svc.Plan(context.Background(), shiplog.DeployInput{ProjectID: "storage", FromEnvironment: "stage", Environment: "prod", RequestedBy: shiplog.Person{ID: "erin"}})
	if err != nil || plan.Plan.Refusal == nil {
		t.Fatalf("the service's plan: %+v, %v; want a refusal", plan, err)
	}
	tb.click(`button[data-key="promote:prod"]`)
	tb.wait(`document.querySelector('#plan .refusal')`)
	if msg := tb.text("#plan .refusal"); !strings.Contains(msg, plan.Plan.Refusal.Message) {
		t.Errorf("the refusal reads %q, want the API's message %q", msg, plan.Plan.Refusal.Message)
	}
	// Every gate's decision is listed, the lock's refusal among them.
	if got := tb.text(`#plan .gates tr[data-gate=lock]`); !strings.Contains(got, "Refused") || !strings.Contains(got, "locked by erin") {
		t.Errorf("the lock gate's row reads %q, want it refused, by erin's lock", got)
	}
	if got := tb.text(`#plan .gates tr[data-gate=freeze]`); !strings.Contains(got, "Pass") {
		t.Errorf("the freeze gate's row reads %q, want it passed", got)
	}
	if disabled := run(tb, chromedp.Evaluate[bool](`document.querySelector('#confirm').disabled`)); !disabled {
		t.Error("the confirm button is enabled under a refused plan")
	}
	tb.screenshot("refusal")
	tb.do(chromedp.KeyEvent(kb.Escape))
	tb.wait(`!document.querySelector('dialog')`)
	if got := len(st.deployments(t, "storage", "prod")); got != count {
		t.Errorf("prod has %d deployments after the refusal, want %d", got, count)
	}

	// Unlock through the page.
	tb.click(`button[data-key="lock:prod"]`)
	tb.wait(`document.querySelector('dialog[open] blockquote')`)
	if reason := tb.text("dialog[open] blockquote"); reason != "release week" {
		t.Errorf("the unlock dialog shows the reason %q, want \"release week\"", reason)
	}
	tb.click("#confirm")
	tb.wait(`!document.querySelector('dialog') && !document.querySelector('#matrix th[data-environment=prod]').innerText.includes('locked')`)
	if lock := st.environments(t, "storage")["prod"].Lock; lock != nil {
		t.Errorf("prod is still locked: %+v", lock)
	}

	// A rollback the API refuses outright: bugfarm's stage has run only one release.
	_, err = st.svc.PlanRollback(context.Background(), shiplog.RollbackInput{ProjectID: "bugfarm", Environment: "stage", Reason: "x", RequestedBy: shiplog.Person{ID: "erin"}})
	if err == nil {
		t.Fatal("the service plans a rollback of bugfarm/stage; the seed should leave nothing to roll back to")
	}
	tb.open("#/p/bugfarm")
	tb.click(`button[data-key="rollback:stage"]`)
	tb.click("#show-plan") // no reason yet: the page asks for one
	if msg := tb.text("dialog .dialog-errors"); !strings.Contains(msg, "needs a reason") {
		t.Errorf("a rollback with no reason: got %q, want to be asked for one", msg)
	}
	tb.typeInto("#rollback-reason", "feeding is stuck")
	tb.click("#show-plan")
	tb.wait(`document.querySelector('.plan-box .error')`)
	if msg := tb.text(".plan-box .error"); !strings.Contains(msg, shiplog.MessageOf(err)) {
		t.Errorf("the rollback's refusal reads %q, want the API's message %q", msg, shiplog.MessageOf(err))
	}
	if disabled := run(tb, chromedp.Evaluate[bool](`document.querySelector('#confirm').disabled`)); !disabled {
		t.Error("the rollback can be confirmed although the API refused its plan")
	}
}

// TestShapesStillToCome checks the views of the DORA metrics (from the real route), and of
// deployment status and drift (from canned answers that mark both).
func TestShapesStillToCome(t *testing.T) {
	st := newStack(t)
	tb := newTab(t, st.url)

	// The metrics view shows what the service computes.
	m, err := st.svc.Metrics(context.Background(), shiplog.MetricsInput{ProjectID: "storage", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	tb.open("#/p/storage/metrics?environment=prod")
	if msg := tb.text("#main"); !strings.Contains(msg, fmt.Sprintf("%d deployments to prod", m.Deployments)) {
		t.Errorf("metrics: got %q, want the service's %d deployments to prod", msg, m.Deployments)
	}

	st.shapes.Store(true)
	tb.open("#/p/storage")
	if marks := tb.text("#matrix th[data-environment=prod] .marks"); !strings.Contains(marks, "failed") || !strings.Contains(marks, "drift 1") {
		t.Errorf("prod's marks: got %q, want its status (failed) and its drift", marks)
	}
	if waits := tb.text("#env-prod .auto-pending"); !strings.Contains(waits, "auto-promote") || !strings.Contains(waits, "(verified in stage)") ||
		!strings.Contains(waits, "window storage/prod is outside its deploy windows — opens") {
		t.Errorf("prod's card: got %q, want what it waits for: the candidate, the window's refusal and when it opens", waits)
	}
	drifted := run(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#matrix td.is-drift')].map((td) => td.dataset.service + '/' + td.dataset.environment)`))
	if strings.Join(drifted, ",") != "archivist/prod" {
		t.Errorf("cells marked as drifted: got %v, want archivist/prod", drifted)
	}

	tb.open("#/p/storage/metrics?environment=prod")
	figures := tb.text("#figures")
	for _, s := range []string{"Deployment frequency", "Lead time for changes", "Change failure rate", "Time to restore"} {
		if !strings.Contains(figures, s) {
			t.Errorf("figures: got %q, want %q", figures, s)
		}
	}
	if bars := run(tb, chromedp.Evaluate[int](`document.querySelectorAll('#deployments-chart rect.bar').length`)); bars != 8 {
		t.Errorf("the deployments chart has %d bars, want 8 weeks", bars)
	}
	tb.screenshot("metrics")
}
