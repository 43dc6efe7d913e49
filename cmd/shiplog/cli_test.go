package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/version"
)

// These tests run the CLI in-process against the local stack's HTTP API (httpapi over a bbolt
// store in a temporary directory) on 127.0.0.1, with real requests.

// clock is the service's time; the CLI's is five minutes later.
var clock = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

type local struct {
	url   string
	svc   *shiplog.Service
	store *bolt.Store
	h     http.Handler // the API with the local identity, which url serves
}

// newLocal serves the HTTP API over a fresh store. Its identity is the X-Shiplog-User header
// only: with no fallback, a write without --user (or $USER) is refused.
func newLocal(t *testing.T) *local {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc := shiplog.NewService(store, store, nil, nil)
	svc.Atomic = store.AtomicParameters() // as the local stack wires it
	svc.Automate = true
	svc.Now = func() time.Time { return clock }
	svc.NewID = shiplog.NewULIDGenerator(svc.Now)
	h := httpapi.LocalIdentity(httpapi.NewHandler(svc, nil), shiplog.Person{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &local{url: srv.URL, svc: svc, store: store, h: h}
}

// result is what one run of the CLI printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// invocation describes one run: its environment, and stdin (a terminal when tty is set).
type invocation struct {
	env   map[string]string
	stdin string
	tty   bool
	setup func(*app)
}

func (l *local) run(t *testing.T, args ...string) result {
	t.Helper()
	return invocation{env: map[string]string{"SHIPLOG_API_URL": l.url, "USER": "alice"}}.run(t, args...)
}

func (inv invocation) run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	std := streams{in: strings.NewReader(inv.stdin), out: &out, err: &errb, inTTY: inv.tty}
	a := newApp(std, func(k string) string { return inv.env[k] })
	a.now = func() time.Time { return clock.Add(5 * time.Minute) }
	a.loc = time.UTC
	a.pollInterval = time.Millisecond
	if inv.setup != nil {
		inv.setup(a)
	}
	code := runApp(t.Context(), a, args)
	return result{out.String(), errb.String(), code}
}

func (r result) want(t *testing.T, code int, stdout ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
}

// digestOf is a digest whose short form is distinct per n: sha256:nnnn....
func digestOf(n int) string {
	return "sha256:" + strings.Repeat(fmt.Sprintf("%x", n), 64)[:64]
}

// revisionOf is the Git revision push n was built from, which its tag (sha-<sha>) names.
func revisionOf(n int) string { return strings.Repeat(fmt.Sprintf("%x", n), 40)[:40] }

// push records an ECR push of a repository, tagged with its revision.
func (l *local) push(t *testing.T, repo string, n int, at time.Time) {
	t.Helper()
	_, err := l.svc.RecordPush(context.Background(), shiplog.ImagePush{Account: "760097843905", Region: "eu-west-1",
		Repository: repo, Digest: digestOf(n), Tag: "sha-" + revisionOf(n), Action: "PUSH", Result: "SUCCESS", Time: at})
	if err != nil {
		t.Fatal(err)
	}
}

// get returns the API's own answer to a GET, for comparing with -o json.
func (l *local) get(t *testing.T, path string) string {
	t.Helper()
	res, err := http.Get(l.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func (l *local) deployments(t *testing.T, env string) []shiplog.DeploymentRecord {
	t.Helper()
	page, err := l.svc.Deployments(context.Background(), "storage", shiplog.DeploymentFilter{Environment: env}, shiplog.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// columnsAligned checks that in each line the given cells start at the header's columns.
func columnsAligned(t *testing.T, out string, header []string, row []string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	var h, r string
	for _, l := range lines {
		if strings.HasPrefix(l, header[0]) && h == "" {
			h = l
		} else if strings.HasPrefix(l, row[0]) && h != "" && r == "" {
			r = l
		}
	}
	if h == "" || r == "" {
		t.Fatalf("no header %q or row %q in:\n%s", header[0], row[0], out)
	}
	for i := range header {
		hi, ri := strings.Index(h, header[i]), strings.Index(r, row[i])
		if hi < 0 || hi != ri {
			t.Errorf("column %s starts at %d, its cell %q at %d:\n%s\n%s", header[i], hi, row[i], ri, h, r)
		}
	}
}

func storageRepos() []string {
	return []string{"uk.ac.wellcome/archivist", "uk.ac.wellcome/bag-register", "uk.ac.wellcome/bag_verifier", "uk.ac.wellcome/notifier"}
}

// TestCLIAgainstTheLocalStack does the walkthrough's work with the CLI: register, see images,
// release, deploy with and without confirmation, lock, promote, roll back, freeze; checking the
// tables people read, -o json against the API's own answers, the store, and the exit codes.
func TestCLIAgainstTheLocalStack(t *testing.T) {
	l := newLocal(t)
	manifestFile := filepath.Join("testdata", "wellcome_project.json")

	l.run(t, "project", "register", "-f", manifestFile).want(t, 0, "registered storage (Storage service): environments stage, prod; 5 services")
	ps, _ := l.svc.Projects(context.Background())
	if len(ps) != 3 {
		t.Fatalf("registered %d projects, want 3", len(ps))
	}
	r := l.run(t, "projects")
	r.want(t, 0, "storage", "Storage service", "stage, prod")
	columnsAligned(t, r.stdout, []string{"PROJECT", "NAME", "ENVIRONMENTS", "SERVICES"}, []string{"storage", "Storage service", "stage, prod", "5"})
	l.run(t, "project", "show", "storage").want(t, 0, "uk.ac.wellcome/bag_verifier", "bag_verifier_pre_replication, bag_verifier_post_replication")

	for i, repo := range storageRepos() {
		l.push(t, repo, i+1, clock.Add(-time.Hour))
	}
	r = l.run(t, "images", "storage")
	r.want(t, 0, "uk.ac.wellcome/archivist", "sha256:111111111111")
	columnsAligned(t, r.stdout, []string{"SERVICE", "REPOSITORY", "DIGEST"}, []string{"bag-register", "uk.ac.wellcome/bag-register", "sha256:222222222222"})
	if strings.Contains(r.stdout, digestOf(1)) {
		t.Errorf("images shows the whole digest, want the short one:\n%s", r.stdout)
	}
	if got, want := l.run(t, "-o", "json", "images", "storage").stdout, l.get(t, "/projects/storage/images/latest"); got != want {
		t.Errorf("-o json images: got %s, want the API's answer %s", got, want)
	}

	r = l.run(t, "release", "create", "storage", "--description", "first")
	r.want(t, 0, "created release ", "of storage from latest (5 images)")
	rels, _ := l.svc.Releases(context.Background(), "storage", shiplog.PageRequest{})
	if len(rels.Items) != 1 || rels.Items[0].RequestedBy.ID != "alice" || rels.Items[0].Description != "first" {
		t.Fatalf("releases after create: %+v, want one by alice, described first", rels.Items)
	}
	rel1 := rels.Items[0].ID
	r = l.run(t, "releases", "storage")
	r.want(t, 0, rel1, "2026-11-20 10:00 (5m ago)", "alice")
	columnsAligned(t, r.stdout, []string{"RELEASE", "LABEL", "CREATED", "BY"}, []string{rel1, "latest", "2026-11-20 10:00 (5m ago)", "alice"})
	if got, want := l.run(t, "-o", "json", "releases", "storage").stdout, l.get(t, "/projects/storage/releases?limit=20"); got != want {
		t.Errorf("-o json releases: got %s, want the API's answer %s", got, want)
	}
	l.run(t, "release", "show", "storage", "latest").want(t, 0, "Release "+rel1, "created:      2026-11-20 10:00:00 UTC (5m ago) by alice", "Not deployed yet.")

	// No confirmation, no deploy: not on a pipe without --yes, not when the person says no.
	r = l.run(t, "deploy", "storage", "stage", "latest")
	r.want(t, exitError, "Plan: deploy release "+rel1+" to storage/stage", "archivist", "added")
	if !strings.Contains(r.stderr, "pass --yes") {
		t.Errorf("stderr: %q, want it to say pass --yes", r.stderr)
	}
	invocation{env: map[string]string{"SHIPLOG_API_URL": l.url, "USER": "alice"}, stdin: "n\n", tty: true}.run(t, "deploy", "storage", "stage", "latest").want(t, exitError)
	if got := l.deployments(t, ""); len(got) != 0 {
		t.Fatalf("deployments after refused confirmations: %d, want 0", len(got))
	}
	r = invocation{env: map[string]string{"SHIPLOG_API_URL": l.url, "USER": "alice"}, stdin: "y\n", tty: true}.run(t, "deploy", "storage", "stage", "latest", "--description", "ship it")
	r.want(t, 0, "deployment ")
	if !strings.Contains(r.stderr, "Deploy release "+rel1+" to storage/stage? [y/N]") {
		t.Errorf("stderr: %q, want the question", r.stderr)
	}
	deps := l.deployments(t, "stage")
	if len(deps) != 1 || deps[0].RequestedBy.ID != "alice" || deps[0].Description != "ship it" {
		t.Fatalf("stage deployments: %+v, want one by alice", deps)
	}

	r = l.run(t, "history", "storage")
	r.want(t, 0, deps[0].ID, "ship it")
	columnsAligned(t, r.stdout, []string{"DEPLOYMENT", "ENVIRONMENT", "RELEASE", "KIND"}, []string{deps[0].ID, "stage", rel1, "deploy"})
	r = l.run(t, "status", "storage")
	r.want(t, 0, "in sync")
	columnsAligned(t, r.stdout, []string{"ENVIRONMENT", "RELEASE", "DEPLOYED"}, []string{"stage", rel1, "2026-11-20 10:00 (5m ago)"})
	if got, want := l.run(t, "-o", "json", "status", "storage").stdout, l.get(t, "/projects/storage/environments"); got != want {
		t.Errorf("-o json status: got %s, want %s", got, want)
	}
	l.run(t, "status", "storage", "qa").want(t, exitNotFound)

	// A lock refuses the deploy at the plan, exit 4, and nothing is recorded.
	l.run(t, "lock", "storage", "prod", "--reason", "db migration", "--expires", "2h").want(t, 0, "locked storage/prod by alice: db migration (until 2026-11-20 12:05:00 UTC (in 2h))")
	r = l.run(t, "deploy", "storage", "prod", "latest", "--yes")
	r.want(t, exitConflict)
	if !strings.Contains(r.stderr, "locked") {
		t.Errorf("stderr %q, want the lock's refusal", r.stderr)
	}
	// The plan lists every gate's decision, the lock's refusal with when it opens by itself.
	columnsAligned(t, r.stdout, []string{"GATE", "DECISION", "OPENS", "WHY"},
		[]string{"lock", "refused", "2026-11-20 12:05 (in 2h)", "storage/prod is locked by alice"})
	columnsAligned(t, r.stdout, []string{"GATE", "DECISION", "OPENS", "WHY"}, []string{"freeze", "pass", "-", "storage/prod is not frozen"})
	if got := l.deployments(t, "prod"); len(got) != 0 {
		t.Fatalf("prod deployments under a lock: %d", len(got))
	}
	l.run(t, "status", "storage", "prod").want(t, 0, "locked by alice: db migration")
	l.run(t, "unlock", "storage", "prod").want(t, 0, "unlocked storage/prod")
	l.run(t, "unlock", "storage", "prod").want(t, 0, "was not locked")

	// Promote stage to prod, then a second release, and roll prod back.
	l.run(t, "promote", "storage", "stage", "prod", "--yes").want(t, 0, "Plan: promote from stage release "+rel1+" to storage/prod")
	if got := l.deployments(t, "prod"); len(got) != 1 || got[0].Kind != shiplog.KindPromote || got[0].PromotedFrom != "stage" {
		t.Fatalf("prod deployments after promote: %+v", got)
	}
	l.push(t, "uk.ac.wellcome/notifier", 9, clock.Add(-time.Minute))
	l.run(t, "release", "create", "storage").want(t, 0)
	// A list of releases carries how often each was deployed, not the deployments.
	r = l.run(t, "releases", "storage")
	columnsAligned(t, r.stdout, []string{"RELEASE", "LABEL", "CREATED", "BY", "DEPLOYED"}, []string{rel1, "latest", "2026-11-20 10:00 (5m ago)", "alice", "2 times"})
	l.run(t, "diff", "storage", "prod", "latest").want(t, 0, "notifier", "changed", "uk.ac.wellcome/notifier@sha256:444444444444", "uk.ac.wellcome/notifier@sha256:999999999999", "unchanged",
		"Changes:", "444444444444..999999999999", "the source repository is not known")
	l.run(t, "deploy", "storage", "prod", "latest", "-y").want(t, 0, "Changes:", "444444444444..999999999999")
	l.run(t, "release", "show", "storage", "latest").want(t, 0, "REVISION", "999999999999", "444444444444..999999999999")
	r = l.run(t, "rollback", "storage", "prod", "--reason", "notifier errors", "--hold", "--yes")
	r.want(t, 0, "Plan: rollback release "+rel1)
	prod := l.deployments(t, "prod")
	if prod[0].Kind != shiplog.KindRollback || prod[0].ReleaseID != rel1 {
		t.Fatalf("newest prod deployment: %+v, want a rollback to %s", prod[0], rel1)
	}
	l.run(t, "history", "storage", "prod").want(t, 0, "rollback of "+prod[1].ID)
	// A page that is not the last says, after the table, the command that shows the next one.
	r = l.run(t, "history", "storage", "prod", "--limit", "1")
	r.want(t, 0, prod[0].ID)
	hint, ok := strings.CutPrefix(r.stderr, "more: shiplog history storage prod --limit 1 --cursor ")
	if !ok || strings.Count(r.stdout, "\n") != 2 {
		t.Fatalf("history --limit 1: stdout %q, stderr %q; want the newest deployment and the next page's command", r.stdout, r.stderr)
	}
	l.run(t, "history", "storage", "prod", "--limit", "1", "--cursor", strings.TrimSpace(hint)).want(t, 0, prod[1].ID)
	l.run(t, "rollback", "storage", "prod", "--yes").want(t, exitError) // no --reason
	l.run(t, "unlock", "storage", "prod").want(t, 0)

	// Freezes.
	l.run(t, "freeze", "set", "storage", "release-week", "--environments", "prod", "--starts", "2026-11-20T09:00:00Z", "--ends", "2d", "--reason", "release week").want(t, 0, "freeze release-week of storage set: prod")
	l.run(t, "freeze", "list", "storage").want(t, 0, "release-week", "prod", "release week")
	l.run(t, "deploy", "storage", "prod", "latest", "-y").want(t, exitConflict)
	l.run(t, "freeze", "delete", "storage", "release-week").want(t, 0, "lifted")
	l.run(t, "freeze", "delete", "storage", "release-week").want(t, exitNotFound)

	// The exit codes of the API's errors, with its message.
	r = l.run(t, "release", "show", "storage", "01JUNKJUNKJUNKJUNKJUNKJUNK")
	r.want(t, exitNotFound)
	if !strings.Contains(r.stderr, "01JUNKJUNKJUNKJUNKJUNKJUNK") {
		t.Errorf("stderr %q, want the API's message", r.stderr)
	}
	l.run(t, "history", "storage", "--limit", "1000").want(t, exitInvalid)
	r = invocation{env: map[string]string{"SHIPLOG_API_URL": l.url}}.run(t, "release", "create", "storage")
	r.want(t, exitUnauthorized)
	if !strings.Contains(r.stderr, "no caller identity") {
		t.Errorf("stderr %q, want the API's 401 message", r.stderr)
	}
	l.run(t, "--api", "http://127.0.0.1:1", "projects").want(t, exitUnavailable)
	l.run(t, "-o", "xml", "projects").want(t, exitError)
	l.run(t, "deploy", "storage").want(t, exitError)
}

// TestRegisterRefusesABadFile: one bad entry and nothing is registered.
func TestRegisterRefusesABadFile(t *testing.T) {
	l := newLocal(t)
	bad := filepath.Join(t.TempDir(), ".wellcome_project")
	writeFile(t, bad, `{"good": {"name": "G", "environments": [{"id": "stage"}], "image_repositories": [{"id": "g/app"}]},
		"bad": {"name": "B", "environments": [{"id": "a b"}], "image_repositories": [{"id": "b/app"}]}}`)
	r := l.run(t, "project", "register", "-f", bad)
	r.want(t, exitInvalid)
	if !strings.Contains(r.stderr, bad+":2:42: bad.environments[0].id") {
		t.Errorf("stderr %q, want it to name the bad field, with its line and column", r.stderr)
	}
	if ps, _ := l.svc.Projects(context.Background()); len(ps) != 0 {
		t.Errorf("registered %d projects from a bad file, want 0", len(ps))
	}
	l.run(t, "project", "register", "-f", filepath.Join("testdata", "wellcome_project.json"), "--project", "nope").want(t, exitInvalid)
	l.run(t, "project", "register", "-f", filepath.Join(t.TempDir(), "missing")).want(t, exitError)
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"--help"}, {"help"}, {"deploy", "--help"}, {"help", "deploy"}} {
		r := invocation{}.run(t, args...)
		r.want(t, 0, "Usage:", "Exit codes: shiplog help exit-codes")
		if r.stderr != "" {
			t.Errorf("%v: stderr %q, want help on stdout only", args, r.stderr)
		}
	}
	r := invocation{}.run(t, "frobnicate")
	r.want(t, exitError)
	if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("stderr %q", r.stderr)
	}
	invocation{}.run(t, "projects", "--no-such-flag").want(t, exitError)
}

// TestColor: color only when stdout is a terminal and NO_COLOR is unset, and the columns stay
// aligned with it.
func TestColor(t *testing.T) {
	l := newLocal(t)
	l.run(t, "project", "register", "-f", filepath.Join("testdata", "wellcome_project.json")).want(t, 0)
	env := map[string]string{"SHIPLOG_API_URL": l.url}
	tty := func(a *app) { a.std.outTTY = true }
	if r := (invocation{env: env}).run(t, "projects"); strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colors on a pipe:\n%q", r.stdout)
	}
	r := invocation{env: env, setup: tty}.run(t, "projects")
	if !strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("no colors on a terminal:\n%q", r.stdout)
	}
	plainOut := regexp.MustCompile("\x1b\\[[0-9]+m").ReplaceAllString(r.stdout, "")
	columnsAligned(t, plainOut, []string{"PROJECT", "NAME", "ENVIRONMENTS"}, []string{"storage", "Storage service", "stage, prod"})
	env["NO_COLOR"] = "1"
	if r := (invocation{env: env, setup: tty}).run(t, "projects"); strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colors with NO_COLOR:\n%q", r.stdout)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := osWriteFile(path, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func osWriteFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

// TestTablesSayWhenAnIdentityWasAsserted: a requester a direct invocation named is only what the
// invoker said, so every place the CLI shows one marks it "invoke"; an API caller is shown as
// before. Seeded through the service as the invoke functions record (Via invoke), next to the
// CLI's own writes (Via api).
func TestTablesSayWhenAnIdentityWasAsserted(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	l.run(t, "project", "register", "-f", filepath.Join("testdata", "wellcome_project.json")).want(t, 0)
	for i, repo := range storageRepos() {
		l.push(t, repo, i+1, clock.Add(-time.Hour))
	}
	ci := shiplog.Person{ID: "ci", Name: "GitHub Actions", Via: shiplog.ViaInvoke}
	bot := shiplog.Person{ID: "deploybot", Via: shiplog.ViaInvoke}
	const asserted, assertedBot = "GitHub Actions (ci, invoke)", "deploybot (invoke)"
	rel1, err := l.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: ci})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: rel1.ID, Environment: "stage", RequestedBy: ci}); err != nil {
		t.Fatal(err)
	}
	l.push(t, "uk.ac.wellcome/notifier", 9, clock.Add(-time.Minute))
	l.run(t, "release", "create", "storage").want(t, 0)
	l.run(t, "deploy", "storage", "stage", "latest", "--yes").want(t, 0)
	if _, err := l.svc.Rollback(ctx, shiplog.RollbackInput{ProjectID: "storage", Environment: "stage", Reason: "notifier errors", Hold: true, RequestedBy: bot}); err != nil {
		t.Fatal(err)
	}
	rel2 := l.deployments(t, "stage")[1].ReleaseID

	// The line of out with key as a cell of its own; fails if there is none.
	row := func(t *testing.T, out, key string) string {
		t.Helper()
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, key+" ") || strings.Contains(line, "  "+key+"  ") {
				return line
			}
		}
		t.Fatalf("no line with %q in:\n%s", key, out)
		return ""
	}
	check := func(t *testing.T, line, want string, plain bool) {
		t.Helper()
		if !strings.Contains(line, want) {
			t.Errorf("got %q, want it to show %q", line, want)
		}
		if plain && strings.Contains(line, "invoke") {
			t.Errorf("got %q, want no invoke marker on an API caller", line)
		}
	}

	r := l.run(t, "releases", "storage")
	r.want(t, 0)
	check(t, row(t, r.stdout, rel1.ID), asserted, false)
	check(t, row(t, r.stdout, rel2), "alice", true)

	r = l.run(t, "release", "show", "storage", rel1.ID)
	r.want(t, 0, "by "+asserted)
	check(t, row(t, r.stdout, "rollback"), assertedBot, false)

	r = l.run(t, "history", "storage", "stage")
	r.want(t, 0)
	deps := l.deployments(t, "stage")
	check(t, row(t, r.stdout, deps[0].ID), assertedBot, false)
	check(t, row(t, r.stdout, deps[1].ID), "alice", true)
	check(t, row(t, r.stdout, deps[2].ID), asserted, false)

	r = l.run(t, "status", "storage", "stage")
	r.want(t, 0, "locked by "+assertedBot+": notifier errors")
	check(t, row(t, r.stdout, "stage"), assertedBot, false)

	r = l.run(t, "events", "storage", "--type", shiplog.EventReleaseCreated)
	r.want(t, 0)
	check(t, row(t, r.stdout, rel1.ID), asserted, false)
	check(t, row(t, r.stdout, rel2), "alice", true)
}

// TestVersion: --version names the build's version, as the User-Agent does.
func TestVersion(t *testing.T) {
	r := invocation{}.run(t, "--version")
	r.want(t, 0, "shiplog "+version.String()+"\n")
}

// TestProjectShowsWhereEnvironmentsLive: project show gives each environment's account and
// region, "-" for the stack's own.
func TestProjectShowsWhereEnvironmentsLive(t *testing.T) {
	l := newLocal(t)
	manifest := filepath.Join(t.TempDir(), "m.json")
	entry := `{"faraway": {"name": "Far away", "environments": [{"id": "stage"},
	  {"id": "prod", "role_arn": "arn:aws:iam::333333333333:role/shiplog-target", "region": "us-east-1"}],
	  "image_repositories": [{"id": "far/web"}]}}`
	if err := os.WriteFile(manifest, []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	l.run(t, "project", "register", "-f", manifest).want(t, 0, "registered faraway")
	r := l.run(t, "project", "show", "faraway")
	r.want(t, 0, "333333333333", "us-east-1")
	columnsAligned(t, r.stdout, []string{"ENVIRONMENT", "ACCOUNT", "REGION"}, []string{"prod", "333333333333", "us-east-1"})
	if !strings.Contains(r.stdout, "stage        stage  -         -             -") {
		t.Errorf("stage, in the stack's own account and region: want \"-\" for both in:\n%s", r.stdout)
	}
}
