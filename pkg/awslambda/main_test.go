package awslambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// now is the service's clock in every test.
var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// manifestProjects are the project ids of testdata/wellcome_project.json, sorted.
var manifestProjects = []string{"bugfarm_73649", "catalogue_pipeline", "storage"}

// storageImages are the "latest" images seeded for the example manifest's storage project.
var storageImages = map[string]string{
	"archivist":                     ecrImage("uk.ac.wellcome/archivist", 1),
	"bag-register":                  ecrImage("uk.ac.wellcome/bag-register", 2),
	"bag_verifier_pre_replication":  ecrImage("uk.ac.wellcome/bag_verifier", 3),
	"bag_verifier_post_replication": ecrImage("uk.ac.wellcome/bag_verifier", 3),
	"notifier":                      ecrImage("uk.ac.wellcome/notifier", 4),
}

func ecrImage(repo string, n int) string {
	return fmt.Sprintf("760097843905.dkr.ecr.eu-west-1.amazonaws.com/%s@sha256:%064x", repo, n)
}

// testEnv is a real Service over the embedded store in a temporary directory, on a fixed clock
// with sequential ids, logging JSON to a buffer.
type testEnv struct {
	svc   *shiplog.Service
	store *bolt.Store
	logs  *syncBuffer
	log   *slog.Logger
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newEnv returns an empty store and a service over it.
func newEnv(t *testing.T) *testEnv {
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the parameter store wrapped by wrap (nil: the store itself).
func newEnvWith(t *testing.T, wrap func(shiplog.ParameterStore) shiplog.ParameterStore) *testEnv {
	t.Helper()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	var params shiplog.ParameterStore = store
	if wrap != nil {
		params = wrap(store)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := shiplog.NewService(params, store, nil, log)
	svc.Now = func() time.Time { return now }
	svc.NewID = sequentialIDs()
	return &testEnv{svc: svc, store: store, logs: logs, log: log}
}

// sequentialIDs returns ids that sort in the order they are made, like the ULIDs in production.
func sequentialIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("01JTEST%019d", n.Add(1)) }
}

// id is the n-th id that sequentialIDs makes.
func id(n int) string { return fmt.Sprintf("01JTEST%019d", n) }

// registered registers the example manifest.
func (e *testEnv) registered(t *testing.T) *testEnv {
	t.Helper()
	projects, err := manifest.Parse(readFile(t, "wellcome_project.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RegisterProjects(context.Background(), shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatalf("register manifest: %v", err)
	}
	return e
}

// withImages puts storageImages under /storage/images/latest/.
func (e *testEnv) withImages(t *testing.T) *testEnv {
	t.Helper()
	params := map[string]string{}
	for svc, uri := range storageImages {
		params[shiplog.ParameterName("storage", "latest", svc)] = uri
	}
	if err := e.store.PutParameters(context.Background(), params); err != nil {
		t.Fatalf("seed images: %v", err)
	}
	return e
}

// functions are the three direct-invocation functions over the env's service.
func (e *testEnv) functions() map[string]awslambda.Function {
	return awslambda.Functions(e.svc, e.log, awslambda.AllowAll())
}

// state is everything the store holds that a handler could change, read through the ports.
type state struct {
	Projects    []shiplog.Project
	Params      map[string]string
	Releases    map[string][]shiplog.Release
	Deployments map[string][]shiplog.DeploymentRecord
	Envs        map[string][]shiplog.EnvironmentState
}

// labels are every label and environment of the example manifest, plus one a test might invent.
var labels = []string{"latest", "stage", "prod", "2026-11-20", "2026-11-25"}

func (e *testEnv) snapshot(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	s := state{Params: map[string]string{}, Releases: map[string][]shiplog.Release{},
		Deployments: map[string][]shiplog.DeploymentRecord{}, Envs: map[string][]shiplog.EnvironmentState{}}
	var err error
	if s.Projects, err = e.store.ListProjects(ctx); err != nil {
		t.Fatalf("list projects: %v", err)
	}
	ids := slices.Clone(manifestProjects)
	for _, p := range s.Projects {
		if !slices.Contains(ids, p.ID) {
			ids = append(ids, p.ID)
		}
	}
	for _, p := range ids {
		for _, l := range labels {
			got, err := e.store.GetParametersByPath(ctx, shiplog.ParameterPath(p, l))
			if err != nil {
				t.Fatalf("get parameters: %v", err)
			}
			for k, v := range got {
				s.Params[k] = v
			}
		}
		rels, err := e.store.ListReleases(ctx, p, shiplog.PageRequest{Limit: shiplog.MaxPageLimit})
		if err != nil {
			t.Fatalf("list releases: %v", err)
		}
		if len(rels.Items) > 0 {
			s.Releases[p] = rels.Items
		}
		deps, err := e.store.ListDeployments(ctx, p, shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: shiplog.MaxPageLimit})
		if err != nil {
			t.Fatalf("list deployments: %v", err)
		}
		if len(deps.Items) > 0 {
			s.Deployments[p] = deps.Items
		}
		envs, err := e.store.EnvironmentStates(ctx, p)
		if err != nil {
			t.Fatalf("environment states: %v", err)
		}
		if len(envs) > 0 {
			s.Envs[p] = envs
		}
	}
	return s
}

// unchanged fails the test if the store differs from before.
func (e *testEnv) unchanged(t *testing.T, before state) {
	t.Helper()
	if diff := cmp.Diff(before, e.snapshot(t)); diff != "" {
		t.Errorf("store changed (-before +after):\n%s", diff)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invocationError returns err as the error the Lambda runtime reports. The runtime type-asserts
// (it does not unwrap), so the handler must return exactly this type.
func invocationError(t *testing.T, err error) messages.InvokeResponse_Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a function error")
	}
	ire, ok := err.(messages.InvokeResponse_Error)
	if !ok {
		t.Fatalf("got error %T %v, want a messages.InvokeResponse_Error", err, err)
	}
	return ire
}

// goNames are fragments of Go's own error text and type names, which callers must never see.
var goNames = []string{"Go ", "json:", "struct", "shiplog.", "awslambda.", "events.", "Request", "Time.",
	"UnmarshalJSON", "int64", "float64", "map[", "*"}

func checkNoGoNames(t *testing.T, msg string) {
	t.Helper()
	for _, n := range goNames {
		if strings.Contains(msg, n) {
			t.Errorf("message %q contains %q, which is Go's, not the payload's", msg, n)
		}
	}
}

// golden compares got (JSON) with testdata/golden/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("golden %s: output is not JSON: %v\n%s", name, err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("%s differs (-want +got); run go test -update if the change is intended:\n%s", path, diff)
	}
}

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, raw)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func field(t *testing.T, raw []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, raw)
	}
	return m[name]
}
