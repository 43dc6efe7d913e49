package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// deployStack is the local stack's Service (localService, as serve wires it: the logging store
// included) on one embedded store, with a project of services and two releases that differ in
// all.
type deployStack struct {
	store  *bolt.Store
	path   string // the store's file
	svc    *shiplog.Service
	r1, r2 shiplog.Release
}

func newDeployStack(t testing.TB, services int) deployStack {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shiplog.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	svc := localService(s, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	p := shiplog.Project{ID: "p", Name: "P", Manifest: []byte(`{}`), Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}}}
	for i := range services {
		p.ImageRepositories = append(p.ImageRepositories, shiplog.ImageRepository{ID: fmt.Sprintf("team/svc-%d", i), Services: []string{fmt.Sprintf("svc-%d", i)}})
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	release := func(n int) shiplog.Release {
		params := map[string]string{}
		for i := range services {
			params[shiplog.ParameterName("p", "latest", fmt.Sprintf("svc-%d", i))] = fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/svc-%d@sha256:%064d", i, n)
		}
		if err := s.PutParameters(ctx, params); err != nil {
			t.Fatal(err)
		}
		r, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "p"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	return deployStack{store: s, path: path, svc: svc, r1: release(1), r2: release(2)}
}

// TestDeployIsOneWrite: through the local stack's wiring a deploy records the deployment, writes
// its parameters and settles the environment in one write transaction of the file, and ends
// exactly where the three-write deploy of the other stores ends.
func TestDeployIsOneWrite(t *testing.T) {
	st := newDeployStack(t, 5)
	ctx := t.Context()
	for i, r := range []shiplog.Release{st.r1, st.r2, st.r2} {
		before := st.store.WriteTransactions()
		res, err := st.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "p", ReleaseID: r.ID, Environment: "stage"})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.store.WriteTransactions() - before; got != 1 {
			t.Errorf("deploy %d: %d write transactions, want 1", i, got)
		}
		d := res.Deployment
		if d.Status != shiplog.StatusApplied || len(d.StatusHistory) != 2 {
			t.Errorf("deploy %d: status %q after %v, want applied", i, d.Status, d.StatusHistory)
		}
		params, err := st.store.GetParametersByPath(ctx, shiplog.ParameterPath("p", "stage"))
		if err != nil {
			t.Fatal(err)
		}
		for svc, uri := range r.Images {
			if got := params[shiplog.ParameterName("p", "stage", svc)]; got != uri {
				t.Errorf("deploy %d: %s is %q, want %q", i, svc, got, uri)
			}
		}
		envs, err := st.svc.Environments(ctx, "p")
		if err != nil {
			t.Fatal(err)
		}
		cur := envs[0].Current
		if cur == nil || cur.DeploymentID != d.ID || len(cur.Pending) != 0 || cur.LockedUntil != 0 || envs[0].Status != shiplog.StatusApplied || len(envs[0].Drift) != 0 {
			t.Errorf("deploy %d: stage is %+v (status %q, drift %v), want settled at %s, applied, in sync", i, cur, envs[0].Status, envs[0].Drift, d.ID)
		}
	}
	events, err := st.svc.Events(ctx, "p", shiplog.EventFilter{}, shiplog.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, ev := range events.Items {
		count[ev.Type]++
	}
	// Three deploys, each requested and applied; the first two replaced by the next.
	if count[shiplog.EventDeploymentRequested] != 3 || count[shiplog.EventDeploymentApplied] != 3 || count[shiplog.EventDeploymentSuperseded] != 2 {
		t.Errorf("deployment events: got %v, want 3 requested, 3 applied, 2 superseded", count)
	}
}

// BenchmarkDeployWrites measures a deploy that changes every one of 10 services through the local
// stack's wiring: its write transactions of the file (each an fsync) and its time.
func BenchmarkDeployWrites(b *testing.B) {
	st := newDeployStack(b, 10)
	ctx := b.Context()
	n := 0
	before := st.store.WriteTransactions()
	start := time.Now()
	for b.Loop() {
		r := []shiplog.Release{st.r1, st.r2}[n%2]
		if _, err := st.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "p", ReleaseID: r.ID, Environment: "stage"}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	writes := float64(st.store.WriteTransactions()-before) / float64(n)
	b.ReportMetric(writes, "write-tx/op")
	b.Logf("deploy of 10 changed services through the local stack: %g write transactions per deploy (was 3: record, parameters, settle), %s per deploy over %d deploys",
		writes, (time.Since(start) / time.Duration(n)).Round(time.Microsecond), n)
}
