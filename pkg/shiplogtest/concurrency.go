package shiplogtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// RunStoreConcurrencyTests runs the tests of the Store contract that need a backend which
// isolates concurrent conditional writes as DynamoDB does (memory, bbolt, DynamoDB Local; not
// moto, whose transactions are not isolated), against empty stores made by newStore.
func RunStoreConcurrencyTests(t *testing.T, newStore func(t *testing.T) shiplog.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s shiplog.Store)
	}{
		{"ConcurrentWritesOfOneVersion", testConcurrentWritesOfOneVersion},
		{"ConcurrentDeploysToOneEnvironment", testConcurrentDeploys},
		{"ConcurrentReleasesWithOneKey", testConcurrentReleaseKey},
		{"ConcurrentCreateReleaseWithOneKey", testConcurrentCreateReleaseWithOneKey},
		{"RaceRegistrationsOntoAFullRepository", testRaceRepositoryLimit},
		{"RaceFirstDeployAndItsEnvironmentDropped", testRaceDeployAndDrop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// Many writers replace one version of one environment at once: exactly one wins, the others are
// refused with ErrVersionConflict, and the store holds the winner's state and deployment only.
func testConcurrentWritesOfOneVersion(t *testing.T, s shiplog.Store) {
	const n = 16
	p := newProject("p")
	putProjects(t, s, p)
	r := newRelease(p, 1)
	createReleases(t, s, r)
	first := newDeployment(p, r, "stage", 1, 0)
	recordDeployments(t, s, first)

	writes := make([]shiplog.EnvironmentWrite, n)
	for i := range writes {
		writes[i] = newDeployment(p, r, "stage", 100+i, first.State.Version)
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			<-start
			errs[i] = s.WriteEnvironment(t.Context(), writes[i])
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("concurrent writes of version %d: both %d and %d committed", first.State.Version, winner, i)
		case err == nil:
			winner = i
		case shiplog.IsKind(err, shiplog.Unavailable):
			// A store may shed a write it could not serialize; it must then have written nothing.
		case !errors.Is(err, shiplog.ErrVersionConflict):
			t.Errorf("concurrent write %d: got %v, want nil or ErrVersionConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("concurrent writes of version %d: none committed", first.State.Version)
	}
	w := writes[winner]
	diff(t, "state after concurrent writes of one version", states(t, s, "p"), []shiplog.EnvironmentState{w.State})
	diff(t, "release after concurrent writes of one version", getRelease(t, s, "p", r.ID), deployed(r, first, w))
	deps, _ := allDeployments(t, s, "p", "stage", 100)
	diff(t, "deployments after concurrent writes of one version", deps, []shiplog.DeploymentRecord{record(w), record(first)})
}

// concurrentDeploys is how many deploys to one environment testConcurrentDeploys and
// BenchmarkConcurrentDeploys start at once.
const concurrentDeploys = 64

// Deploys to one environment take turns through the Service: started all at once, every one
// succeeds, each is recorded once, and the environment and its parameters end on the newest.
func testConcurrentDeploys(t *testing.T, s shiplog.Store) {
	ctx := t.Context()
	p := newProject("p")
	putProjects(t, s, p)
	r1, r2 := newRelease(p, 1), newRelease(p, 2)
	createReleases(t, s, r1, r2)
	params := NewMemoryParameters()
	svc := shiplog.NewService(params, s, nil, nil)
	// The subject is that no deploy is refused or lost, not how fast the backend is: each waits
	// its turn for as long as the test may run. Deploys in turn take bbolt well under a second and
	// DynamoDB Local a few on an idle machine, but minutes at load 25 on two cores, where a fixed
	// two minutes failed ("5 attempts in 2m2s lost the race"). make bench measures them with the
	// default wait.
	svc.DeployWait = Patience(t)

	results := make([]shiplog.DeployResult, concurrentDeploys)
	errs := make([]error, concurrentDeploys)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrentDeploys {
		// Alternate the releases, so that every deploy changes the parameters and takes the lock.
		r := []shiplog.Release{r1, r2}[i%2]
		wg.Go(func() {
			<-start
			results[i], errs[i] = svc.Deploy(ctx, shiplog.DeployInput{
				ProjectID: "p", ReleaseID: r.ID, Environment: "stage",
				Description: fmt.Sprintf("deploy %d", i), RequestedBy: bob,
			})
		})
	}
	close(start)
	wg.Wait()
	ids := map[string]bool{}
	for i, err := range errs {
		mustOK(t, fmt.Sprintf("concurrent deploy %d", i), err)
		ids[results[i].Deployment.ID] = true
	}
	if len(ids) != concurrentDeploys {
		t.Fatalf("concurrent deploys: got %d distinct deployment ids, want %d", len(ids), concurrentDeploys)
	}

	deps, _ := allDeployments(t, s, "p", "stage", 100)
	if len(deps) != concurrentDeploys {
		t.Fatalf("deployments listed after %d concurrent deploys: got %d", concurrentDeploys, len(deps))
	}
	for _, d := range deps {
		if !ids[d.ID] {
			t.Errorf("listed deployment %s: no deploy answered it", d.ID)
		}
	}
	st := states(t, s, "p")
	if len(st) != 1 {
		t.Fatalf("states after concurrent deploys: got %d, want 1", len(st))
	}
	newest := deps[0]
	if st[0].DeploymentID != newest.ID || st[0].ReleaseID != newest.ReleaseID {
		t.Errorf("environment after concurrent deploys: at deployment %s of %s, want the newest recorded, %s of %s",
			st[0].DeploymentID, st[0].ReleaseID, newest.ID, newest.ReleaseID)
	}
	if len(st[0].Pending) != 0 || st[0].LockedUntil != 0 {
		t.Errorf("environment after concurrent deploys: pending %v, locked until %d; want settled", st[0].Pending, st[0].LockedUntil)
	}
	// Each deploy wrote the state once to record, and again to settle if it changed parameters.
	if v := st[0].Version; v < concurrentDeploys || v > 2*concurrentDeploys {
		t.Errorf("environment version after %d deploys: got %d, want %d to %d", concurrentDeploys, v, concurrentDeploys, 2*concurrentDeploys)
	}
	want := map[string]string{}
	for svc, uri := range st[0].Images {
		want[shiplog.ParameterName("p", "stage", svc)] = uri
	}
	diff(t, "parameters after concurrent deploys", params.All(), want)
	n := len(getRelease(t, s, "p", r1.ID).Deployments) + len(getRelease(t, s, "p", r2.ID).Deployments)
	if n != concurrentDeploys {
		t.Errorf("deployments on the releases after %d concurrent deploys: got %d", concurrentDeploys, n)
	}
	// Each deployment was replaced by the next before anyone verified it: all but the newest are
	// superseded, once each, and the newest is applied.
	for i, d := range deps {
		want := shiplog.StatusSuperseded
		if i == 0 {
			want = shiplog.StatusApplied
		}
		superseded := 0
		for _, e := range d.StatusHistory {
			if e.Status == shiplog.StatusSuperseded {
				superseded++
			}
		}
		if d.Status != want || (want == shiplog.StatusSuperseded && superseded != 1) {
			t.Errorf("deployment %s after concurrent deploys: got %s after %+v, want %s", d.ID, d.Status, d.StatusHistory, want)
		}
	}
}

// MemoryParameters is a ParameterStore in memory, for tests whose subject is another store.
type MemoryParameters struct {
	mu sync.Mutex
	m  map[string]string
}

// NewMemoryParameters returns an empty MemoryParameters.
func NewMemoryParameters() *MemoryParameters { return &MemoryParameters{m: map[string]string{}} }

// All returns a copy of every parameter.
func (p *MemoryParameters) All() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.m)
}

// GetParameter implements shiplog.ParameterStore.
func (p *MemoryParameters) GetParameter(_ context.Context, name string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[name]
	if !ok {
		return "", shiplog.Errorf(shiplog.NotFound, "parameter %s does not exist", name)
	}
	return v, nil
}

// GetParameters implements shiplog.ParameterStore.
func (p *MemoryParameters) GetParameters(_ context.Context, names []string) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	for _, n := range names {
		if v, ok := p.m[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

// GetParametersByPath implements shiplog.ParameterStore.
func (p *MemoryParameters) GetParametersByPath(_ context.Context, path string) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	for n, v := range p.m {
		if rest, ok := strings.CutPrefix(n, path); ok && rest != "" && !strings.Contains(rest, "/") {
			out[n] = v
		}
	}
	return out, nil
}

// PutParameters implements shiplog.ParameterStore.
func (p *MemoryParameters) PutParameters(_ context.Context, params map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	maps.Copy(p.m, params)
	return nil
}

// BenchmarkConcurrentDeploys starts 64 deploys at once to one environment of a store made by
// newStore, through a Service with the defaults every function runs with (DeployWait and all),
// and fails unless every one succeeds. It reports the time until the last one answered and the
// slowest deploy's wait, for make bench.
func BenchmarkConcurrentDeploys(b *testing.B, newStore func(testing.TB) shiplog.Store) {
	for range b.N {
		b.StopTimer()
		s := newStore(b)
		ctx := b.Context()
		p := newProject("p")
		r1, r2 := newRelease(p, 1), newRelease(p, 2)
		if err := s.PutProject(ctx, p, projectEvent(p)); err != nil {
			b.Fatal(err)
		}
		for _, r := range []shiplog.Release{r1, r2} {
			if err := s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: releaseEvent(r)}); err != nil {
				b.Fatal(err)
			}
		}
		svc := shiplog.NewService(NewMemoryParameters(), s, nil, nil)
		errs := make([]error, concurrentDeploys)
		took := make([]time.Duration, concurrentDeploys)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range concurrentDeploys {
			r := []shiplog.Release{r1, r2}[i%2]
			wg.Go(func() {
				<-start
				t0 := time.Now()
				_, errs[i] = svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "p", ReleaseID: r.ID, Environment: "stage"})
				took[i] = time.Since(t0)
			})
		}
		b.StartTimer()
		t0 := time.Now()
		close(start)
		wg.Wait()
		all := time.Since(t0)
		b.StopTimer()
		failed := 0
		for _, err := range errs {
			if err != nil {
				failed++
				b.Logf("deploy refused: %v", err)
			}
		}
		if failed > 0 {
			b.Fatalf("%d of %d concurrent deploys to one environment failed", failed, concurrentDeploys)
		}
		b.ReportMetric(float64(concurrentDeploys), "deploys-succeeded")
		b.ReportMetric(float64(all.Milliseconds()), "ms-all-answered")
		b.ReportMetric(float64(slices.Max(took).Milliseconds()), "ms-slowest-deploy")
	}
}
