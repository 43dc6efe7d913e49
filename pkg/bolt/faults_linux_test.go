package bolt_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// fillDisk makes every later write to the store's file fail as on a full disk: the file's
// descriptor is replaced by one of /dev/full, whose writes fail with ENOSPC, while the pages
// already mapped stay readable.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err != nil || target != path {
			continue
		}
		var n int
		for _, c := range fd.Name() {
			n = n*10 + int(c-'0')
		}
		if err := syscall.Dup3(int(full.Fd()), n, syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no descriptor of %s", path)
}

// TestFullDisk: a write the disk has no room for is Unavailable and says the disk is full (an
// operator can act on that), not an internal error.
func TestFullDisk(t *testing.T) {
	st := newDeployStack(t, 3)
	// Free pages in the file first, so that the writes below need no larger file: growing it
	// would fail on /dev/full before any write does.
	for _, size := range []int{4000, 1, 1} {
		params := map[string]string{}
		for i := range 300 {
			params[fmt.Sprintf("/q/images/latest/s-%03d", i)] = strings.Repeat("x", size)
		}
		if err := st.store.PutParameters(t.Context(), params); err != nil {
			t.Fatal(err)
		}
	}
	path, err := filepath.EvalSymlinks(st.path)
	if err != nil {
		t.Fatal(err)
	}
	fillDisk(t, path)
	_, err = st.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "p", ReleaseID: st.r2.ID, Environment: "stage"})
	if got := shiplog.KindOf(err); got != shiplog.Unavailable {
		t.Errorf("Deploy on a full disk: got %v (%v), want Unavailable", got, err)
	}
	if msg := shiplog.MessageOf(err); !strings.Contains(msg, "the disk is full") {
		t.Errorf("Deploy on a full disk: got message %q, want it to say the disk is full", msg)
	}
	err = st.store.PutParameters(t.Context(), map[string]string{"/p/images/latest/svc-0": "x"})
	if got := shiplog.KindOf(err); got != shiplog.Unavailable || !strings.Contains(shiplog.MessageOf(err), "the disk is full") {
		t.Errorf("PutParameters on a full disk: got %v %q, want Unavailable saying the disk is full", got, shiplog.MessageOf(err))
	}
}

// TestOpenDirectory: a directory given as the store's path is named as such, not as a damaged
// file to restore from a backup.
func TestOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := bolt.Open(dir)
	if err == nil {
		t.Fatal("Open of a directory: got no error")
	}
	if msg := err.Error(); !strings.Contains(msg, dir+": it is a directory") || strings.Contains(msg, "backup") {
		t.Errorf("Open of a directory: got %q, want it to say %s is a directory, and no backup", msg, dir)
	}
}

// permissionsDirEnv hands TestOpenWithoutPermission's child its directory.
const permissionsDirEnv = "SHIPLOG_TEST_PERMISSIONS_DIR"

// TestOpenWithoutPermission: a data directory or file shiplog may not write is reported as a
// matter of permission, not as a damaged file to restore from a backup. Root may write anything,
// so as root the cases run in a copy of this test binary as the user nobody.
func TestOpenWithoutPermission(t *testing.T) {
	if dir := os.Getenv(permissionsDirEnv); dir != "" {
		openWithoutPermission(t, dir)
		return
	}
	// As root the cases run again as nobody, from a copy of this binary that nobody must reach:
	// under /tmp, since the test's own temporary directory (make test's is private) may not be.
	parent := ""
	if os.Geteuid() == 0 {
		parent = "/tmp"
	}
	base, err := os.MkdirTemp(parent, "shiplog-perm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// A store to find read-only, and a directory to find read-only.
	s, err := bolt.Open(filepath.Join(base, "rofile", "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{
		base: 0o755, filepath.Join(base, "rofile"): 0o755, filepath.Join(base, "rofile", "shiplog.db"): 0o444,
	} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(base, "rodir"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(base, "rodir"), 0o755) })
	if os.Geteuid() != 0 {
		openWithoutPermission(t, base)
		return
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "bolt.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestOpenWithoutPermission$", "-test.v", "-test.count=1")
	cmd.Dir = base
	cmd.Env = append(os.Environ(), permissionsDirEnv+"="+base)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("the cases as the user nobody: %v\n%s", err, out)
	}
}

func openWithoutPermission(t *testing.T, base string) {
	for _, tt := range []struct{ name, path string }{
		{"a read-only directory", filepath.Join(base, "rodir", "shiplog.db")},
		{"a read-only file", filepath.Join(base, "rofile", "shiplog.db")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := bolt.Open(tt.path)
			if err == nil {
				s.Close()
				t.Fatal("Open: got a store, want an error")
			}
			if msg := err.Error(); !strings.Contains(msg, tt.path+": permission denied") || strings.Contains(msg, "backup") || strings.Contains(msg, "not a whole") {
				t.Errorf("Open: got %q, want it to say permission denied for %s, and no backup", msg, tt.path)
			}
		})
	}
}

// deployStack is a Service on one embedded store at path that is also its parameter store, with
// a project of services and two releases that differ in all.
type deployStack struct {
	store  *bolt.Store
	path   string
	svc    *shiplog.Service
	r1, r2 shiplog.Release
}

func newDeployStack(t *testing.T, services int) deployStack {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shiplog.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := shiplog.NewService(s, s, nil, nil)
	svc.Atomic = s.AtomicParameters()
	p := shiplog.Project{ID: "p", Name: "P", Manifest: []byte(`{}`), Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}}}
	for i := range services {
		p.ImageRepositories = append(p.ImageRepositories, shiplog.ImageRepository{ID: fmt.Sprintf("team/svc-%d", i), Services: []string{fmt.Sprintf("svc-%d", i)}})
	}
	if _, err := svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	release := func(n int) shiplog.Release {
		params := map[string]string{}
		for i := range services {
			params[shiplog.ParameterName("p", "latest", fmt.Sprintf("svc-%d", i))] = fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/svc-%d@sha256:%064d", i, n)
		}
		if err := s.PutParameters(t.Context(), params); err != nil {
			t.Fatal(err)
		}
		r, err := svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "p"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return deployStack{store: s, path: path, svc: svc, r1: release(1), r2: release(2)}
}
