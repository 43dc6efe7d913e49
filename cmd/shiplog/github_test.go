package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestServeReadsCommits: given --github-token-env, the local stack's deploys keep their ranges'
// commits, read from the GitHub API at --github-api-url (here a fake GitHub) with the token;
// without it, none and no call; an empty variable or a bad URL is refused, naming it.
func TestServeReadsCommits(t *testing.T) {
	const repo = "https://github.com/wellcomecollection/bugfarm"
	var mu sync.Mutex
	var calls []string
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.URL.Path)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer local-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case r.URL.Path == "/repos/wellcomecollection/bugfarm/compare/"+revisionOf(1)+"..."+revisionOf(2):
			fmt.Fprintf(w, `{"total_commits":1,"commits":[{"sha":%q,"commit":{"message":"Hatch faster\n\nbody","author":{"name":"Alice"}},"author":{"login":"alice"}}]}`, revisionOf(2))
		case r.URL.Path == "/repos/wellcomecollection/bugfarm/commits/"+revisionOf(2)+"/pulls":
			fmt.Fprint(w, `[{"number":7}]`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer gh.Close()

	if c, err := localCommits("", gh.URL); c != nil || err != nil {
		t.Errorf("no --github-token-env: %v, %v; want nothing", c, err)
	}
	t.Setenv("SHIPLOG_TEST_EMPTY_TOKEN", "")
	if _, err := localCommits("SHIPLOG_TEST_EMPTY_TOKEN", gh.URL); err == nil || !strings.Contains(err.Error(), "SHIPLOG_TEST_EMPTY_TOKEN") {
		t.Errorf("an empty variable: %v, want an error naming it", err)
	}
	t.Setenv("SHIPLOG_TEST_TOKEN", "local-token")
	if _, err := localCommits("SHIPLOG_TEST_TOKEN", "ftp://example.com"); err == nil || !strings.Contains(err.Error(), "--github-api-url") {
		t.Errorf("a bad API URL: %v, want an error naming --github-api-url", err)
	}
	commits, err := localCommits("SHIPLOG_TEST_TOKEN", gh.URL)
	if err != nil {
		t.Fatal(err)
	}

	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := localService(store, slog.New(slog.DiscardHandler))
	alice := shiplog.Person{ID: "alice", Name: "alice"}
	p, err := manifest.ParseProject("bugfarm", []byte(`{"name":"Bug farm","environments":[{"id":"stage"}],"image_repositories":[{"id":"bugfarm/hatching"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}, By: alice}); err != nil {
		t.Fatal(err)
	}
	deploy := func(n int) shiplog.Deployment {
		t.Helper()
		if _, err := svc.RecordPush(t.Context(), shiplog.ImagePush{Account: "760097843905", Region: "eu-west-1", Repository: "bugfarm/hatching",
			Digest: digestOf(n), Tag: "sha-" + revisionOf(n), Action: "PUSH", Result: "SUCCESS", Time: time.Now().Add(time.Duration(n) * time.Second)}); err != nil {
			t.Fatal(err)
		}
		r, err := svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "bugfarm", RequestedBy: alice,
			Sources: map[string]shiplog.SourceInput{"hatching": {Repository: repo}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "bugfarm", ReleaseID: r.ID, Environment: "stage", RequestedBy: alice})
		if err != nil {
			t.Fatal(err)
		}
		return res.Deployment
	}
	deploy(1)
	svc.Commits = commits
	d := deploy(2)
	r := d.Changes.Ranges["hatching"]
	if len(r.Commits) != 1 || r.Commits[0].Title != "Hatch faster" || r.Commits[0].Author != "alice" || fmt.Sprint(r.Commits[0].PullRequests) != "[7]" {
		t.Errorf("the deployment's range: %+v, want GitHub's commit with its title, author and pull request", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 {
		t.Errorf("GitHub calls %v, want the compare and the commit's pulls", calls)
	}
}

// TestPrintRangesCommits: the commits a deployment kept are listed under the Changes table, per
// service, with their author and pull requests; a truncated range and one GitHub did not answer
// say so; ranges without commits add nothing.
func TestPrintRangesCommits(t *testing.T) {
	var out strings.Builder
	a := newApp(streams{out: &out}, func(string) string { return "" })
	a.printRanges(&out, map[string]shiplog.SourceRange{
		"archivist": {FromRevision: revisionOf(1), ToRevision: revisionOf(2), CompareURL: "https://github.com/o/r/compare/x...y", CommitsTruncated: true,
			Commits: []shiplog.Commit{{SHA: revisionOf(3), Title: "Hatch faster", Author: "alice", PullRequests: []int{7, 8}}}},
		"notifier": {FromRevision: revisionOf(4), ToRevision: revisionOf(5), CompareURL: "https://github.com/o/r/compare/x...y", CommitsUnknown: "github: 503"},
		"register": {FromRevision: revisionOf(6), ToRevision: revisionOf(7), CompareURL: "https://github.com/o/r/compare/x...y"},
	})
	got := out.String()
	for _, want := range []string{"archivist commits:", "  3333333 Hatch faster (alice) #7 #8", "… and older commits", "notifier commits:", "  not read: github: 503"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "register commits:") {
		t.Errorf("a range without commits got a commits list:\n%s", got)
	}
}

// TestStatusSaysWhatIsNotReplicated: shiplog status lists, under its table, the images an
// environment needs that its replica lacks, and nothing when none is missing.
func TestStatusSaysWhatIsNotReplicated(t *testing.T) {
	replica := "111122223333.dkr.ecr.us-east-1.amazonaws.com/storage/archivist@sha256:" + strings.Repeat("a", 64)
	missing := []shiplog.Unreplicated{
		{Service: "archivist", Image: "x", LookedFor: replica, From: "stage"},
		{Service: "notifier", Image: "y", LookedFor: "111122223333.dkr.ecr.us-east-1.amazonaws.com/storage/notifier@sha256:b", From: "prod"},
	}
	status := func(t *testing.T, unreplicated []shiplog.Unreplicated) string {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Path {
			case "/projects/storage/environments":
				_ = json.NewEncoder(w).Encode(map[string]any{"items": []shiplog.EnvironmentStatus{
					{Environment: shiplog.Environment{ID: "stage"}, Drift: []shiplog.Drift{}},
					{Environment: shiplog.Environment{ID: "prod"}, Drift: []shiplog.Drift{}, Unreplicated: unreplicated},
				}})
			case "/projects/storage/freezes":
				_, _ = w.Write([]byte(`{"items": []}`))
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()
		var out, errb strings.Builder
		a := newApp(streams{in: strings.NewReader(""), out: &out, err: &errb}, func(k string) string {
			return map[string]string{"SHIPLOG_API_URL": srv.URL}[k]
		})
		if code := runApp(t.Context(), a, []string{"status", "storage"}); code != 0 {
			t.Fatalf("status exited %d: %s", code, errb.String())
		}
		return out.String()
	}
	got := status(t, missing)
	for _, want := range []string{"NEEDED FOR", "LOOKED FOR", "archivist", "not replicated", "promotion from stage", replica, "notifier", "not in registry", "runs it"} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	if got := status(t, nil); strings.Contains(got, "LOOKED FOR") {
		t.Errorf("with every image where it is needed, status still lists some:\n%s", got)
	}
}
