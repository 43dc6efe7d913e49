package localaws

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Dynalite is a running dynalite: DynamoDB, in memory, from the npm package pinned in the
// module's package.json.
type Dynalite struct {
	*Server
}

// StartDynalite starts a dynalite for this test alone and stops it when the test ends. It fails
// the test if dynalite is not installed (npm ci at the module root) or cannot start.
func StartDynalite(t testing.TB) *Dynalite {
	t.Helper()
	d, err := LaunchDynalite()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// LaunchDynalite starts a dynalite that runs until Close, for TestMain, benchmarks and tools.
// Tables become ACTIVE a moment after CreateTable returns (not quite at once: a PutItem sent
// straight after can fail with ResourceNotFoundException), so wait for them with
// dynamodb.NewTableExistsWaiter, with a MinDelay of a few milliseconds rather than its 20s default.
func LaunchDynalite() (*Dynalite, error) {
	bin, err := DynalitePath()
	if err != nil {
		return nil, err
	}
	s, err := launch("dynalite", bin,
		func(port int) []string {
			return []string{"--host", "127.0.0.1", "--port", strconv.Itoa(port),
				"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"}
		},
		func(port int) string { return "listening at: http://127.0.0.1:" + strconv.Itoa(port) })
	if err != nil {
		return nil, err
	}
	return &Dynalite{Server: s}, nil
}

// DynalitePath returns node_modules/.bin/dynalite under the module root, the nearest directory
// above the working directory (a test's package directory) that holds go.mod.
func DynalitePath() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("dynalite not found at %s: run `npm ci` in %s", bin, root)
	}
	return bin, nil
}

// ModuleRoot returns the nearest directory above the working directory that holds go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
