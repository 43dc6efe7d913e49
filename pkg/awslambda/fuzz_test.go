package awslambda_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// FuzzInvoke sends arbitrary payloads to each direct-invocation function on a store with a
// registered project and images: whatever comes in, the answer is JSON or a function error whose
// errorType is a caller's kind (never Internal, which would be a fault of ours) with a message
// free of Go's type names. A payload that is accepted is refused with a "}" or "]" after it.
//
// Every input starts from the same store: the registered, seeded file is built once per fuzzing
// process and copied back before each input (a file copy and an open, not a registration and a
// dozen fsyncs), and the log goes nowhere, so that the same input takes the same path every time
// and the fuzzer measures the handlers' coverage, not the clock's.
func FuzzInvoke(f *testing.F) {
	for _, name := range []string{"ecr-push-tagged.json", "ecr-push-untagged.json", "ecr-push-failed.json", "ecr-delete.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), b)
	}
	for _, seed := range []string{
		`{"project_id":"storage"}`,
		`{"project_id":"storage","label":"latest","description":"d","requested_by":{"id":"ci","name":"CI"}}`,
		`{"project_id":"storage","manifest":{"storage":{"name":"S","environments":[{"id":"stage"}],"image_repositories":[{"id":"a/b"}]}}}`,
		`{"project_id":"storage","manifest":"{}"}`,
		`{"project_id":"storage"}}`, `{"project_id":"storage"}]`,
	} {
		f.Add(uint8(1), []byte(seed))
	}
	for _, seed := range []string{
		`{"project_id":"storage","release_id":"latest","environment":"stage"}`,
		`{"project_id":"storage","release_id":"01JTEST0000000000000000001","environment":"prod","description":"x"}`,
		`{"project_id":"storage","release_id":7,"environment":null}`,
	} {
		f.Add(uint8(2), []byte(seed))
	}
	stores := newFuzzStores(f)
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		env := stores.fresh(t)
		names := []string{"ecr-push", "create-release", "deploy"}
		fn := env.functions()[names[int(which)%len(names)]]
		out, err := fn.Invoke(t.Context(), payload)
		if err == nil {
			if len(out) == 0 || (out[0] != '{' && out[0] != '[') {
				t.Fatalf("%s(%q): answer %q is not JSON", fn.Name, payload, out)
			}
			// What is accepted is refused with trailing data after it.
			for _, tail := range []string{"}", "]"} {
				_, err := fn.Invoke(t.Context(), append(slices.Clip(payload), tail...))
				var ire messages.InvokeResponse_Error
				if !errors.As(err, &ire) || ire.Type != "Invalid" {
					t.Fatalf("%s(%q + %q): got %v, want Invalid (trailing data)", fn.Name, payload, tail, err)
				}
			}
			return
		}
		var ire messages.InvokeResponse_Error
		if !errors.As(err, &ire) {
			t.Fatalf("%s(%q): error %T is not a Lambda function error", fn.Name, payload, err)
		}
		switch ire.Type {
		case "Invalid", "NotFound", "Conflict":
		default:
			t.Fatalf("%s(%q): errorType %q (%s), want a caller's kind", fn.Name, payload, ire.Type, ire.Message)
		}
		for _, goism := range []string{"json:", "Go value", "struct", "*shiplog.", "[]uint8", "UnmarshalJSON", "invalid character", "in literal", "looking for beginning"} {
			if strings.Contains(ire.Message, goism) {
				t.Fatalf("%s(%q): message %q shows Go's internals (%q)", fn.Name, payload, ire.Message, goism)
			}
		}
	})
}

// fuzzStores hands each fuzz input a store holding the example manifest and storage's latest
// images, restored from a copy made once. Inputs run one at a time in a fuzzing process, so one
// working file serves them all.
type fuzzStores struct {
	baseline []byte // the seeded store file
	path     string // the working file each input opens
}

func newFuzzStores(f *testing.F) *fuzzStores {
	f.Helper()
	dir := fuzzDir(f)
	seed := filepath.Join(dir, "baseline.db")
	store, err := bolt.Open(seed)
	if err != nil {
		f.Fatalf("open store: %v", err)
	}
	env := &testEnv{store: store, svc: fuzzService(store)}
	ctx := context.Background()
	file, err := os.ReadFile(filepath.Join("testdata", "wellcome_project.json"))
	if err != nil {
		f.Fatal(err)
	}
	projects, err := manifest.Parse(file)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := env.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: projects}); err != nil {
		f.Fatalf("register manifest: %v", err)
	}
	params := map[string]string{}
	for svc, uri := range storageImages {
		params[shiplog.ParameterName("storage", "latest", svc)] = uri
	}
	if err := store.PutParameters(ctx, params); err != nil {
		f.Fatalf("seed images: %v", err)
	}
	if err := store.Close(); err != nil {
		f.Fatalf("close store: %v", err)
	}
	baseline, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	return &fuzzStores{baseline: baseline, path: filepath.Join(dir, "input.db")}
}

// fresh restores the working file from the baseline and opens a service over it on the fixed
// clock with ids counting from one, as newEnv does, logging nowhere.
func (s *fuzzStores) fresh(t *testing.T) *testEnv {
	t.Helper()
	if err := os.WriteFile(s.path, s.baseline, 0o600); err != nil {
		t.Fatalf("restore store: %v", err)
	}
	store, err := bolt.Open(s.path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testEnv{store: store, svc: fuzzService(store), log: slog.New(slog.DiscardHandler)}
}

func fuzzService(store *bolt.Store) *shiplog.Service {
	svc := shiplog.NewService(store, store, nil, slog.New(slog.DiscardHandler))
	svc.Atomic = store.AtomicParameters() // as the local stack wires it
	svc.Now = func() time.Time { return now }
	svc.NewID = sequentialIDs()
	return svc
}

// fuzzDir is where the fuzz store files live: in memory (/dev/shm) where the machine has it, as
// bbolt syncs the file on every write and a disk's fsync would then be most of each input's time;
// otherwise a temporary directory. Either is removed when the fuzz test ends.
func fuzzDir(f *testing.F) string {
	f.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "shiplog-fuzz-"); err == nil {
			f.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return f.TempDir()
}
