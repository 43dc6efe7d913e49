package bolt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/ledger/ledgertest"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

func openTemp(t testing.TB) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestParameterStore(t *testing.T) {
	shiplogtest.RunParameterStoreTests(t, func(t *testing.T) shiplog.ParameterStore { return openTemp(t) })
}

func TestReleaseStore(t *testing.T) {
	shiplogtest.RunStoreTests(t, func(t *testing.T) shiplog.Store { return openTemp(t) })
}

func TestStoreConcurrency(t *testing.T) {
	shiplogtest.RunStoreConcurrencyTests(t, func(t *testing.T) shiplog.Store { return openTemp(t) })
}

// TestRestart checks that everything written is there after the file is closed and reopened.
func TestRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dirs", "shiplog.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("Open of a path whose directories do not exist: %v", err)
	}
	p := shiplog.Project{
		ID: "storage", Name: "Storage service",
		Environments:      []shiplog.Environment{{ID: "stage", Name: "Staging"}},
		ImageRepositories: []shiplog.ImageRepository{{ID: "uk.ac.wellcome/archivist", Services: []string{"archivist"}}},
		Manifest:          []byte(`{"name":"Storage service"}`),
	}
	image := "760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/archivist@sha256:" + strings.Repeat("a", 64)
	r := shiplog.Release{
		ID: "01HREL00000000000000000001", ProjectID: "storage", ProjectName: p.Name, CreatedAt: 1_800_000_000,
		Manifest: string(p.Manifest), RequestedBy: shiplog.AnonymousPerson,
		Images: map[string]string{"archivist": image}, Label: "latest", Deployments: []shiplog.Deployment{},
	}
	d := shiplog.Deployment{ID: "01HDEP00000000000000000001", Environment: p.Environments[0], CreatedAt: 1_800_000_060, RequestedBy: shiplog.AnonymousPerson}
	state := shiplog.EnvironmentState{
		ProjectID: "storage", Environment: p.Environments[0], ReleaseID: r.ID, DeploymentID: d.ID,
		DeployedAt: d.CreatedAt, RequestedBy: d.RequestedBy, Images: r.Images, Pending: []string{"archivist"}, LockedUntil: 1_800_000_180, Version: 1,
	}
	push := shiplog.ImageRecord{ProjectID: "storage", ServiceID: "archivist", URI: image, PushedAt: 1_799_999_000}
	evs := []shiplog.Event{
		{ID: "01J0000000000000000000000A", Type: shiplog.EventProjectRegistered, At: 1_799_999_000, By: shiplog.AnonymousPerson, ProjectID: "storage"},
		{ID: "01J0000000000000000000000B", Type: shiplog.EventImageRecorded, At: 1_799_999_000, By: shiplog.AnonymousPerson, ProjectID: "storage", Service: "archivist"},
		{ID: "01J0000000000000000000000C", Type: shiplog.EventReleaseCreated, At: 1_800_000_000, By: shiplog.AnonymousPerson, ProjectID: "storage", ReleaseID: r.ID},
		{ID: "01J0000000000000000000000D", Type: shiplog.EventDeploymentRequested, At: 1_800_000_060, By: shiplog.AnonymousPerson, ProjectID: "storage",
			Environment: "stage", ReleaseID: r.ID, DeploymentID: d.ID, Detail: map[string]string{"kind": "deploy"}},
	}
	if err := s.PutProject(ctx, p, evs[0]); err != nil {
		t.Fatalf("PutProject: %v", err)
	}
	if err := s.PutParameters(ctx, map[string]string{"/storage/images/latest/archivist": image}); err != nil {
		t.Fatalf("PutParameters: %v", err)
	}
	if _, err := s.RecordPush(ctx, push, evs[1]); err != nil {
		t.Fatalf("RecordPush: %v", err)
	}
	if err := s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: evs[2]}); err != nil {
		t.Fatalf("CreateRelease: %v", err)
	}
	rec := &shiplog.DeploymentRecord{Deployment: d, ProjectID: "storage", ReleaseID: r.ID}
	if err := s.WriteEnvironment(ctx, shiplog.EnvironmentWrite{State: state, Deployment: rec, Events: evs[3:]}); err != nil {
		t.Fatalf("WriteEnvironment: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = bolt.Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()

	if got, err := s.GetProject(ctx, "storage"); err != nil || !cmp.Equal(got, p) {
		t.Errorf("GetProject after restart: got %+v, %v, want %+v", got, err, p)
	}
	if got, err := s.GetParameter(ctx, "/storage/images/latest/archivist"); err != nil || got != image {
		t.Errorf("GetParameter after restart: got %q, %v, want %q", got, err, image)
	}
	if got, err := s.LatestImage(ctx, "storage", "archivist"); err != nil || got != push {
		t.Errorf("LatestImage after restart: got %+v, %v, want %+v", got, err, push)
	}
	wantRelease := r
	wantRelease.Deployments = []shiplog.Deployment{} // listed apart from the release
	wantRelease.LastDateDeployed = d.CreatedAt
	wantRelease.DeploymentCount = 1
	if got, err := s.GetRelease(ctx, "storage", r.ID); err != nil || !cmp.Equal(got, wantRelease) {
		t.Errorf("GetRelease after restart: %v\n%s", err, cmp.Diff(wantRelease, got))
	}
	// The deployment that held the lock died with the process that had the file: reopening
	// releases the lock, as the next version, and keeps its unwritten services pending.
	recovered := state
	recovered.LockedUntil, recovered.Version = 0, 2
	if got, err := s.EnvironmentStates(ctx, "storage"); err != nil || !cmp.Equal(got, []shiplog.EnvironmentState{recovered}) {
		t.Errorf("EnvironmentStates after restart: %v\n%s", err, cmp.Diff([]shiplog.EnvironmentState{recovered}, got))
	}
	refs, err := s.RepositoryServices(ctx, "uk.ac.wellcome/archivist")
	if want := []shiplog.ServiceRef{{ProjectID: "storage", ServiceID: "archivist"}}; err != nil || !cmp.Equal(refs, want) {
		t.Errorf("RepositoryServices after restart: got %v, %v, want %v", refs, err, want)
	}
	page, err := s.ListDeployments(ctx, "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 10})
	if want := []shiplog.DeploymentRecord{{Deployment: d, ProjectID: "storage", ReleaseID: r.ID}}; err != nil || !cmp.Equal(page.Items, want) {
		t.Errorf("ListDeployments after restart: %v\n%s", err, cmp.Diff(want, page.Items))
	}
	events, err := s.ListEvents(ctx, "storage", shiplog.EventFilter{}, shiplog.PageRequest{Limit: 10})
	if want := []shiplog.Event{evs[3], evs[2], evs[1], evs[0]}; err != nil || !cmp.Equal(events.Items, want) {
		t.Errorf("ListEvents after restart: %v\n%s", err, cmp.Diff(want, events.Items))
	}
}

// TestOpenLocked checks that a second Open of a file in use fails, saying why, rather than waiting.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shiplog.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = bolt.Open(path)
	if err == nil {
		t.Fatal("second Open of a file in use: got no error")
	}
	if !strings.Contains(err.Error(), "is another shiplog running?") || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open of a file in use: got %q, want the path and \"is another shiplog running?\"", err)
	}
}

// TestOpenNotADatabase checks that a file that is not a store is refused.
func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shiplog.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := bolt.Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a store: got no error")
	}
}

// corruptions cut or damage a store file the way a full disk, a bad copy or a crash of the
// machine might: each must be refused by Open with one line naming the file, never a panic and
// never a store that starts empty or with data missing.
var corruptions = []struct {
	name string
	cut  func(data []byte) []byte
}{
	{"empty", func([]byte) []byte { return nil }},
	{"the meta pages only", func(d []byte) []byte { return d[:8192] }},
	{"half the file", func(d []byte) []byte { return d[:len(d)/2] }},
	{"a third of the file", func(d []byte) []byte { return d[:len(d)/3] }},
	{"a data page overwritten", func(d []byte) []byte {
		d = append([]byte{}, d...)
		copy(d[len(d)/2:], strings.Repeat("\xff", 4096))
		return d
	}},
	{"both meta pages overwritten", func(d []byte) []byte {
		d = append([]byte{}, d...)
		copy(d, strings.Repeat("\x00", 8192))
		return d
	}},
}

// writeFullStore makes a store file of many pages and returns its bytes.
func writeFullStore(t *testing.T, path string) []byte {
	t.Helper()
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for i := range 500 {
		params[fmt.Sprintf("/storage/images/latest/service-%03d", i)] = strings.Repeat("x", 1000)
	}
	if err := s.PutParameters(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestOpenRefusesCorruptFiles(t *testing.T) {
	whole := writeFullStore(t, filepath.Join(t.TempDir(), "whole.db"))
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shiplog.db")
			if err := os.WriteFile(path, c.cut(whole), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := bolt.Open(path)
			if err == nil {
				n := -1
				if all, err := s.GetParametersByPath(t.Context(), "/storage/images/latest/"); err == nil {
					n = len(all)
				}
				s.Close()
				t.Fatalf("Open: got a store (with %d of 500 parameters), want an error", n)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || strings.Contains(msg, "\n") || !strings.Contains(msg, "backup") {
				t.Errorf("Open: got %q, want one line naming %s and what to do", msg, path)
			}
		})
	}
}

// BenchmarkConcurrentDeploys: 64 deploys at once to one environment of the local stack's store.
func BenchmarkConcurrentDeploys(b *testing.B) {
	shiplogtest.BenchmarkConcurrentDeploys(b, func(tb testing.TB) shiplog.Store { return openTemp(tb) })
}

func TestDriver(t *testing.T) {
	ledgertest.RunDriverTests(t, func(t *testing.T) ledger.Driver { return openTemp(t).Driver() })
}
