package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestLocalDeployIsOneWrite holds the local stack's wiring (localService, as serve builds it,
// the logging store included) to what the README says of it: a deploy records the deployment,
// writes its parameters and settles the environment in one write transaction of the file, and
// is logged.
func TestLocalDeployIsOneWrite(t *testing.T) {
	ctx := t.Context()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var logs bytes.Buffer
	svc := localService(store, slog.New(slog.NewJSONHandler(&logs, nil)))
	p := shiplog.Project{ID: "p", Name: "P", Manifest: []byte(`{}`), Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}},
		ImageRepositories: []shiplog.ImageRepository{{ID: "team/a", Services: []string{"a", "b"}}}}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	for n, svcID := range []string{"a", "b"} {
		uri := fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/a@sha256:%064d", n+1)
		if err := store.PutParameters(ctx, map[string]string{shiplog.ParameterName("p", "latest", svcID): uri}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	before := store.WriteTransactions()
	res, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "p", ReleaseID: r.ID, Environment: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	if got := store.WriteTransactions() - before; got != 1 {
		t.Errorf("deploy through the local stack's wiring: %d write transactions, want 1", got)
	}
	if res.Deployment.Status != shiplog.StatusApplied {
		t.Errorf("deployment status: got %q, want %q", res.Deployment.Status, shiplog.StatusApplied)
	}
	got, err := store.GetParametersByPath(ctx, shiplog.ParameterPath("p", "stage"))
	if err != nil || len(got) != 2 || got[shiplog.ParameterName("p", "stage", "a")] != r.Images["a"] {
		t.Errorf("stage's parameters: got %v, %v, want the release's two images", got, err)
	}
	if !strings.Contains(logs.String(), `"msg":"deployment recorded"`) || !strings.Contains(logs.String(), res.Deployment.ID) {
		t.Errorf("the deployment was not logged: %s", logs.String())
	}
}
