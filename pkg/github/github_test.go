package github_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/github"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

const (
	base  = "1111111111111111111111111111111111111111"
	head  = "2222222222222222222222222222222222222222"
	token = "github_pat_test"
)

// fakeGitHub answers the two endpoints the client reads, as GitHub's REST API does, for one
// repository, and records every request it is sent.
type fakeGitHub struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []string
	commits  int // how many commits the compare answer holds
}

func newFakeGitHub(t *testing.T, commits int) *fakeGitHub {
	f := &fakeGitHub{commits: commits}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials"}`)
			return
		}
		switch {
		case r.URL.Path == "/repos/wellcomecollection/storage-service/compare/"+base+"..."+head:
			var list []any
			for i := range f.commits {
				author := any(map[string]any{"login": fmt.Sprintf("dev%d", i)})
				if i == 1 {
					author = nil // a commit whose author has no GitHub account
				}
				list = append(list, map[string]any{"sha": fmt.Sprintf("%040d", i+1),
					"commit": map[string]any{"message": fmt.Sprintf("Change %d\n\nThe body, which is no title.", i+1), "author": map[string]any{"name": fmt.Sprintf("Dev %d", i)}},
					"author": author})
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"total_commits": f.commits, "commits": list})
		case strings.HasPrefix(r.URL.Path, "/repos/wellcomecollection/storage-service/commits/") && strings.HasSuffix(r.URL.Path, "/pulls"):
			sha := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/repos/wellcomecollection/storage-service/commits/"), "/pulls")
			if sha == fmt.Sprintf("%040d", 1) {
				fmt.Fprint(w, `[{"number":41},{"number":42}]`)
				return
			}
			fmt.Fprint(w, `[]`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

const repo = "https://github.com/wellcomecollection/storage-service"

// TestCommits: a range's commits, oldest first, titled by their first line, by their GitHub
// login (else the Git author's name), with their pull requests; read with the token.
func TestCommits(t *testing.T) {
	f := newFakeGitHub(t, 3)
	c := &github.Client{APIURL: f.srv.URL, Token: token}
	got, truncated, err := c.Commits(t.Context(), repo, base, head)
	if err != nil {
		t.Fatal(err)
	}
	want := []shiplog.Commit{
		{SHA: fmt.Sprintf("%040d", 1), Title: "Change 1", Author: "dev0", PullRequests: []int{41, 42}},
		{SHA: fmt.Sprintf("%040d", 2), Title: "Change 2", Author: "Dev 1"},
		{SHA: fmt.Sprintf("%040d", 3), Title: "Change 3", Author: "dev2"},
	}
	if diff := cmp.Diff(want, got); diff != "" || truncated {
		t.Errorf("commits (-want +got), truncated %v:\n%s", truncated, diff)
	}
	if n := len(f.calls()); n != 4 {
		t.Errorf("%d requests %v, want the compare and one pulls look-up per commit", n, f.calls())
	}
}

// TestCommitsTruncated: a range longer than MaxCommits keeps its newest MaxCommits, and says so.
func TestCommitsTruncated(t *testing.T) {
	f := newFakeGitHub(t, github.MaxCommits+5)
	got, truncated, err := (&github.Client{APIURL: f.srv.URL, Token: token}).Commits(t.Context(), repo, base, head)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != github.MaxCommits || !truncated || got[len(got)-1].Title != fmt.Sprintf("Change %d", github.MaxCommits+5) {
		t.Errorf("got %d commits (last %+v), truncated %v; want the newest %d, truncated", len(got), got[len(got)-1], truncated, github.MaxCommits)
	}
}

// TestCommitsWithout: no token, another host or a repository URL that names no repository make
// no call at all; GitHub refusing is an error naming what it said.
func TestCommitsWithout(t *testing.T) {
	f := newFakeGitHub(t, 2)
	for name, c := range map[string]struct {
		client *github.Client
		repo   string
	}{
		"no token":          {&github.Client{APIURL: f.srv.URL}, repo},
		"a nil client":      {nil, repo},
		"GitLab":            {&github.Client{APIURL: f.srv.URL, Token: token}, "https://gitlab.com/wellcomecollection/storage-service"},
		"no repository":     {&github.Client{APIURL: f.srv.URL, Token: token}, "https://github.com/wellcomecollection"},
		"an enterprise one": {&github.Client{APIURL: f.srv.URL, Token: token, Host: "github.example.com"}, repo},
	} {
		got, _, err := c.client.Commits(t.Context(), c.repo, base, head)
		if err != nil || got != nil {
			t.Errorf("%s: %v, %v; want nothing", name, got, err)
		}
	}
	if calls := f.calls(); len(calls) != 0 {
		t.Errorf("requests %v, want none", calls)
	}
	_, _, err := (&github.Client{APIURL: f.srv.URL, Token: "wrong"}).Commits(t.Context(), repo, base, head)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") {
		t.Errorf("a token GitHub refuses: %v, want its 401 and message", err)
	}
	_, _, err = (&github.Client{APIURL: f.srv.URL, Token: token}).Commits(t.Context(), repo, head, base)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a range GitHub does not know: %v, want its 404", err)
	}
}
