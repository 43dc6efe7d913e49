package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// behind serves l's API through guard, as API Gateway serves it through a role's IAM policy.
func (l *local) behind(t *testing.T, guard func(r *http.Request) bool) (*local, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var writes []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			mu.Lock()
			writes = append(writes, r.Method+" "+r.URL.EscapedPath())
			mu.Unlock()
		}
		if !guard(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"message":"Forbidden"}` + "\n"))
			return
		}
		l.h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	out := *l
	out.url = srv.URL
	return &out, &writes
}

// TestCLIWritesNameTheEnvironment: the CLI's report and freeze commands use the routes that name
// the environment, so that a role allowed only stage's routes (emulated here as IAM would answer
// it: 403 for any write outside .../environments/stage/) can report stage's deployment and freeze
// and lift stage, and cannot touch prod's.
func TestCLIWritesNameTheEnvironment(t *testing.T) {
	admin := newLocal(t)
	ctx := context.Background()
	data, err := os.ReadFile(filepath.Join("testdata", "wellcome_project.json"))
	if err != nil {
		t.Fatal(err)
	}
	projects, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatal(err)
	}
	for i, repo := range storageRepos() {
		admin.push(t, repo, i+1, clock.Add(-time.Hour))
	}
	seeder := shiplog.Person{ID: "seeder"}
	rel, err := admin.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: seeder})
	if err != nil {
		t.Fatal(err)
	}
	deployed := map[string]string{}
	for _, env := range []string{"stage", "prod"} {
		res, err := admin.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: rel.ID, Environment: env, RequestedBy: seeder, OverrideReason: "test setup"})
		if err != nil {
			t.Fatalf("deploy %s: %v", env, err)
		}
		deployed[env] = res.Deployment.ID
	}
	stage, writes := admin.behind(t, func(r *http.Request) bool {
		return r.Method == http.MethodGet || strings.HasPrefix(r.URL.EscapedPath(), "/projects/storage/environments/stage/")
	})

	stage.run(t, "report", "storage", deployed["stage"], "verified").want(t, 0, "is verified")
	stage.run(t, "report", "storage", deployed["prod"], "failed").want(t, exitUnauthorized)
	if d, _ := admin.svc.Deployment(ctx, "storage", deployed["prod"]); d.Status != shiplog.StatusApplied {
		t.Errorf("prod's deployment after the stage role's report: got %s, want applied", d.Status)
	}

	stage.run(t, "freeze", "set", "storage", "stage-week", "--environments", "stage", "--ends", "2d", "--reason", "stage week").want(t, 0, "set: stage")
	stage.run(t, "freeze", "delete", "storage", "stage-week").want(t, 0, "lifted")
	admin.run(t, "freeze", "set", "storage", "prod-week", "--environments", "prod", "--ends", "2d", "--reason", "prod week").want(t, 0, "set: prod")
	stage.run(t, "freeze", "delete", "storage", "prod-week").want(t, exitUnauthorized)
	stage.run(t, "freeze", "set", "storage", "both", "--environments", "stage,prod", "--ends", "2d", "--reason", "x").want(t, exitUnauthorized)
	if fs, _ := admin.svc.Freezes(ctx, "storage"); len(fs) != 1 || fs[0].ID != "prod-week" {
		t.Errorf("freezes after the stage role's attempts: got %+v, want prod-week alone", fs)
	}

	want := []string{
		"POST /projects/storage/environments/stage/deployments/" + deployed["stage"] + "/status",
		"POST /projects/storage/environments/prod/deployments/" + deployed["prod"] + "/status",
		"PUT /projects/storage/environments/stage/freezes/stage-week",
		"DELETE /projects/storage/environments/stage/freezes/stage-week",
		"DELETE /projects/storage/environments/prod/freezes/prod-week",
		"PUT /projects/storage/freezes/both",
	}
	if strings.Join(*writes, "\n") != strings.Join(want, "\n") {
		t.Errorf("writes the CLI sent:\n%s\nwant:\n%s", strings.Join(*writes, "\n"), strings.Join(want, "\n"))
	}
}
