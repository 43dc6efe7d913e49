package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The CLI as a person meets it (issue 23): short ids, typos answered with what exists, messages
// in the CLI's words, completion, and exit codes.

// released registers the test manifest, pushes every storage image and creates a release: the
// state most commands need.
func released(t *testing.T) (*local, string) {
	t.Helper()
	l := newLocal(t)
	l.run(t, "project", "register", "-f", filepath.Join("testdata", "wellcome_project.json")).want(t, 0)
	for i, repo := range storageRepos() {
		l.push(t, repo, i+1, clock.Add(-time.Hour))
	}
	r, err := l.svc.CreateRelease(context.Background(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	return l, r.ID
}

func (r result) wantErr(t *testing.T, code int, stderr ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestShortIDs(t *testing.T) {
	l, rel := released(t)
	short := rel[len(rel)-8:]
	for _, arg := range []string{short, strings.ToLower(short), rel[:12], strings.ToLower(rel)} {
		l.run(t, "release", "show", "storage", arg).want(t, 0, "Release "+rel)
	}
	l.run(t, "deploy", "storage", "stage", strings.ToLower(short), "-y").want(t, 0, "Plan: deploy release "+rel+" to storage/stage")
	deps := l.deployments(t, "stage")
	if len(deps) != 1 || deps[0].ReleaseID != rel {
		t.Fatalf("stage deployments: %+v, want one of %s", deps, rel)
	}
	dep := deps[0].ID
	l.run(t, "report", "storage", dep[len(dep)-8:], "verified").want(t, 0, "deployment "+dep+" (stage, release "+rel+") is verified")
	l.run(t, "diff", "storage", short, "stage").want(t, 0, "unchanged")
	l.run(t, "diff", "storage", "release:"+strings.ToLower(short), "environment:stage").want(t, 0, "unchanged")
	l.run(t, "wait", "storage", dep[len(dep)-8:], "--for", "verified").want(t, 0)

	// A short id no release has: not found, saying so.
	l.run(t, "release", "show", "storage", "ZZZZZZZZ").wantErr(t, exitNotFound, "no release of storage has an id that starts or ends with ZZZZZZZZ")
	l.run(t, "deploy", "storage", "prod", "ZZZZZZZZ", "-y").wantErr(t, exitNotFound)
	if got := l.deployments(t, "prod"); len(got) != 0 {
		t.Fatalf("a deploy of an unknown short id recorded %d deployments", len(got))
	}

	// Two releases made in the same second share their first characters: a prefix that both
	// have is refused, naming both.
	l.push(t, "uk.ac.wellcome/notifier", 9, clock.Add(-time.Minute))
	rel2, err := l.svc.CreateRelease(context.Background(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	common := 0
	for common < len(rel) && rel[common] == rel2.ID[common] {
		common++
	}
	if common < minShortID {
		t.Fatalf("releases %s and %s share %d leading characters; the test needs %d", rel, rel2.ID, common, minShortID)
	}
	r := l.run(t, "release", "show", "storage", rel[:common])
	r.wantErr(t, exitInvalid, "ambiguous", rel, rel2.ID)
	l.run(t, "deploy", "storage", "prod", rel[:common], "-y").wantErr(t, exitInvalid, "ambiguous")
	if got := l.deployments(t, "prod"); len(got) != 0 {
		t.Fatalf("a deploy of an ambiguous id recorded %d deployments", len(got))
	}
}

func TestTyposGetHelp(t *testing.T) {
	l, rel := released(t)
	l.run(t, "deploy", "storage", "stage", rel, "-y").want(t, 0)
	l.run(t, "deploy", "storage", "prod", rel, "-y").want(t, 0)

	l.run(t, "images", "storage", "lates").wantErr(t, exitNotFound, "no label lates; labels with images: latest, stage, prod")
	l.run(t, "-o", "json", "images", "storage", "lates").wantErr(t, exitNotFound, `"kind":"NotFound"`, "labels with images: latest, stage, prod")
	l.run(t, "images", "storage", "prod").want(t, 0, "archivist")

	r := l.run(t, "diff", "storage", "prd", "latest")
	r.wantErr(t, exitNotFound, "prd is neither an environment of storage (stage, prod) nor a release")
	l.run(t, "diff", "storage", "prod", "stag").wantErr(t, exitNotFound, "stag is neither an environment of storage")

	before, _ := l.svc.Releases(context.Background(), "storage", shiplog.PageRequest{})
	l.run(t, "release", "create", "storage", "--label", "lates").wantErr(t, exitNotFound, "no label lates; labels with images: latest, stage, prod")
	after, _ := l.svc.Releases(context.Background(), "storage", shiplog.PageRequest{})
	if len(after.Items) != len(before.Items) {
		t.Errorf("release create --label lates created a release")
	}

	l.run(t, "status", "storage", "prd").wantErr(t, exitNotFound, "stage, prod")
	l.run(t, "lock", "storage", "prod", "--reason", "x", "--expires", "90").wantErr(t, exitError, "did you mean 90m")
	l.run(t, "freeze", "set", "storage", "f", "--ends", "2026-11-19", "--reason", "x").wantErr(t, exitError, "--ends 2026-11-19 00:00:00 UTC", "is not after --starts 2026-11-20 10:05:00 UTC")
}

func TestRefusalsNameCommands(t *testing.T) {
	l, rel := released(t)
	l.run(t, "lock", "storage", "prod", "--reason", "db migration").want(t, 0)
	r := l.run(t, "deploy", "storage", "prod", rel, "-y")
	r.wantErr(t, exitConflict, "shiplog unlock storage prod", "--override REASON", "shiplog deploy storage prod "+rel[len(rel)-8:]+" --override REASON",
		"since 2026-11-20 10:00 (5m ago)", "An emergency deployment (shiplog deploy")
	if strings.Contains(r.stderr, "DELETE /projects") || strings.Contains(r.stderr, "T10:00:00Z") {
		t.Errorf("the refusal names a route or an RFC 3339 time:\n%s", r.stderr)
	}
	l.run(t, "unlock", "storage", "prod").want(t, 0)
	// The CLI's clock is five minutes ahead of the service's: the freeze starts before both.
	l.run(t, "freeze", "set", "storage", "release-week", "--starts", "2026-11-20T09:00:00Z", "--ends", "2d", "--reason", "release week").want(t, 0, "2026-11-22 10:05:00 UTC")
	r = l.run(t, "deploy", "storage", "prod", rel, "-y")
	r.wantErr(t, exitConflict, "frozen by freeze release-week until 2026-11-22 10:05 (in 2d)", "--override REASON")
	l.run(t, "status", "storage").want(t, 0, "FREEZE", "frozen (release-week) until 2026-11-22 10:05 (in 2d): release week")
	l.run(t, "deploy", "storage", "prod", rel, "-y", "--override", "hotfix").want(t, 0)
}

func TestEmptyListsSaySo(t *testing.T) {
	l := newLocal(t)
	l.run(t, "projects").want(t, 0, "no projects registered yet: shiplog project register -f .wellcome_project")
	l.run(t, "project", "register", "-f", filepath.Join("testdata", "wellcome_project.json")).want(t, 0)
	l.run(t, "releases", "storage").want(t, 0, "no releases of storage yet: shiplog release create storage")
	l.run(t, "history", "storage", "prod").want(t, 0, "no deployments to storage/prod yet")
	l.run(t, "freeze", "list", "storage").want(t, 0, "no current or future freezes of storage")
	l.run(t, "images", "storage").want(t, 0, "no images under latest yet")
	l.run(t, "images", "storage", "stage").want(t, 0, "no images under stage: nothing deployed to storage/stage yet")
	if r := l.run(t, "-o", "json", "releases", "storage"); !json.Valid([]byte(r.stdout)) {
		t.Errorf("-o json of an empty list: %q, want the API's JSON", r.stdout)
	}
}

func TestMetricsTakesTheEnvironment(t *testing.T) {
	l, rel := released(t)
	l.run(t, "deploy", "storage", "prod", rel, "-y").want(t, 0)
	l.run(t, "metrics", "storage", "prod").want(t, 0, "Metrics storage/prod", "deployments")
	l.run(t, "metrics", "storage", "--environment", "prod").want(t, 0, "Metrics storage/prod")
	l.run(t, "metrics", "storage").wantErr(t, exitError, "shiplog metrics PROJECT ENVIRONMENT")
	l.run(t, "metrics", "storage", "prod", "--environment", "stage").wantErr(t, exitError)
}

func TestOutputFormats(t *testing.T) {
	l, rel := released(t)
	r := l.run(t, "-o", "yaml", "release", "show", "storage", rel)
	r.want(t, 0, "release_id: "+rel+"\n", "label: latest\n", "images:\n  archivist: ")
	r = l.run(t, "-o", "json", "release", "show", "storage", "01JUNKJUNKJUNKJUNKJUNKJUNK")
	r.wantErr(t, exitNotFound)
	var body struct {
		Error struct {
			Kind     string `json:"kind"`
			Message  string `json:"message"`
			ExitCode int    `json:"exit_code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stderr), &body); err != nil || body.Error.Kind != "NotFound" || body.Error.ExitCode != exitNotFound || !strings.Contains(body.Error.Message, "01JUNKJUNKJUNKJUNKJUNKJUNK") {
		t.Errorf("-o json error: stderr %q (%v), want a JSON error of kind NotFound, exit code 3", r.stderr, err)
	}
	if r.stdout != "" {
		t.Errorf("-o json error: stdout %q, want nothing", r.stdout)
	}
	r = l.run(t, "-o", "json", "deploy", "storage")
	if r.code != exitError || !json.Valid([]byte(r.stderr)) || !strings.Contains(r.stderr, `"kind":"Usage"`) {
		t.Errorf("-o json usage error: exit %d, stderr %q; want 1 and a JSON error", r.code, r.stderr)
	}
	l.run(t, "-o", "yaml", "nope").wantErr(t, exitError, "kind: Usage", "exit_code: 1")
}

func TestHelpExitCodes(t *testing.T) {
	r := invocation{}.run(t, "help", "exit-codes")
	r.want(t, 0, "Exit codes:", "3  not found", "8  the deployment waited on became failed", `"exit_code": 3`)
	for _, args := range [][]string{{"deploy", "--help"}, {"--help"}, {"status", "--help"}} {
		r := invocation{}.run(t, args...)
		r.want(t, 0, "Examples:", "Exit codes: shiplog help exit-codes")
		if strings.Contains(r.stdout, "4  conflict") {
			t.Errorf("%v: the help repeats the exit-code table:\n%s", args, r.stdout)
		}
	}
}

// complete runs the hidden __complete command as the shells' scripts do, and returns the
// candidates (without descriptions) and the directive.
func (l *local) complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	r := l.run(t, append([]string{"__complete"}, args...)...)
	r.want(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var out []string
	for _, line := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(line, "\t")
		out = append(out, v)
	}
	return out, lines[len(lines)-1]
}

func TestCompletion(t *testing.T) {
	l, rel := released(t)
	l.run(t, "deploy", "storage", "stage", rel, "-y").want(t, 0)
	dep := l.deployments(t, "stage")[0].ID
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"deploy", ""}, []string{"bugfarm_73649", "catalogue_pipeline", "storage"}},
		{[]string{"deploy", "storage", ""}, []string{"stage", "prod"}},
		{[]string{"deploy", "storage", "stage", ""}, []string{"latest", rel[len(rel)-8:]}},
		{[]string{"deploy", "storage", "stage", rel[:5]}, []string{"latest", rel}},
		{[]string{"images", "storage", ""}, []string{"latest", "stage", "prod"}},
		{[]string{"diff", "storage", ""}, []string{"stage", "prod", "latest", rel[len(rel)-8:]}},
		{[]string{"report", "storage", ""}, []string{dep[len(dep)-8:]}},
		{[]string{"report", "storage", "x", ""}, []string{"verified", "failed"}},
		{[]string{"release", "create", "storage", "--label", ""}, []string{"latest", "stage", "prod"}},
		{[]string{"metrics", "storage", ""}, []string{"stage", "prod"}},
		{[]string{"deploy", "storage", "stage", rel, ""}, nil},
	}
	for _, tt := range tests {
		got, directive := l.complete(t, tt.args...)
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("complete %q: got %q, want %q", tt.args, got, tt.want)
		}
		if directive != ":4" {
			t.Errorf("complete %q: directive %s, want :4 (no file names)", tt.args, directive)
		}
	}
	// The API down: nothing to offer, and no error in the person's prompt.
	r := invocation{env: map[string]string{"SHIPLOG_API_URL": "http://127.0.0.1:1"}}.run(t, "__complete", "deploy", "")
	r.want(t, 0, ":4")
	// (The shells' scripts discard stderr, where cobra notes the directive.)
	if strings.TrimSpace(r.stdout) != ":4" || strings.Contains(r.stderr, "shiplog:") || strings.Contains(r.stderr, "no answer") {
		t.Errorf("completion with no API: stdout %q, stderr %q; want only the directive", r.stdout, r.stderr)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := invocation{}.run(t, "completion", shell)
		r.want(t, 0, "__complete")
	}
}

// TestRegisterListsEveryProblem: every mistake of the file, a line each with its line and column.
func TestRegisterListsEveryProblem(t *testing.T) {
	l := newLocal(t)
	bad := filepath.Join(t.TempDir(), ".wellcome_project")
	writeFile(t, bad, `{
  "one": {"name": "One", "environments": [{"id": "stage", "requries": []}], "image_repositories": [{"id": "o/app"}]},
  "two": {"name": "Two", "environments": [{"id": "prod"}], "image_repositories": [{"id": "t/app", "services": [true]}]}
}`)
	r := l.run(t, "project", "register", "-f", bad)
	r.wantErr(t, exitInvalid, bad+" has 2 problems; nothing was registered",
		bad+`:2:59: one.environments[0].requries: unknown field; did you mean requires?`,
		bad+":3:112: two.image_repositories[0].services[0]: got a JSON boolean")
	if ps, _ := l.svc.Projects(context.Background()); len(ps) != 0 {
		t.Errorf("registered %d projects from a bad file, want 0", len(ps))
	}
}

// TestWaitInterrupted: Ctrl-C while waiting says the deployment goes on and how to keep watching.
func TestWaitInterrupted(t *testing.T) {
	api := &cannedDeploy{statuses: []string{"requested"}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb bytes.Buffer
	a := newApp(streams{in: strings.NewReader(""), out: &out, err: &errb}, func(k string) string {
		return map[string]string{"SHIPLOG_API_URL": srv.URL}[k]
	})
	a.now = func() time.Time { return clock }
	a.loc = time.UTC
	a.pollInterval = time.Millisecond
	done := make(chan int)
	go func() { done <- runApp(ctx, a, []string{"deploy", "p", "stage", "R1", "--yes"}) }()
	for {
		api.mu.Lock()
		gets := api.gets
		api.mu.Unlock()
		if gets >= 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	code := <-done
	if code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	for _, s := range []string{"waiting until deployment D1 (release R1 to p/stage) is applied", "[0s]",
		"stopped waiting after 0s: deployment D1 is requested and goes on; keep watching: shiplog wait p D1 --for applied"} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("stderr lacks %q:\n%s", s, errb.String())
		}
	}
}

// TestServeOnABusyAddress: a second make run on the first one's port says how to choose another.
func TestServeOnABusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(t.TempDir(), "shiplog.db")
	r := invocation{}.run(t, "serve", "--addr", ln.Addr().String(), "--data", data)
	r.wantErr(t, exitError, "listen on "+ln.Addr().String()+": the address is in use", "make run ADDR=127.0.0.1:")
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the refused stack created its store (%v)", err)
	}
}
