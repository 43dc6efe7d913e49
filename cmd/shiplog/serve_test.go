package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
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

// TestLocalInvokePolicy: the local stack's Invoke API allows every pair and privilege, as `make
// run` needs; --invoke-allow and --invoke-privileged make it refuse as a stack with those
// parameters would; and a list a stack could not hold stops serve before it listens.
func TestLocalInvokePolicy(t *testing.T) {
	t.Parallel() // its own data files, ports and processes
	manifestArgs := []string{"--manifest", filepath.Join("testdata", "wellcome_project.json")}
	// A break-glass plan of prod: no release yet, so even allowed it changes nothing.
	const payload = `{"project_id":"storage","release_id":"latest","environment":"prod","override_reason":"incident","dry_run":true}`
	invoke := func(s *stack, fn, payload string) (errorType, message string) {
		t.Helper()
		res, err := http.Post(s.url+"/2015-03-31/functions/"+fn+"/invocations", "application/json", strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ ErrorType, ErrorMessage string }
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %v", fn, res.StatusCode, err)
		}
		return body.ErrorType, body.ErrorMessage
	}

	open := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"), manifestArgs...)
	if typ, msg := invoke(open, "deploy", payload); typ != "NotFound" {
		t.Errorf("default local stack: got %s %q, want NotFound (no release yet), not a refusal", typ, msg)
	}
	if typ, msg := invoke(open, "create-release", `{"project_id":"catalogue_pipeline"}`); typ == "Forbidden" {
		t.Errorf("default local stack, create-release: got %s %q, want it allowed", typ, msg)
	}

	narrow := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"),
		append(manifestArgs, "--invoke-allow", "storage/stage", "--invoke-privileged", "")...)
	for _, tt := range []struct{ fn, payload, want string }{
		{"deploy", payload, `deploy project "storage" to environment "prod" (InvokeAllowList: storage/stage)`},
		{"deploy", strings.Replace(payload, `"prod"`, `"stage"`, 1), "override_reason: is not allowed on the invoke channel by this stack (InvokePrivilegedActions: empty)"},
		{"create-release", `{"project_id":"catalogue_pipeline"}`, `release project "catalogue_pipeline"`},
	} {
		if typ, msg := invoke(narrow, tt.fn, tt.payload); typ != "Forbidden" || !strings.Contains(msg, tt.want) {
			t.Errorf("%s %s: got %s %q, want Forbidden containing %q", tt.fn, tt.payload, typ, msg, tt.want)
		}
	}

	out, err := exec.Command(binary, "serve", "--addr", freeAddr(t), "--data", filepath.Join(t.TempDir(), "shiplog.db"),
		"--invoke-allow", "storage/stage, storage/prod").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `invoke allow-list entry " storage/prod"`) {
		t.Errorf("serve with a spaced list: %v %s, want it refused, naming the entry", err, out)
	}
}
