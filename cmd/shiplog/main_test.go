package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplogtest"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// These tests build the real shiplog binary, start the local stack on a free port, and drive it
// as a newcomer would: the HTTP API with net/http (curl's part) and the Lambda Invoke API with the
// real aws CLI.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shiplog-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "shiplog")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build shiplog: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	localaws.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

type stack struct {
	t    *testing.T
	url  string
	data string
	cmd  *exec.Cmd
	logs *bytes.Buffer
	// lastLocation is the Location header of the last answer to call.
	lastLocation string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startStack(t *testing.T, data string, args ...string) *stack {
	t.Helper()
	addr := freeAddr(t)
	s := &stack{t: t, url: "http://" + addr, data: data, logs: &bytes.Buffer{}}
	s.cmd = exec.Command(binary, append([]string{"serve", "--addr", addr, "--data", data}, args...)...)
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(shiplogtest.Patience(t)) // a loaded machine only slows a start that does come
	for {
		res, err := http.Get(s.url + "/projects")
		if err == nil {
			res.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("local stack did not answer on %s: %v\nlogs:\n%s", addr, err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *stack) stop() {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("shiplog serve exited with %v\nlogs:\n%s", err, s.logs)
		}
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		s.t.Errorf("shiplog serve did not stop on SIGINT")
	}
}

// call sends an HTTP API request and decodes the JSON answer into out (if not nil).
func (s *stack) call(method, path, user string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-Shiplog-User", user)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	s.lastLocation = res.Header.Get("Location")
	raw, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, raw)
		}
	}
	return res.StatusCode
}

// invoke runs `aws lambda invoke` against the local stack and returns the CLI's own output (which
// carries FunctionError) and the function's response.
func (s *stack) invoke(function string, payload []byte) (cli map[string]any, response map[string]any) {
	s.t.Helper()
	dir := s.t.TempDir()
	in, out := filepath.Join(dir, "payload.json"), filepath.Join(dir, "out.json")
	if err := os.WriteFile(in, payload, 0o600); err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(awsCLI(s.t), "lambda", "invoke", "--endpoint-url", s.url,
		"--function-name", function, "--payload", "fileb://"+in, out)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		s.t.Fatalf("aws lambda invoke %s: %v\n%s%s", function, err, stdout, stderr)
	}
	if err := json.Unmarshal(stdout, &cli); err != nil {
		s.t.Fatalf("aws CLI output is not JSON: %s", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &response); err != nil {
		s.t.Fatalf("%s response is not a JSON object: %s", function, b)
	}
	return cli, response
}

// awsCLIPath is the aws CLI, found once.
var awsCLIPath = sync.OnceValue(func() string {
	if p, err := exec.LookPath("aws"); err == nil {
		return localaws.PastPyenvShim(p)
	}
	if _, err := os.Stat("/root/.pyenv/shims/aws"); err == nil {
		return localaws.PastPyenvShim("/root/.pyenv/shims/aws")
	}
	return ""
})

func awsCLI(t *testing.T) string {
	t.Helper()
	if p := awsCLIPath(); p != "" {
		return p
	}
	t.Fatal("the aws CLI is not installed: these tests drive the local stack with it (pip install awscli, or apt-get install awscli)")
	return ""
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushEvent is the sample tagged push, for another repository and digest.
func pushEvent(t *testing.T, repository, digest, at string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(testdata(t, "ecr-push-tagged.json"), &ev); err != nil {
		t.Fatal(err)
	}
	detail := ev["detail"].(map[string]any)
	detail["repository-name"] = repository
	detail["image-digest"] = digest
	ev["time"] = at
	b, _ := json.Marshal(ev)
	return b
}

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func uri(repo string, n int) string {
	return "760097843905.dkr.ecr.eu-west-1.amazonaws.com/" + repo + "@" + digest(n)
}

func TestWholeFlow(t *testing.T) {
	t.Parallel() // its own data file, port and process
	data := filepath.Join(t.TempDir(), "shiplog.db")
	s := startStack(t, data)

	// Register the storage project from its manifest entry.
	var manifest map[string]json.RawMessage
	if err := json.Unmarshal(testdata(t, "wellcome_project.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	var project shiplog.Project
	if code := s.call("PUT", "/projects/storage", "alice", []byte(manifest["storage"]), &project); code != 201 {
		t.Fatalf("PUT /projects/storage: status %d, want 201 (created)", code)
	}

	// The sample events: only the tagged push changes anything.
	cli, out := s.invoke("ecr-push", testdata(t, "ecr-push-tagged.json"))
	if cli["FunctionError"] != nil {
		t.Fatalf("ecr-push failed: %v", out)
	}
	wantArchivist := "760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/archivist@sha256:3f6c2a9d1b8e4f7a0c5d9e2b1a7f6c3d8e4b2a1f9c7d6e5b4a3c2d1e0f9a8b7c"
	if got := out["image"]; got != wantArchivist {
		t.Errorf("ecr-push image = %v, want %v", got, wantArchivist)
	}
	for _, name := range []string{"ecr-push-untagged.json", "ecr-push-failed.json", "ecr-delete.json"} {
		cli, out := s.invoke("ecr-push", testdata(t, name))
		if cli["FunctionError"] != nil || out["ignored"] == nil {
			t.Errorf("%s: got %v (cli %v), want it ignored without error", name, out, cli)
		}
	}

	// A release is refused until every service has an image.
	cli, out = s.invoke("create-release", []byte(`{"project_id":"storage"}`))
	if cli["FunctionError"] != "Unhandled" || out["errorType"] != "Conflict" || !strings.Contains(fmt.Sprint(out["errorMessage"]), "bag-register") {
		t.Fatalf("incomplete release: got %v / %v, want a Conflict naming bag-register", cli, out)
	}
	for i, repo := range []string{"uk.ac.wellcome/bag-register", "uk.ac.wellcome/bag_verifier", "uk.ac.wellcome/notifier"} {
		if cli, out := s.invoke("ecr-push", pushEvent(t, repo, digest(i+1), "2026-11-20T10:00:00Z")); cli["FunctionError"] != nil {
			t.Fatalf("push %s: %v", repo, out)
		}
	}
	var images struct {
		Images map[string]string `json:"images"`
	}
	s.call("GET", "/projects/storage/images/latest", "", nil, &images)
	wantImages := map[string]string{
		"archivist":                     wantArchivist,
		"bag-register":                  uri("uk.ac.wellcome/bag-register", 1),
		"bag_verifier_pre_replication":  uri("uk.ac.wellcome/bag_verifier", 2),
		"bag_verifier_post_replication": uri("uk.ac.wellcome/bag_verifier", 2),
		"notifier":                      uri("uk.ac.wellcome/notifier", 3),
	}
	if diff := cmp.Diff(wantImages, images.Images); diff != "" {
		t.Fatalf("images under latest (-want +got):\n%s", diff)
	}

	// Create the release through the Invoke API, as CI does.
	cli, out = s.invoke("create-release", []byte(`{"project_id":"storage","description":"first","requested_by":{"id":"ci","name":"Buildkite"}}`))
	if cli["FunctionError"] != nil {
		t.Fatalf("create-release: %v", out)
	}
	releaseID, _ := out["release_id"].(string)
	if len(releaseID) != 26 {
		t.Fatalf("release_id = %q, want a 26-character ULID", releaseID)
	}
	for _, attr := range []string{"release_id", "project_id", "project_name", "created_at", "release_manifest", "requested_by", "images", "deployments"} {
		if _, ok := out[attr]; !ok {
			t.Errorf("release record lacks %s: %v", attr, out)
		}
	}
	if _, ok := out["last_date_deployed"]; ok {
		t.Errorf("a new release has last_date_deployed: %v", out)
	}

	// Deploy it to stage; a bad environment is refused with the valid ones listed.
	cli, out = s.invoke("deploy", []byte(`{"project_id":"storage","release_id":"`+releaseID+`","environment":"prd"}`))
	if cli["FunctionError"] != "Unhandled" || out["errorType"] != "NotFound" || !strings.Contains(fmt.Sprint(out["errorMessage"]), "stage, prod") {
		t.Errorf("deploy to prd: got %v / %v, want NotFound listing stage, prod", cli, out)
	}
	cli, out = s.invoke("deploy", []byte(`{"project_id":"storage","release_id":"latest","environment":"stage","description":"ship it","requested_by":{"id":"ci","name":"Buildkite"}}`))
	if cli["FunctionError"] != nil {
		t.Fatalf("deploy: %v", out)
	}
	dep := out["deployment"].(map[string]any)
	if env := dep["environment"].(map[string]any); env["id"] != "stage" || env["name"] != "Staging" {
		t.Errorf("deployment environment = %v, want stage/Staging", env)
	}

	// A person deploys the same release to prod through the HTTP API.
	var deployed shiplog.DeployResult
	if code := s.call("POST", "/projects/storage/environments/prod/deployments", "bob", map[string]string{"release_id": releaseID}, &deployed); code != 201 {
		t.Fatalf("POST deployments: status %d, want 201", code)
	}
	if got, want := s.lastLocation, "/projects/storage/deployments/"+deployed.Deployment.ID; got != want {
		t.Errorf("POST deployments: Location %q, want %q", got, want)
	}
	if got, want := deployed.Deployment.RequestedBy.ID, "bob"; got != want {
		t.Errorf("deployment requested_by.id = %q, want %q", got, want)
	}
	var envs struct {
		Items []shiplog.EnvironmentStatus `json:"items"`
	}
	s.call("GET", "/projects/storage/environments", "", nil, &envs)
	if len(envs.Items) != 2 {
		t.Fatalf("environments: got %d, want 2", len(envs.Items))
	}
	for _, e := range envs.Items {
		if e.Current == nil || e.Current.ReleaseID != releaseID {
			t.Errorf("environment %s: current = %+v, want release %s", e.Environment.ID, e.Current, releaseID)
		}
	}

	// The stack logged each request with who asked, and each release and deployment.
	s.stop()
	for _, want := range []string{
		`"msg":"request","method":"POST","path":"/projects/storage/environments/prod/deployments","status":201,`,
		`"who":"bob"`,
		`"msg":"release created","project":"storage","release":"` + releaseID + `"`,
		`"msg":"deployment recorded","project":"storage","environment":"prod","release":"` + releaseID + `"`,
		`"msg":"deployment recorded","project":"storage","environment":"stage"`,
		`"msg":"shiplog stopped"`,
	} {
		if !strings.Contains(s.logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, s.logs)
		}
	}

	// Everything survives a restart.
	s = startStack(t, data)
	var rel shiplog.Release
	if code := s.call("GET", "/projects/storage/releases/"+releaseID, "", nil, &rel); code != 200 {
		t.Fatalf("GET release after restart: status %d", code)
	}
	if got := len(rel.Deployments); got != 2 {
		t.Errorf("deployments after restart: got %d, want 2", got)
	}
	if rel.LastDateDeployed == 0 || rel.RequestedBy.ID != "ci" {
		t.Errorf("release after restart = %+v, want last_date_deployed set and requested_by ci", rel)
	}
	s.stop()

	// The parameters the consuming Terraform reads are in the store.
	store, err := bolt.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, env := range []string{"stage", "prod"} {
		params, err := store.GetParametersByPath(context.Background(), shiplog.ParameterPath("storage", env))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for name, v := range params {
			got[strings.TrimPrefix(name, shiplog.ParameterPath("storage", env))] = v
		}
		if diff := cmp.Diff(wantImages, got); diff != "" {
			t.Errorf("/storage/images/%s/ (-want +got):\n%s", env, diff)
		}
	}
}

// TestBadInputChangesNothing sends malformed and wrong requests to both APIs and checks each gets
// a clear error and that the store is unchanged afterwards.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel() // its own data file, port and process
	data := filepath.Join(t.TempDir(), "shiplog.db")
	s := startStack(t, data, "--manifest", filepath.Join("testdata", "wellcome_project.json"))
	snapshot := func() string {
		var out []string
		for _, p := range []string{"/projects", "/projects/storage/releases", "/projects/storage/deployments", "/projects/storage/environments", "/projects/storage/images/latest"} {
			var v any
			s.call("GET", p, "", nil, &v)
			b, _ := json.Marshal(v)
			out = append(out, string(b))
		}
		return strings.Join(out, "\n")
	}
	if cli, out := s.invoke("ecr-push", testdata(t, "ecr-push-tagged.json")); cli["FunctionError"] != nil {
		t.Fatalf("push: %v", out)
	}
	before := snapshot()

	invokes := []struct {
		name, function, payload, wantType, wantIn string
	}{
		{"malformed JSON", "create-release", `{"project_id":`, "Invalid", "JSON"},
		{"not an object", "deploy", `[1,2]`, "Invalid", "object"},
		{"missing project", "create-release", `{}`, "Invalid", "project_id"},
		{"wrong type", "deploy", `{"project_id":"storage","release_id":7,"environment":"stage"}`, "Invalid", "release_id"},
		{"unknown field", "deploy", `{"project_id":"storage","release_id":"latest","environment":"stage","force":true}`, "Invalid", "force"},
		{"unknown project", "create-release", `{"project_id":"nope"}`, "NotFound", "nope"},
		{"slash in id", "create-release", `{"project_id":"stor/age"}`, "Invalid", "stor/age"},
		{"dot dot in label", "create-release", `{"project_id":"storage","label":".."}`, "Invalid", ".."},
		{"space in env", "deploy", `{"project_id":"storage","release_id":"latest","environment":"st age"}`, "Invalid", "st age"},
		{"no release yet", "deploy", `{"project_id":"storage","release_id":"latest","environment":"stage"}`, "NotFound", "no releases"},
		{"unknown release", "deploy", `{"project_id":"storage","release_id":"01JUNKJUNKJUNKJUNKJUNKJUNK","environment":"stage"}`, "NotFound", "01JUNKJUNKJUNKJUNKJUNKJUNK"},
		{"incomplete release", "create-release", `{"project_id":"storage"}`, "Conflict", "notifier"},
		{"bad manifest", "create-release", `{"project_id":"storage","manifest":{"storage":{"name":"S","environments":[{"id":"a b"}],"image_repositories":[{"id":"x/y"}]}}}`, "Invalid", "storage.environments[0].id"},
		{"event without detail", "ecr-push", `{"source":"aws.ecr","detail-type":"ECR Image Action","time":"2026-11-20T09:15:02Z","detail":{"action-type":"PUSH","result":"SUCCESS","image-tag":"x"}}`, "Invalid", "repository-name"},
		{"huge payload", "create-release", `{"project_id":"storage","description":"` + strings.Repeat("x", 5000) + `"}`, "Invalid", "description"},
	}
	for _, tt := range invokes {
		t.Run("invoke "+tt.name, func(t *testing.T) {
			cli, out := s.invoke(tt.function, []byte(tt.payload))
			if cli["FunctionError"] != "Unhandled" {
				t.Errorf("FunctionError = %v, want Unhandled", cli["FunctionError"])
			}
			if out["errorType"] != tt.wantType {
				t.Errorf("errorType = %v, want %v (message %v)", out["errorType"], tt.wantType, out["errorMessage"])
			}
			if msg := fmt.Sprint(out["errorMessage"]); !strings.Contains(msg, tt.wantIn) {
				t.Errorf("errorMessage = %q, want it to mention %q", msg, tt.wantIn)
			}
		})
	}

	requests := []struct {
		name, method, path, body string
		wantStatus               int
	}{
		{"malformed JSON", "POST", "/projects/storage/releases", `{"label":`, 400},
		{"wrong type", "POST", "/projects/storage/releases", `{"label":5}`, 400},
		{"requested_by in body", "POST", "/projects/storage/releases", `{"requested_by":{"id":"mallory"}}`, 400},
		{"unknown project", "GET", "/projects/nope", ``, 404},
		{"encoded slash", "GET", "/projects/stor%2Fage", ``, 400},
		{"dot dot", "GET", "/projects/storage/images/..", ``, 400},
		{"encoded space", "PUT", "/projects/a%20b", `{}`, 400},
		{"encoded letter acts on no environment", "POST", "/projects/storage/environments/stag%65/deployments", `{"release_id":"latest"}`, 400},
		{"unknown environment", "POST", "/projects/storage/environments/prd/deployments", `{"release_id":"latest"}`, 404},
		{"missing release_id", "POST", "/projects/storage/environments/stage/deployments", `{}`, 400},
		{"bad limit", "GET", "/projects/storage/releases?limit=1000", ``, 400},
		{"bad cursor", "GET", "/projects/storage/releases?cursor=garbage", ``, 400},
		{"huge body", "PUT", "/projects/storage", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
		{"bad manifest entry", "PUT", "/projects/storage", `{"name":"S","environments":[],"image_repositories":[{"id":"x/y"}]}`, 400},
	}
	for _, tt := range requests {
		t.Run("http "+tt.name, func(t *testing.T) {
			var body struct {
				Error struct {
					Kind    string `json:"kind"`
					Message string `json:"message"`
				} `json:"error"`
			}
			var b any
			if tt.body != "" {
				b = tt.body
			}
			code := s.call(tt.method, tt.path, "eve", b, &body)
			if code != tt.wantStatus {
				t.Errorf("status = %d, want %d (%+v)", code, tt.wantStatus, body)
			}
			if body.Error.Kind == "" || body.Error.Message == "" {
				t.Errorf("error body = %+v, want a kind and a message", body)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Errorf("bad input changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestServeRefusesCorruptStore: a store file cut short (a full disk, a bad copy) or emptied makes
// serve exit with one line naming the file and what to do: no stack trace, and no stack serving
// a store with its releases missing.
func TestServeRefusesCorruptStore(t *testing.T) {
	whole := filepath.Join(t.TempDir(), "whole.db")
	s, err := bolt.Open(whole)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for i := range 300 {
		params[fmt.Sprintf("/storage/images/latest/svc-%03d", i)] = strings.Repeat("x", 1000)
	}
	if err := s.PutParameters(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	for name, cut := range map[string][]byte{"empty": nil, "8 KiB": data[:8192], "half": data[:len(data)/2]} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shiplog.db")
			if err := os.WriteFile(path, cut, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, binary, "serve", "--addr", freeAddr(t), "--data", path)
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("serve on a %s store: got %v, want exit status 1\n%s", name, err, stderr.String())
			}
			out := strings.TrimSuffix(stderr.String(), "\n")
			if strings.Contains(out, "\n") || !strings.HasPrefix(out, "shiplog: open store "+path+": ") || !strings.Contains(out, "backup") {
				t.Errorf("serve on a %s store: stderr %q, want one line naming %s and what to do", name, out, path)
			}
		})
	}
}

// TestBareLFInAHeader: on the local stack, a bare LF in X-Shiplog-User is refused, not read as a
// second header that names someone else.
func TestBareLFInAHeader(t *testing.T) {
	s := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"), "--manifest", filepath.Join("testdata", "wellcome_project.json"))
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute)) // a kept-alive connection would hang
	entry := `{"name": "Mallory's", "environments": [{"id": "stage"}], "image_repositories": [{"id": "m/app"}]}`
	fmt.Fprintf(c, "PUT /projects/mallory HTTP/1.1\r\nHost: x\r\nX-Shiplog-User: alice\nX-Shiplog-User-Name: Alice\r\nContent-Length: %d\r\n\r\n%s", len(entry), entry)
	out, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(out), "HTTP/1.1 400 ") {
		t.Errorf("bare LF in X-Shiplog-User: got %q, want 400", out)
	}
	if status := s.call("GET", "/projects/mallory", "", nil, nil); status != http.StatusNotFound {
		t.Errorf("GET /projects/mallory after the refused request: got %d, want 404", status)
	}
}

// TestHeaderWithESC: on the local stack, a header net/http's server refuses (here one with an
// ESC) gets the API's JSON error naming the header, not net/http's plain-text 400.
func TestHeaderWithESC(t *testing.T) {
	s := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"), "--manifest", filepath.Join("testdata", "wellcome_project.json"))
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(c, "GET /projects HTTP/1.1\r\nHost: x\r\nX-Shiplog-User-Name: Al\x1b[2Jice\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error struct{ Kind, Message string } `json:"error"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil || res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("ESC in a header: got %d %s %q, want a JSON 400", res.StatusCode, res.Header.Get("Content-Type"), raw)
	}
	if body.Error.Kind != "Invalid" || !strings.Contains(body.Error.Message, "X-Shiplog-User-Name") || !strings.Contains(body.Error.Message, "U+001B") {
		t.Errorf("ESC in a header: got %+v, want Invalid naming X-Shiplog-User-Name and U+001B", body.Error)
	}
}

// TestLocalInvokeAPIManners: the aws CLI lists the local stack's functions, and a path the
// Invoke API does not serve gets a JSON error.
func TestLocalInvokeAPIManners(t *testing.T) {
	t.Parallel() // its own data file, port and process
	s := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"))
	dir := t.TempDir()
	cmd := exec.Command(awsCLI(t), "lambda", "list-functions", "--endpoint-url", s.url)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws lambda list-functions: %v\n%s", err, out)
	}
	var list struct {
		Functions []struct{ FunctionName, FunctionArn string }
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("list-functions output: %v: %s", err, out)
	}
	var names []string
	for _, f := range list.Functions {
		names = append(names, f.FunctionName)
	}
	if diff := cmp.Diff([]string{"create-release", "deploy", "ecr-push", "ecs-events"}, names); diff != "" {
		t.Errorf("functions (-want +got):\n%s", diff)
	}
	if len(list.Functions) > 0 && list.Functions[0].FunctionArn != "arn:aws:lambda:eu-west-1:000000000000:function:create-release" {
		t.Errorf("FunctionArn = %q", list.Functions[0].FunctionArn)
	}
	// Paths the Invoke API does not serve, of its own API version and of the Lambda API's others
	// (GetAccountSettings, ListTags), get Lambda's error shape, whose message the aws CLI prints.
	for _, path := range []string{"/2015-03-31/functions/deploy/configuration", "/2016-08-19/account-settings/", "/2017-03-31/tags/deploy"} {
		var body map[string]any
		if code := s.call("GET", path, "", nil, &body); code != 404 || !strings.Contains(fmt.Sprint(body["message"]), "serves only Invoke") {
			t.Errorf("GET %s: %d %v, want a 404 JSON error saying what the local stack serves", path, code, body)
		}
	}
	cmd = exec.Command(awsCLI(t), "lambda", "get-account-settings", "--endpoint-url", s.url)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1", "AWS_PAGER=",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"))
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "UnknownOperationException") || !strings.Contains(string(out), "serves only Invoke") {
		t.Errorf("aws lambda get-account-settings: %v: %s, want it to fail with the local stack's message", err, out)
	}
}

// TestLocalStackCreated: on the local stack started with the repository's example
// .wellcome_project, what a POST creates is answered 201 with a Location that reads it back; a
// plan or a report creates nothing and has none.
func TestLocalStackCreated(t *testing.T) {
	t.Parallel() // its own data file, port and process
	s := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"), "--manifest", filepath.Join("..", "..", ".wellcome_project"))
	if !strings.Contains(s.logs.String(), `"msg":"project registered","project":"bugfarm_73649"`) {
		t.Fatalf("serve --manifest .wellcome_project: no registration logged:\n%s", s.logs)
	}
	for i, repo := range []string{"bugfarm/hatching", "bugfarm/feeding"} {
		res, err := http.Post(s.url+"/2015-03-31/functions/ecr-push/invocations", "application/json",
			bytes.NewReader(pushEvent(t, repo, digest(i+1), "2026-11-20T09:00:00Z")))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("X-Amz-Function-Error") != "" {
			t.Fatalf("ecr-push %s: %d %s", repo, res.StatusCode, b)
		}
	}
	// created posts body, wants 201 and a Location that answers 200 with the id under key.
	created := func(path string, body any, key string) string {
		t.Helper()
		var out map[string]any
		if code := s.call("POST", path, "alice", body, &out); code != http.StatusCreated {
			t.Fatalf("POST %s: %d %v, want 201", path, code, out)
		}
		loc := s.lastLocation
		var got map[string]any
		if code := s.call("GET", loc, "", nil, &got); code != 200 || got[key] == nil {
			t.Fatalf("POST %s: Location %q answers %d %v, want 200 with %s", path, loc, code, got, key)
		}
		if !strings.HasSuffix(loc, "/"+fmt.Sprint(got[key])) {
			t.Errorf("POST %s: Location %q does not end with its %s %v", path, loc, key, got[key])
		}
		return fmt.Sprint(got[key])
	}
	rel := created("/projects/bugfarm_73649/releases", map[string]string{"description": "nightly"}, "release_id")
	if !strings.Contains(s.logs.String(), `"msg":"release created","project":"bugfarm_73649","release":"`+rel+`"`) {
		t.Errorf("no release logged:\n%s", s.logs)
	}
	stage := created("/projects/bugfarm_73649/environments/stage/deployments", map[string]string{"release_id": rel}, "deployment_id")
	// prod requires stage: report stage verified, then promote.
	if code := s.call("POST", "/projects/bugfarm_73649/environments/stage/deployments/"+stage+"/status", "ci", map[string]string{"status": "verified"}, nil); code != 200 || s.lastLocation != "" {
		t.Errorf("report verified: %d, Location %q; want 200 and none", code, s.lastLocation)
	}
	if code := s.call("POST", "/projects/bugfarm_73649/environments/prod/deployments", "bob", map[string]any{"from_environment": "stage", "dry_run": true}, nil); code != 200 || s.lastLocation != "" {
		t.Errorf("plan: %d, Location %q; want 200 and none", code, s.lastLocation)
	}
	created("/projects/bugfarm_73649/environments/prod/deployments", map[string]string{"from_environment": "stage"}, "deployment_id")
	created("/projects/bugfarm_73649/environments/stage/emergency-deployments", map[string]string{"release_id": rel, "reason": "incident 12"}, "deployment_id")
}

// TestDashboardNextToTheAPI checks that the local stack serves the dashboard at / and its files,
// and leaves every other path to the API.
func TestDashboardNextToTheAPI(t *testing.T) {
	t.Parallel()
	s := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"))
	tests := []struct {
		path, contentType string
		status            int
		body              string
	}{
		{"/", "text/html; charset=utf-8", 200, `<script type="module" src="/assets/js/app.js">`},
		{"/assets/js/app.js", "text/javascript; charset=utf-8", 200, "import"},
		{"/assets/nope.css", "application/json", 404, `"kind":"NotFound"`},
		{"/projects", "application/json", 200, `{"items":[]}`},
		{"/nope", "application/json", 404, `"message":"no route GET /nope"`},
		{"/openapi.json", "application/json", 200, `"openapi": "3.1.0"`},
	}
	for _, tt := range tests {
		res, err := http.Get(s.url + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tt.status || res.Header.Get("Content-Type") != tt.contentType || !strings.Contains(string(b), tt.body) {
			t.Errorf("GET %s: got %d %s %.80q, want %d %s with %s", tt.path, res.StatusCode, res.Header.Get("Content-Type"), b, tt.status, tt.contentType, tt.body)
		}
	}
}

// TestServeRefusesOtherSites: the local stack records as the OS user whoever reaches it, so a
// page on another site must not be able to write through the visitor's browser: not with a
// no-cors fetch (which still sends the POST), not by rebinding its own name to 127.0.0.1. The CLI,
// curl and the aws CLI send no Origin and name the address they dial, and still pass.
func TestServeRefusesOtherSites(t *testing.T) {
	s := startStack(t, filepath.Join(t.TempDir(), "shiplog.db"), "--manifest", filepath.Join("testdata", "wellcome_project.json"))
	port := s.url[strings.LastIndex(s.url, ":")+1:]
	entry := `{"name": "Mallory's", "environments": [{"id": "stage"}], "image_repositories": [{"id": "m/app"}]}`
	invocation := `{"project_id": "storage"}`
	tests := []struct {
		name, method, path, body, host string
		header                         map[string]string
		want                           int
	}{
		// What fetch("http://127.0.0.1:8080/...", {method: "PUT"|"POST", mode: "no-cors"}) sends
		// from https://evil.example.
		{"no-cors fetch from another site", "PUT", "/projects/mallory", entry, "",
			map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain;charset=UTF-8"}, http.StatusForbidden},
		{"another origin without Sec-Fetch-Site", "PUT", "/projects/mallory", entry, "",
			map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"same-site page on another port", "PUT", "/projects/mallory", entry, "",
			map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"null origin (a sandboxed frame)", "PUT", "/projects/mallory", entry, "",
			map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"cross-site invoke", "POST", "/2015-03-31/functions/create-release/invocations", invocation, "",
			map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		// DNS rebinding: evil.example resolves to 127.0.0.1, and its page is same-origin with itself.
		{"rebound name", "PUT", "/projects/mallory", entry, "evil.example:" + port,
			map[string]string{"Origin": "http://evil.example:" + port, "Sec-Fetch-Site": "same-origin"}, http.StatusForbidden},
		{"rebound name on a read", "GET", "/projects", "", "evil.example:" + port, nil, http.StatusForbidden},
		{"rebound name on the dashboard", "GET", "/", "", "evil.example:" + port, nil, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.url+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.want || !strings.Contains(string(b), `"kind":"Invalid"`) {
				t.Errorf("got %d %s, want %d and a JSON error", res.StatusCode, b, tt.want)
			}
		})
	}
	if status := s.call("GET", "/projects/mallory", "", nil, nil); status != http.StatusNotFound {
		t.Errorf("GET /projects/mallory after the refused requests: got %d, want 404", status)
	}
	var releases struct{ Items []json.RawMessage }
	if status := s.call("GET", "/projects/storage/releases", "", nil, &releases); status != http.StatusOK || len(releases.Items) != 0 {
		t.Errorf("storage's releases after a refused invoke: %d, %d releases, want 200 and none", status, len(releases.Items))
	}

	// What passes: the dashboard's own page (same origin, by either loopback name), and clients
	// that send no Origin.
	for _, tt := range []struct {
		name, host string
		header     map[string]string
	}{
		{"the dashboard's page", "", map[string]string{"Origin": s.url, "Sec-Fetch-Site": "same-origin"}},
		{"the dashboard opened as localhost", "localhost:" + port, map[string]string{"Origin": "http://localhost:" + port, "Sec-Fetch-Site": "same-origin"}},
		{"a typed URL", "", map[string]string{"Sec-Fetch-Site": "none"}},
		{"curl", "", nil},
	} {
		t.Run("passes "+tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.url+"/projects", nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("got %d, want 200", res.StatusCode)
			}
		})
	}
}
