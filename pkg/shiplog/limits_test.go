package shiplog_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// bigProject is a project of one repository feeding n services, with envs environments.
func bigProject(id, repo string, n, envs int) shiplog.Project {
	p := shiplog.Project{ID: id, Name: id, ImageRepositories: []shiplog.ImageRepository{{ID: repo}}}
	for i := range envs {
		e := fmt.Sprintf("env-%03d", i)
		p.Environments = append(p.Environments, shiplog.Environment{ID: e, Name: e})
	}
	for i := range n {
		p.ImageRepositories[0].Services = append(p.ImageRepositories[0].Services, fmt.Sprintf("svc-%04d", i))
	}
	return p
}

// TestLimits: every free-text field and every count has a limit, refused with the field and the
// limit, before anything is written; a project at the limits is accepted.
func TestLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	withEnvName := func(name string) shiplog.Project {
		p := bigProject("big", "team/app", 1, 1)
		p.Environments[0].Name = name
		return p
	}
	withManifest := func(n int) shiplog.Project {
		p := bigProject("big", "team/app", 1, 1)
		p.Manifest = []byte(`"` + long(n-2) + `"`)
		return p
	}
	tests := []struct {
		name string
		p    shiplog.Project
		want []string // "" for accepted
	}{
		{"environment name at the limit", withEnvName(long(shiplog.MaxNameLength)), nil},
		{"environment name of 100,000 characters", withEnvName(long(100_000)), []string{"big.environments[0].name", "100000 bytes", fmt.Sprint(shiplog.MaxNameLength)}},
		{"services at the limit", bigProject("big", "team/app", shiplog.MaxServicesPerProject, 1), nil},
		{"one service too many", bigProject("big", "team/app", shiplog.MaxServicesPerProject+1, 1), []string{"big.image_repositories", fmt.Sprint(shiplog.MaxServicesPerProject)}},
		{"environments at the limit", bigProject("big", "team/app", 1, shiplog.MaxEnvironments), nil},
		{"one environment too many", bigProject("big", "team/app", 1, shiplog.MaxEnvironments+1), []string{"big.environments", fmt.Sprint(shiplog.MaxEnvironments)}},
		{"manifest entry at the limit", withManifest(shiplog.MaxManifestEntryBytes), nil},
		{"manifest entry too big", withManifest(shiplog.MaxManifestEntryBytes + 1), []string{"big: the manifest entry", fmt.Sprint(shiplog.MaxManifestEntryBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			_, err := h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{tt.p}})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("RegisterProjects: %v", err)
				}
				return
			}
			wantError(t, "RegisterProjects", err, shiplog.Invalid, tt.want...)
			if _, err := h.svc.Project(t.Context(), "big"); !shiplog.IsKind(err, shiplog.NotFound) {
				t.Errorf("project after a refused registration: got %v, want NotFound", err)
			}
		})
	}
}

// TestServicesPerRepository: one repository may feed at most MaxServicesPerRepository services
// over every project, since one push to it writes a parameter for each.
func TestServicesPerRepository(t *testing.T) {
	h := newHarness(t)
	half := shiplog.MaxServicesPerRepository / 2
	reg := func(p shiplog.Project) error {
		_, err := h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}})
		return err
	}
	if err := reg(bigProject("one", "shared/app", half, 1)); err != nil {
		t.Fatal(err)
	}
	if err := reg(bigProject("two", "shared/app", shiplog.MaxServicesPerRepository-half, 1)); err != nil {
		t.Fatalf("filling the repository to its limit: %v", err)
	}
	err := reg(bigProject("three", "shared/app", 1, 1))
	wantError(t, "one service over the limit", err, shiplog.Conflict, `"shared/app"`, fmt.Sprint(shiplog.MaxServicesPerRepository))
	// Re-registering a project counts its own services once.
	if err := reg(bigProject("two", "shared/app", shiplog.MaxServicesPerRepository-half, 1)); err != nil {
		t.Errorf("re-registering a project at the limit: %v", err)
	}
}

// gatedParams holds every PutParameters call until PushConcurrency of them are in flight at once,
// and records the most that were. If they never are (the writes go fewer at a time than they
// should), the first call to wait gateWait opens the gate for every call, so that the test then
// fails on the count once, rather than waiting on every call. gateWait is long: on a loaded
// machine the goroutines that make PushConcurrency calls can take a while to all be running.
type gatedParams struct {
	shiplog.ParameterStore
	mu       sync.Mutex
	inFlight int
	most     int
	open     chan struct{}
	opened   bool
}

const gateWait = 10 * time.Second

func (g *gatedParams) PutParameters(ctx context.Context, params map[string]string) error {
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	if g.inFlight == shiplog.PushConcurrency && !g.opened {
		g.opened = true
		close(g.open)
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(gateWait):
		g.mu.Lock()
		if !g.opened {
			g.opened = true
			close(g.open)
		}
		g.mu.Unlock()
	}
	err := g.ParameterStore.PutParameters(ctx, params)
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	return err
}

// TestRecordPushWritesInParallel: a push to a repository feeding many services writes their
// parameters PushConcurrency at a time (never more), so that it finishes well inside the function's
// timeout, and every parameter ends at the image.
func TestRecordPushWritesInParallel(t *testing.T) {
	h := newHarness(t)
	n := shiplog.MaxServicesPerRepository
	if _, err := h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{bigProject("wide", "team/wide", n, 1)}}); err != nil {
		t.Fatal(err)
	}
	g := &gatedParams{ParameterStore: h.store, open: make(chan struct{})}
	h.svc.Params = g
	p := loadPush(t, "ecr-push-tagged.json")
	p.Repository, p.Time = "team/wide", start
	out, err := h.svc.RecordPush(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Updated) != n {
		t.Errorf("updated: got %d parameters, want %d", len(out.Updated), n)
	}
	for i := 1; i < len(out.Updated); i++ {
		if out.Updated[i-1] >= out.Updated[i] {
			t.Fatalf("updated: not in order at %d: %s, %s", i, out.Updated[i-1], out.Updated[i])
		}
	}
	if g.most != shiplog.PushConcurrency {
		t.Errorf("parameter writes in flight at once: got at most %d, want %d", g.most, shiplog.PushConcurrency)
	}
	got := h.paramsUnder(t, "wide", "latest")
	if len(got) != n {
		t.Errorf("parameters under /wide/images/latest/: got %d, want %d", len(got), n)
	}
	for svc, uri := range got {
		if uri != p.ImageURI() {
			t.Errorf("%s: got %s, want %s", svc, uri, p.ImageURI())
		}
	}
}

// slowParams adds a fixed latency to every call, as SSM's round trips do.
type slowParams struct {
	shiplog.ParameterStore
	latency time.Duration
}

func (s slowParams) GetParameter(ctx context.Context, name string) (string, error) {
	time.Sleep(s.latency)
	return s.ParameterStore.GetParameter(ctx, name)
}

func (s slowParams) PutParameters(ctx context.Context, params map[string]string) error {
	time.Sleep(s.latency)
	return s.ParameterStore.PutParameters(ctx, params)
}

// BenchmarkRecordPushWide is one push to a repository that feeds MaxServicesPerRepository
// services, with 20 ms per parameter call (SSM's order of magnitude): the figure to hold against
// the ecr-push function's timeout.
func BenchmarkRecordPushWide(b *testing.B) {
	h := newHarness(b)
	n := shiplog.MaxServicesPerRepository
	if _, err := h.svc.RegisterProjects(b.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{bigProject("wide", "team/wide", n, 1)}}); err != nil {
		b.Fatal(err)
	}
	h.svc.Params = slowParams{ParameterStore: h.store, latency: 20 * time.Millisecond}
	p := shiplog.ImagePush{Account: "760097843905", Region: "eu-west-1", Repository: "team/wide", Tag: "v1",
		Action: "PUSH", Result: "SUCCESS", Time: start}
	for i := 0; b.Loop(); i++ {
		p.Digest, p.Time = digest(i+1), p.Time.Add(time.Second)
		h.clock.Advance(time.Second)
		out, err := h.svc.RecordPush(b.Context(), p)
		if err != nil || len(out.Updated) != n {
			b.Fatalf("RecordPush: %d updated, %v", len(out.Updated), err)
		}
	}
	b.ReportMetric(float64(n), "services/push")
}
