package shiplog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The storage project of testdata/wellcome_project.json, and its services sorted.
var storageServices = []string{"archivist", "bag-register", "bag_verifier_post_replication", "bag_verifier_pre_replication", "notifier"}

var (
	alice = shiplog.Person{ID: "arn:aws:iam::760097843905:user/alice", Name: "Alice"}
	start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
)

// Harness.

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingParams wraps a ParameterStore to record every PutParameters call, and to fail them on
// demand.
type countingParams struct {
	shiplog.ParameterStore
	mu   sync.Mutex
	puts []map[string]string
	fail error
	gets int // GetParameters calls
}

func (c *countingParams) GetParameters(ctx context.Context, names []string) (map[string]string, error) {
	c.mu.Lock()
	c.gets++
	c.mu.Unlock()
	return c.ParameterStore.GetParameters(ctx, names)
}

func (c *countingParams) PutParameters(ctx context.Context, params map[string]string) error {
	c.mu.Lock()
	c.puts = append(c.puts, maps.Clone(params))
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return fail
	}
	return c.ParameterStore.PutParameters(ctx, params)
}

// takePuts returns the PutParameters calls made since the last takePuts.
func (c *countingParams) takePuts() []map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	puts := c.puts
	c.puts = nil
	return puts
}

func (c *countingParams) setFail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = err
}

// fakeRegistry reports the images in missing as gone, keeps the tags TagImages moves, and
// records the calls.
type fakeRegistry struct {
	mu      sync.Mutex
	missing map[string]bool
	checked [][]string
	tagged  map[string][]string        // tag -> images of the last TagImages call
	tags    map[string]map[string]bool // tag -> images carrying it
	onTag   func()                     // if set, called as TagImages begins
}

func (r *fakeRegistry) CheckImages(ctx context.Context, images []string, tag string) (shiplog.ImageCheck, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked = append(r.checked, images)
	var out shiplog.ImageCheck
	for _, img := range images {
		switch {
		case r.missing[img]:
			out.Missing = append(out.Missing, img)
		case tag != "" && !r.tags[tag][img]:
			out.Untagged = append(out.Untagged, img)
		}
	}
	return out, nil
}

func (r *fakeRegistry) TagImages(ctx context.Context, images []string, tag string) error {
	if r.onTag != nil {
		r.onTag()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tagged == nil {
		r.tagged, r.tags = map[string][]string{}, map[string]map[string]bool{}
	}
	r.tagged[tag] = images
	if r.tags[tag] == nil {
		r.tags[tag] = map[string]bool{}
	}
	for _, img := range images {
		r.tags[tag][img] = true
	}
	return nil
}

type harness struct {
	svc    *shiplog.Service
	store  *memstore.Store
	params *countingParams
	clock  *clock
	// onSleep, if set, runs at each wait of the Service, which advances the clock instead of
	// sleeping.
	onSleep func(d time.Duration)
	sleeps  int
}

// newHarness returns a Service on a fresh store in memory with the example manifest registered, a
// clock at start that moves only when told, and ids 01TESTID000…1, …2, … in call order.
func newHarness(t testing.TB) *harness {
	t.Helper()
	store := memstore.New()
	h := &harness{store: store, params: &countingParams{ParameterStore: store}, clock: &clock{now: start}}
	var mu sync.Mutex
	n := 0
	h.svc = &shiplog.Service{
		Params: h.params,
		Store:  store,
		Now:    h.clock.Now,
		NewID: func() string {
			mu.Lock()
			defer mu.Unlock()
			n++
			return testID(n)
		},
		Sleep: func(ctx context.Context, d time.Duration) error {
			h.sleeps++
			h.clock.Advance(d)
			if h.onSleep != nil {
				h.onSleep(d)
			}
			return ctx.Err()
		},
		LockTTL:    2 * time.Minute,
		DeployWait: 20 * time.Second,
		Log:        slog.New(slog.DiscardHandler),
		Automate:   true,
	}
	projects, err := manifest.Parse(readFile(t, "wellcome_project.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatalf("RegisterProjects: %v", err)
	}
	return h
}

// register registers one project from its manifest entry.
func (h *harness) register(t *testing.T, id, entry string) error {
	t.Helper()
	p, err := manifest.ParseProject(id, []byte(entry))
	if err != nil {
		t.Fatalf("ParseProject(%s): %v", id, err)
	}
	_, err = h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}})
	return err
}

func testID(n int) string { return fmt.Sprintf("01TESTID%018d", n) }

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// loadPush reads a sample EventBridge event from testdata as an ImagePush.
func loadPush(t *testing.T, name string) shiplog.ImagePush {
	t.Helper()
	var e events.ECRImageActionEvent
	if err := json.Unmarshal(readFile(t, name), &e); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return shiplog.ImagePush{
		Account:    e.Account,
		Region:     e.Region,
		Repository: e.Detail.RepositoryName,
		Digest:     e.Detail.ImageDigest,
		Tag:        e.Detail.ImageTag,
		Action:     e.Detail.ActionType,
		Result:     e.Detail.Result,
		Time:       e.Time,
	}
}

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func image(repository string, n int) string {
	return "760097843905.dkr.ecr.eu-west-1.amazonaws.com/" + repository + "@" + digest(n)
}

// seedLabel puts an image for each service of the storage project under a label, bypassing the
// count of PutParameters calls.
func (h *harness) seedLabel(t *testing.T, label string, n int, services ...string) map[string]string {
	t.Helper()
	if len(services) == 0 {
		services = storageServices
	}
	images := map[string]string{}
	params := map[string]string{}
	for _, svc := range services {
		images[svc] = image("uk.ac.wellcome/"+svc, n)
		params[shiplog.ParameterName("storage", label, svc)] = images[svc]
	}
	if err := h.store.PutParameters(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	return images
}

// paramsUnder returns the parameters under /{project}/images/{label}/, keyed by service.
func (h *harness) paramsUnder(t *testing.T, project, label string) map[string]string {
	t.Helper()
	path := shiplog.ParameterPath(project, label)
	got, err := h.store.GetParametersByPath(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, v := range got {
		out[strings.TrimPrefix(name, path)] = v
	}
	return out
}

func (h *harness) createRelease(t *testing.T, n int) shiplog.Release {
	t.Helper()
	h.seedLabel(t, "latest", n)
	r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice})
	if err != nil {
		t.Fatalf("CreateRelease: %v", err)
	}
	h.clock.Advance(time.Minute)
	return r
}

func (h *harness) deploy(t *testing.T, release, env string) shiplog.DeployResult {
	t.Helper()
	res, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: release, Environment: env, RequestedBy: alice})
	if err != nil {
		t.Fatalf("Deploy %s to %s: %v", release, env, err)
	}
	h.clock.Advance(time.Minute)
	return res
}

// wantError fails the test unless err has kind k and its message contains each of parts.
func wantError(t *testing.T, what string, err error, k shiplog.Kind, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, k)
	}
	if got := shiplog.KindOf(err); got != k {
		t.Errorf("%s: got kind %v (%v), want %v", what, got, err, k)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got error %q, want it to contain %q", what, err, p)
		}
	}
}

// diff compares with nil and empty alike; tests that care about the difference use cmp.Diff.
func diff(t *testing.T, what string, got, want any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(opts, cmpopts.EquateEmpty())...); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

func TestRegisterProjectsRejectsAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	before, err := h.svc.Projects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The second project is bad: the first must not be registered either.
	good := shiplog.Project{ID: "aaa", Name: "A", Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}},
		ImageRepositories: []shiplog.ImageRepository{{ID: "a/b", Services: []string{"b"}}}}
	bad := good
	bad.ID, bad.Environments = "zzz", []shiplog.Environment{{ID: "st age", Name: "st age"}}
	_, err = h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{good, bad}})
	wantError(t, "RegisterProjects", err, shiplog.Invalid, "zzz.environments[0].id")
	after, err := h.svc.Projects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "projects after a refused registration", after, before)
}

// TestRegisterRefusesReservedEnvironment: an environment named like a label that shiplog writes
// itself would have deploys overwrite the pushed images (and the next release snapshot an old one).
func TestRegisterRefusesReservedEnvironment(t *testing.T) {
	h := newHarness(t)
	before := h.paramsUnder(t, "storage", "latest")
	for _, id := range shiplog.ReservedEnvironmentIDs {
		p := shiplog.Project{ID: "storage", Name: "S", Environments: []shiplog.Environment{{ID: "stage", Name: "Staging"}, {ID: id, Name: id}},
			ImageRepositories: []shiplog.ImageRepository{{ID: "uk.ac.wellcome/archivist", Services: []string{"archivist"}}}}
		_, err := h.svc.RegisterProjects(t.Context(), shiplog.RegisterInput{Projects: []shiplog.Project{p}})
		wantError(t, "RegisterProjects", err, shiplog.Invalid, "storage.environments[1].id", "is reserved")
	}
	if !slices.Contains(shiplog.ReservedEnvironmentIDs, shiplog.LatestLabel) {
		t.Errorf("ReservedEnvironmentIDs %v lacks %q, the label pushes write", shiplog.ReservedEnvironmentIDs, shiplog.LatestLabel)
	}
	p, err := h.svc.Project(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "storage environments", p.EnvironmentIDs(), []string{"stage", "prod"})
	_, err = h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: shiplog.LatestLabel})
	wantError(t, "Deploy to latest", err, shiplog.Invalid, "environment", "is reserved")
	diff(t, "latest images", h.paramsUnder(t, "storage", "latest"), before)
}

// Pushes.

func TestRecordPushSampleEvents(t *testing.T) {
	const archivist = "760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/archivist@sha256:3f6c2a9d1b8e4f7a0c5d9e2b1a7f6c3d8e4b2a1f9c7d6e5b4a3c2d1e0f9a8b7c"
	tests := []struct {
		file        string
		wantIgnored string // part of the reason, "" if not ignored
		wantParams  map[string]string
	}{
		{"ecr-push-tagged.json", "", map[string]string{"archivist": archivist}},
		{"ecr-push-untagged.json", "untagged", nil},
		{"ecr-push-failed.json", "FAILURE", nil},
		{"ecr-delete.json", "DELETE", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h := newHarness(t)
			out, err := h.svc.RecordPush(t.Context(), loadPush(t, tt.file))
			if err != nil {
				t.Fatalf("RecordPush: %v", err)
			}
			if tt.wantIgnored != "" {
				if !strings.Contains(out.Ignored, tt.wantIgnored) {
					t.Errorf("Ignored: got %q, want it to mention %q", out.Ignored, tt.wantIgnored)
				}
				if len(out.Updated) != 0 {
					t.Errorf("Updated: got %v, want none", out.Updated)
				}
			} else {
				diff(t, "outcome", out, shiplog.PushOutcome{Image: archivist, Updated: []string{"/storage/images/latest/archivist"}, Source: &tagSource})
			}
			diff(t, "parameters under latest", h.paramsUnder(t, "storage", "latest"), tt.wantParams)
			if tt.wantIgnored == "" {
				rec, err := h.store.LatestImage(t.Context(), "storage", "archivist")
				if err != nil {
					t.Fatal(err)
				}
				want := shiplog.ImageRecord{ProjectID: "storage", ServiceID: "archivist", URI: archivist, PushedAt: time.Date(2026, 11, 20, 9, 15, 2, 0, time.UTC).Unix(), Source: &tagSource}
				diff(t, "push record", rec, want)
			}
		})
	}
}

// tagSource is the source the sample push's tag, ref.5d2a9c1e7b3f, names.
var tagSource = shiplog.ImageSource{Revision: "5d2a9c1e7b3f", RevisionFrom: shiplog.SourceFromTag}

func TestRecordPush(t *testing.T) {
	tagged := func(t *testing.T, repository string, n int, at time.Duration) shiplog.ImagePush {
		p := loadPush(t, "ecr-push-tagged.json")
		p.Repository, p.Digest, p.Time = repository, digest(n), p.Time.Add(at)
		return p
	}
	tests := []struct {
		name string
		// extra is a manifest entry registered as project "extra" before the pushes, if set.
		extra       string
		pushes      func(t *testing.T) []shiplog.ImagePush
		wantLast    shiplog.PushOutcome // outcome of the last push
		wantLatest  map[string]string   // storage's parameters under latest afterwards
		wantExtra   map[string]string   // extra's parameters under latest afterwards
		wantPutsAll int                 // PutParameters calls over all the pushes
	}{
		{
			name: "a repository feeding two services sets both",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				return []shiplog.ImagePush{tagged(t, "uk.ac.wellcome/bag_verifier", 1, 0)}
			},
			wantLast: shiplog.PushOutcome{Image: image("uk.ac.wellcome/bag_verifier", 1), Updated: []string{
				"/storage/images/latest/bag_verifier_post_replication", "/storage/images/latest/bag_verifier_pre_replication"}},
			wantLatest: map[string]string{
				"bag_verifier_pre_replication":  image("uk.ac.wellcome/bag_verifier", 1),
				"bag_verifier_post_replication": image("uk.ac.wellcome/bag_verifier", 1),
			},
			wantPutsAll: 2,
		},
		{
			name:  "a repository claimed by two projects sets both",
			extra: `{"name": "Extra", "environments": [{"id": "stage"}], "image_repositories": [{"id": "uk.ac.wellcome/notifier", "services": ["alerts"]}]}`,
			pushes: func(t *testing.T) []shiplog.ImagePush {
				return []shiplog.ImagePush{tagged(t, "uk.ac.wellcome/notifier", 1, 0)}
			},
			wantLast: shiplog.PushOutcome{Image: image("uk.ac.wellcome/notifier", 1), Updated: []string{
				"/extra/images/latest/alerts", "/storage/images/latest/notifier"}},
			wantLatest:  map[string]string{"notifier": image("uk.ac.wellcome/notifier", 1)},
			wantExtra:   map[string]string{"alerts": image("uk.ac.wellcome/notifier", 1)},
			wantPutsAll: 2,
		},
		{
			name: "an unclaimed repository is ignored",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				return []shiplog.ImagePush{tagged(t, "uk.ac.wellcome/nobody", 1, 0)}
			},
			wantLast: shiplog.PushOutcome{Updated: []string{}, Ignored: `no registered project claims repository "uk.ac.wellcome/nobody"`},
		},
		{
			name: "an older push after a newer one is ignored",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				return []shiplog.ImagePush{
					tagged(t, "uk.ac.wellcome/archivist", 2, time.Minute),
					tagged(t, "uk.ac.wellcome/archivist", 1, 0),
				}
			},
			wantLast: shiplog.PushOutcome{Image: image("uk.ac.wellcome/archivist", 1), Updated: []string{},
				Skipped: []string{"/storage/images/latest/archivist"}},
			wantLatest:  map[string]string{"archivist": image("uk.ac.wellcome/archivist", 2)},
			wantPutsAll: 1,
		},
		{
			name: "another image pushed in the same second as the recorded one is ignored",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				return []shiplog.ImagePush{
					tagged(t, "uk.ac.wellcome/archivist", 1, 0),
					tagged(t, "uk.ac.wellcome/archivist", 2, 0),
				}
			},
			wantLast: shiplog.PushOutcome{Image: image("uk.ac.wellcome/archivist", 2), Updated: []string{},
				Skipped: []string{"/storage/images/latest/archivist"}},
			wantLatest:  map[string]string{"archivist": image("uk.ac.wellcome/archivist", 1)},
			wantPutsAll: 1,
		},
		{
			name: "a newer push replaces an older one",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				return []shiplog.ImagePush{
					tagged(t, "uk.ac.wellcome/archivist", 1, 0),
					tagged(t, "uk.ac.wellcome/archivist", 2, time.Second),
				}
			},
			wantLast:    shiplog.PushOutcome{Image: image("uk.ac.wellcome/archivist", 2), Updated: []string{"/storage/images/latest/archivist"}},
			wantLatest:  map[string]string{"archivist": image("uk.ac.wellcome/archivist", 2)},
			wantPutsAll: 2,
		},
		{
			// tag_deployed_images moves env.prod onto the deployed (older) image: ECR reports that
			// as a push of the old digest, dated now.
			name: "an env. tag moved by a deploy never moves latest",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				deployed := tagged(t, "uk.ac.wellcome/archivist", 1, 0)
				newest := tagged(t, "uk.ac.wellcome/archivist", 2, time.Minute)
				moved := tagged(t, "uk.ac.wellcome/archivist", 1, time.Hour)
				moved.Tag = "env.prod"
				return []shiplog.ImagePush{deployed, newest, moved}
			},
			wantLast: shiplog.PushOutcome{Updated: []string{},
				Ignored: `tag "env.prod" is one shiplog moves onto deployed images (tag_deployed_images), not a new build`},
			wantLatest:  map[string]string{"archivist": image("uk.ac.wellcome/archivist", 2)},
			wantPutsAll: 2,
		},
		{
			name: "another tag on the newest digest leaves latest",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				first := tagged(t, "uk.ac.wellcome/archivist", 1, 0)
				retag := tagged(t, "uk.ac.wellcome/archivist", 1, time.Minute)
				retag.Tag = "v1.2.3"
				return []shiplog.ImagePush{first, retag}
			},
			wantLast:    shiplog.PushOutcome{Image: image("uk.ac.wellcome/archivist", 1), Updated: []string{}},
			wantLatest:  map[string]string{"archivist": image("uk.ac.wellcome/archivist", 1)},
			wantPutsAll: 1,
		},
		{
			name: "a duplicate changes nothing",
			pushes: func(t *testing.T) []shiplog.ImagePush {
				p := tagged(t, "uk.ac.wellcome/archivist", 1, 0)
				return []shiplog.ImagePush{p, p}
			},
			wantLast:    shiplog.PushOutcome{Image: image("uk.ac.wellcome/archivist", 1), Updated: []string{}},
			wantLatest:  map[string]string{"archivist": image("uk.ac.wellcome/archivist", 1)},
			wantPutsAll: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.extra != "" {
				if err := h.register(t, "extra", tt.extra); err != nil {
					t.Fatal(err)
				}
			}
			var last shiplog.PushOutcome
			var lastTag string
			for i, p := range tt.pushes(t) {
				lastTag = p.Tag
				out, err := h.svc.RecordPush(t.Context(), p)
				if err != nil {
					t.Fatalf("RecordPush %d: %v", i, err)
				}
				last = out
			}
			// The sample push's tag, ref.5d2a9c1e7b3f, names its revision (source_test.go tests
			// the rules); an ignored push learns nothing.
			if last.Ignored == "" && lastTag == "ref.5d2a9c1e7b3f" {
				tt.wantLast.Source = &tagSource
			}
			diff(t, "outcome of the last push", last, tt.wantLast)
			diff(t, "storage parameters under latest", h.paramsUnder(t, "storage", "latest"), tt.wantLatest)
			diff(t, "extra parameters under latest", h.paramsUnder(t, "extra", "latest"), tt.wantExtra)
			if got := len(h.params.takePuts()); got != tt.wantPutsAll {
				t.Errorf("PutParameters calls: got %d, want %d", got, tt.wantPutsAll)
			}
		})
	}
}

// TestRecordPushRefusesTheFuture: a push dated ahead of the clock by more than MaxPushAhead would
// win over every real push until real time caught up (9999-12-31: forever), so it is ignored with
// the reason, and the real pushes after it still set latest.
func TestRecordPushRefusesTheFuture(t *testing.T) {
	h := newHarness(t)
	const name = "/storage/images/latest/archivist"
	push := func(n int, at time.Time) shiplog.PushOutcome {
		t.Helper()
		p := loadPush(t, "ecr-push-tagged.json")
		p.Repository, p.Digest, p.Time = "uk.ac.wellcome/archivist", digest(n), at
		out, err := h.svc.RecordPush(t.Context(), p)
		if err != nil {
			t.Fatalf("RecordPush(%v): %v", at, err)
		}
		return out
	}
	if out := push(1, start.Add(shiplog.MaxPushAhead)); len(out.Updated) != 1 || out.Ignored != "" {
		t.Errorf("push at the bound: got %+v, want it recorded", out)
	}
	for _, at := range []time.Time{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), start.Add(shiplog.MaxPushAhead + time.Second)} {
		out := push(2, at)
		if !strings.Contains(out.Ignored, "ahead of the clock") || len(out.Updated) != 0 {
			t.Errorf("push at %v: got %+v, want it ignored as ahead of the clock", at, out)
		}
	}
	if got := h.paramsUnder(t, "storage", "latest")["archivist"]; got != image("uk.ac.wellcome/archivist", 1) {
		t.Errorf("%s: got %s, want the image of the push at the bound", name, got)
	}
	h.clock.Advance(time.Hour)
	if out := push(3, h.clock.Now()); len(out.Updated) != 1 {
		t.Errorf("a real push after the refused ones: got %+v, want it recorded", out)
	}
	if got := h.paramsUnder(t, "storage", "latest")["archivist"]; got != image("uk.ac.wellcome/archivist", 3) {
		t.Errorf("%s: got %s, want the newest real push's image", name, got)
	}
}

func TestRecordPushAfterReregistering(t *testing.T) {
	h := newHarness(t)
	// storage no longer builds notifier from uk.ac.wellcome/notifier.
	entry := `{"name": "Storage service", "environments": [{"id": "stage"}], "image_repositories": [{"id": "uk.ac.wellcome/archivist"}]}`
	if err := h.register(t, "storage", entry); err != nil {
		t.Fatal(err)
	}
	p := loadPush(t, "ecr-push-tagged.json")
	p.Repository = "uk.ac.wellcome/notifier"
	out, err := h.svc.RecordPush(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Ignored, "no registered project claims") {
		t.Errorf("Ignored: got %q, want the repository unclaimed", out.Ignored)
	}
	diff(t, "parameters under latest", h.paramsUnder(t, "storage", "latest"), map[string]string(nil))
}

func TestRecordPushRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *shiplog.ImagePush)
		want   string
	}{
		{"bad digest", func(p *shiplog.ImagePush) { p.Digest = "sha256:xyz" }, "detail.image-digest"},
		{"no digest", func(p *shiplog.ImagePush) { p.Digest = "" }, "detail.image-digest"},
		{"bad repository", func(p *shiplog.ImagePush) { p.Repository = "Uk/Archivist" }, "detail.repository-name"},
		{"bad account", func(p *shiplog.ImagePush) { p.Account = "12345" }, "account"},
		{"bad region", func(p *shiplog.ImagePush) { p.Region = "EU WEST" }, "region"},
		{"no time", func(p *shiplog.ImagePush) { p.Time = time.Time{} }, "time: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			p := loadPush(t, "ecr-push-tagged.json")
			tt.change(&p)
			_, err := h.svc.RecordPush(t.Context(), p)
			wantError(t, "RecordPush", err, shiplog.Invalid, tt.want)
			if puts := h.params.takePuts(); len(puts) != 0 {
				t.Errorf("PutParameters: got %v, want none", puts)
			}
		})
	}
}

// Releases.

func TestCreateRelease(t *testing.T) {
	h := newHarness(t)
	latest := h.seedLabel(t, "latest", 1)
	stage := h.seedLabel(t, "stage", 2)
	// A service no longer in the manifest leaves its parameter behind; it is not released.
	h.seedLabel(t, "latest", 3, "retired-service")
	project, err := h.svc.Project(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		in   shiplog.CreateReleaseInput
		want shiplog.Release
	}{
		{
			name: "label defaults to latest",
			in:   shiplog.CreateReleaseInput{ProjectID: "storage", Description: "weekly release", RequestedBy: alice},
			want: shiplog.Release{Images: latest, Label: "latest", Description: "weekly release", RequestedBy: alice},
		},
		{
			name: "from label stage",
			in:   shiplog.CreateReleaseInput{ProjectID: "storage", Label: "stage", RequestedBy: alice},
			want: shiplog.Release{Images: stage, Label: "stage", RequestedBy: alice},
		},
		{
			name: "no requester is anonymous",
			in:   shiplog.CreateReleaseInput{ProjectID: "storage"},
			want: shiplog.Release{Images: latest, Label: "latest", RequestedBy: shiplog.AnonymousPerson},
		},
		{
			name: "a requester without a name is named by id",
			in:   shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "bob"}},
			want: shiplog.Release{Images: latest, Label: "latest", RequestedBy: shiplog.Person{ID: "bob", Name: "bob"}},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.clock.Advance(time.Minute)
			got, err := h.svc.CreateRelease(t.Context(), tt.in)
			if err != nil {
				t.Fatalf("CreateRelease: %v", err)
			}
			want := tt.want
			want.ID = testID(i + 1)
			want.ProjectID = "storage"
			want.ProjectName = "Storage service"
			want.CreatedAt = h.clock.Now().Unix()
			want.Manifest = string(project.Manifest)
			want.Deployments = []shiplog.Deployment{}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("CreateRelease: mismatch (-want +got):\n%s", d)
			}
			stored, err := h.svc.Release(t.Context(), "storage", want.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, stored); d != "" {
				t.Errorf("stored release: mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestRequesterRules: one rule for every channel: control characters are refused in requester ids
// and names, and in descriptions all but line breaks and tabs; the channel is recorded as given.
func TestRequesterRules(t *testing.T) {
	h := newHarness(t)
	h.seedLabel(t, "latest", 1)
	by := shiplog.Person{ID: "ci", Name: "Buildkite", Via: shiplog.ViaInvoke}
	r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", Description: "line one\n\tline two", RequestedBy: by})
	if err != nil {
		t.Fatalf("CreateRelease: %v", err)
	}
	res, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage", RequestedBy: shiplog.Person{Via: shiplog.ViaInvoke}})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	stored, err := h.svc.Release(t.Context(), "storage", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "release requested_by", stored.RequestedBy, by)
	anon := shiplog.Person{ID: shiplog.AnonymousPerson.ID, Name: shiplog.AnonymousPerson.Name, Via: shiplog.ViaInvoke}
	diff(t, "deployment requested_by", stored.Deployments[0].RequestedBy, anon)
	diff(t, "deploy result requested_by", res.Deployment.RequestedBy, anon)
	_, err = h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "prod", RequestedBy: shiplog.Person{ID: "ci\r\nX-Admin: 1"}})
	wantError(t, "Deploy", err, shiplog.Invalid, "requested_by.id", "control character")
}

func TestCreateReleaseRejects(t *testing.T) {
	tests := []struct {
		name string
		seed []string // services with an image under latest
		in   shiplog.CreateReleaseInput
		kind shiplog.Kind
		want []string
	}{
		{
			name: "incomplete: the missing services are listed",
			seed: []string{"archivist", "notifier"},
			in:   shiplog.CreateReleaseInput{ProjectID: "storage"},
			kind: shiplog.Conflict,
			want: []string{`label "latest"`, "/storage/images/latest/", "bag-register, bag_verifier_post_replication, bag_verifier_pre_replication"},
		},
		{
			name: "nothing under latest yet: a state, not a typo",
			in:   shiplog.CreateReleaseInput{ProjectID: "storage"},
			kind: shiplog.Conflict,
			want: []string{`label "latest"`, strings.Join(storageServices, ", ")},
		},
		{
			name: "nothing under an environment never deployed to",
			in:   shiplog.CreateReleaseInput{ProjectID: "storage", Label: "prod"},
			kind: shiplog.Conflict,
			want: []string{`label "prod"`, strings.Join(storageServices, ", ")},
		},
		{
			name: "nothing under the label: a label that is not one",
			in:   shiplog.CreateReleaseInput{ProjectID: "storage", Label: "v2-branch"},
			kind: shiplog.NotFound,
			want: []string{`label "v2-branch"`, "/storage/images/v2-branch/", "has no images", "stage, prod"},
		},
		{"unknown project", storageServices, shiplog.CreateReleaseInput{ProjectID: "nope"}, shiplog.NotFound, []string{"nope"}},
		{"project id with a slash", storageServices, shiplog.CreateReleaseInput{ProjectID: "a/b"}, shiplog.Invalid, []string{"project"}},
		{"label with a slash", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", Label: "a/b"}, shiplog.Invalid, []string{"label"}},
		{"label ..", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", Label: ".."}, shiplog.Invalid, []string{"label"}},
		{"description too long", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", Description: strings.Repeat("x", 1025)}, shiplog.Invalid, []string{"description"}},
		{"requester with a name but no id", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{Name: "Alice"}}, shiplog.Invalid, []string{"requested_by.id"}},
		{"requester id with an ANSI escape", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "alice\x1b[2J"}}, shiplog.Invalid, []string{"requested_by.id", "control character"}},
		{"requester name with a newline", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "alice", Name: "Alice\nadmin: yes"}}, shiplog.Invalid, []string{"requested_by.name", "control character"}},
		{"requester name with a NUL", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "alice", Name: "A\x00"}}, shiplog.Invalid, []string{"requested_by.name", "control character"}},
		{"requester id not UTF-8", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "al\xffice"}}, shiplog.Invalid, []string{"requested_by.id", "UTF-8"}},
		{"description with an escape", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", Description: "nightly\x1b]0;pwned\x07"}, shiplog.Invalid, []string{"description", "control character"}},
		{"requester name with a bidi override", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "alice", Name: "abc\u202edorp"}}, shiplog.Invalid, []string{`requested_by.name: "abc\u202edorp" contains the format character U+202E`}},
		{"requester id with a zero-width space", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "ec\u200bs"}}, shiplog.Invalid, []string{"requested_by.id", "format character U+200B"}},
		{"requester id with a byte order mark", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "\ufeffalice"}}, shiplog.Invalid, []string{"requested_by.id", "format character U+FEFF"}},
		{"description with a bidi isolate", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", Description: "fix \u2067prod\u2069"}, shiplog.Invalid, []string{"description", "format character U+2067"}},
		{"an unknown channel", storageServices, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: shiplog.Person{ID: "alice", Via: "email"}}, shiplog.Invalid, []string{"requested_by.via"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if len(tt.seed) > 0 {
				h.seedLabel(t, "latest", 1, tt.seed...)
			}
			_, err := h.svc.CreateRelease(t.Context(), tt.in)
			wantError(t, "CreateRelease", err, tt.kind, tt.want...)
			page, err := h.store.ListReleases(t.Context(), "storage", shiplog.PageRequest{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 0 {
				t.Errorf("releases after a refused CreateRelease: got %d, want none", len(page.Items))
			}
		})
	}
}

func TestReleases(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	_, err := h.svc.Release(ctx, "storage", shiplog.LatestRelease)
	wantError(t, "Release latest with no releases", err, shiplog.NotFound, "no releases")
	_, err = h.svc.Release(ctx, "nope", shiplog.LatestRelease)
	wantError(t, "Release latest of an unknown project", err, shiplog.NotFound, "nope")

	var made []shiplog.Release
	for n := 1; n <= 5; n++ {
		made = append(made, h.createRelease(t, n))
	}
	got, err := h.svc.Release(ctx, "storage", shiplog.LatestRelease)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "Release latest", got, made[4])
	got, err = h.svc.Release(ctx, "storage", made[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "Release by id", got, made[1])
	_, err = h.svc.Release(ctx, "storage", testID(99))
	wantError(t, "Release of an unknown id", err, shiplog.NotFound)
	_, err = h.svc.Release(ctx, "catalogue_pipeline", made[1].ID)
	wantError(t, "Release of another project's id", err, shiplog.NotFound)

	var listed []shiplog.Release
	page := shiplog.PageRequest{Limit: 2}
	for pages := 1; ; pages++ {
		p, err := h.svc.Releases(ctx, "storage", page)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, p.Items...)
		if p.NextCursor == "" {
			if pages != 3 {
				t.Errorf("Releases of 5 by 2: got %d pages, want 3", pages)
			}
			break
		}
		page.Cursor = p.NextCursor
	}
	slices.Reverse(made)
	diff(t, "Releases, all pages", listed, made)

	for _, tt := range []struct {
		name string
		page shiplog.PageRequest
		kind shiplog.Kind
	}{
		{"limit too big", shiplog.PageRequest{Limit: 101}, shiplog.Invalid},
		{"negative limit", shiplog.PageRequest{Limit: -1}, shiplog.Invalid},
		{"bad cursor", shiplog.PageRequest{Cursor: "garbage!"}, shiplog.Invalid},
	} {
		_, err := h.svc.Releases(ctx, "storage", tt.page)
		wantError(t, "Releases with "+tt.name, err, tt.kind)
	}
	_, err = h.svc.Releases(ctx, "nope", shiplog.PageRequest{})
	wantError(t, "Releases of an unknown project", err, shiplog.NotFound)

	p, err := h.svc.Releases(ctx, "storage", shiplog.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 5 || p.NextCursor != "" {
		t.Errorf("Releases with the default limit: got %d items and cursor %q, want 5 and none", len(p.Items), p.NextCursor)
	}
}

func TestImages(t *testing.T) {
	h := newHarness(t)
	want := h.seedLabel(t, "latest", 1)
	got, err := h.svc.Images(t.Context(), "storage", "latest")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "Images", got, want)
	_, err = h.svc.Images(t.Context(), "nope", "latest")
	wantError(t, "Images of an unknown project", err, shiplog.NotFound)
	// Parameters shaped like a project's (another tool's, or the default empty prefix shared with
	// the account) do not make a project: an unregistered one is NotFound whatever its path holds.
	if err := h.params.PutParameters(t.Context(), map[string]string{"/ghost/images/latest/web": "x"}); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Images(t.Context(), "ghost", "latest")
	wantError(t, "Images of an unregistered project with parameters", err, shiplog.NotFound, "ghost")
	_, err = h.svc.Images(t.Context(), "storage", "a/b")
	wantError(t, "Images of a bad label", err, shiplog.Invalid, "label")
}

// Deploys.

func TestDeploy(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)

	// The first deploy writes every service's parameter, in one call.
	now := h.clock.Now().Unix()
	res, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage", Description: "first", RequestedBy: alice})
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	d1 := shiplog.Deployment{ID: testID(2), Environment: shiplog.Environment{ID: "stage", Name: "Staging"}, CreatedAt: now, RequestedBy: alice, Description: "first",
		Kind: "deploy", Changes: &shiplog.Changes{Added: storageServices}, Status: shiplog.StatusApplied,
		StatusHistory: []shiplog.StatusEntry{
			{Status: shiplog.StatusRequested, At: now, By: alice},
			{Status: shiplog.StatusApplied, At: now, By: shiplog.Person{ID: "shiplog", Name: "shiplog"}, Detail: "every parameter written"},
		},
		Leads: &shiplog.Leads{Images: []shiplog.ImageLead{}}} // the release has no push times
	for _, svc := range storageServices {
		d1.Changes.ParametersWritten = append(d1.Changes.ParametersWritten, "/storage/images/stage/"+svc)
	}
	want := r1
	want.Deployments = []shiplog.Deployment{} // a deploy answers the release without its history
	want.LastDateDeployed = now
	want.DeploymentCount = 1
	diff(t, "Deploy result", res, shiplog.DeployResult{Deployment: d1, Release: want})
	want.Deployments = []shiplog.Deployment{d1}
	stored, err := h.svc.Release(ctx, "storage", r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "stored release", stored, want)
	wantPuts := []map[string]string{{}}
	for svc, uri := range r1.Images {
		wantPuts[0]["/storage/images/stage/"+svc] = uri
	}
	diff(t, "PutParameters calls of the first deploy", h.params.takePuts(), wantPuts)
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r1.Images)
	diff(t, "parameters under prod", h.paramsUnder(t, "storage", "prod"), map[string]string(nil))
	states, err := h.store.EnvironmentStates(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "environment states", states, []shiplog.EnvironmentState{{
		ProjectID: "storage", Environment: d1.Environment, ReleaseID: r1.ID, DeploymentID: d1.ID,
		DeployedAt: now, RequestedBy: alice, Description: "first", Images: r1.Images, Status: shiplog.StatusApplied, Version: 2, // recorded, settled
		PushedTracked: true,
	}})
	h.clock.Advance(time.Minute)

	// Deploying the same release again records a deployment and writes nothing.
	again := h.deploy(t, r1.ID, "stage")
	if puts := h.params.takePuts(); len(puts) != 0 {
		t.Errorf("PutParameters calls redeploying the same release: got %v, want none", puts)
	}
	if again.Release.DeploymentCount != 2 {
		t.Errorf("deployment_count of the release after a redeploy: got %d, want 2", again.Release.DeploymentCount)
	}
	if again.Deployment.Status != shiplog.StatusApplied || len(again.Deployment.StatusHistory) != 2 {
		t.Errorf("a redeploy that writes nothing: got status %q after %v, want applied at once", again.Deployment.Status, again.Deployment.StatusHistory)
	}
	first, err := h.svc.Deployment(ctx, "storage", d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != shiplog.StatusSuperseded || first.StatusHistory[2].Detail != "replaced by deployment "+again.Deployment.ID {
		t.Errorf("the first deployment after the redeploy: got %q after %v, want superseded by %s", first.Status, first.StatusHistory, again.Deployment.ID)
	}

	// A release that changes one image writes one parameter.
	h.seedLabel(t, "latest", 2, "archivist")
	r2, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	h.deploy(t, r2.ID, "stage")
	diff(t, "PutParameters calls deploying one changed image", h.params.takePuts(), []map[string]string{
		{"/storage/images/stage/archivist": image("uk.ac.wellcome/archivist", 2)},
	})
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r2.Images)

	// Rolling back to the first release writes that image back.
	h.deploy(t, r1.ID, "stage")
	diff(t, "PutParameters calls rolling back", h.params.takePuts(), []map[string]string{
		{"/storage/images/stage/archivist": image("uk.ac.wellcome/archivist", 1)},
	})

	// "latest" is the newest release; prod has had nothing, so all its parameters are written.
	res, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: "latest", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Release.ID != r2.ID {
		t.Errorf("Deploy latest: got release %s, want %s", res.Release.ID, r2.ID)
	}
	if puts := h.params.takePuts(); len(puts) != 1 || len(puts[0]) != len(storageServices) {
		t.Errorf("PutParameters calls of the first deploy to prod: got %v, want one of %d parameters", puts, len(storageServices))
	}
	diff(t, "parameters under prod", h.paramsUnder(t, "storage", "prod"), r2.Images)
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r1.Images)
}

func TestDeployRejects(t *testing.T) {
	tests := []struct {
		name string
		in   shiplog.DeployInput // ReleaseID "r1" stands for the release the test makes
		kind shiplog.Kind
		want []string
	}{
		{"unknown environment lists the valid ones", shiplog.DeployInput{ProjectID: "storage", ReleaseID: "r1", Environment: "prd"}, shiplog.NotFound,
			[]string{`environment "prd"`, "stage, prod"}},
		{"unknown release", shiplog.DeployInput{ProjectID: "storage", ReleaseID: testID(99), Environment: "stage"}, shiplog.NotFound, []string{testID(99)}},
		{"another project's environment", shiplog.DeployInput{ProjectID: "storage", ReleaseID: "r1", Environment: "2026-11-25"}, shiplog.NotFound, []string{"stage, prod"}},
		{"unknown project", shiplog.DeployInput{ProjectID: "nope", ReleaseID: "r1", Environment: "stage"}, shiplog.NotFound, []string{"nope"}},
		{"latest of a project with no releases", shiplog.DeployInput{ProjectID: "bugfarm_73649", ReleaseID: "latest", Environment: "stage"}, shiplog.NotFound, []string{"no releases"}},
		{"environment with a slash", shiplog.DeployInput{ProjectID: "storage", ReleaseID: "r1", Environment: "st/age"}, shiplog.Invalid, []string{"environment"}},
		{"release id ..", shiplog.DeployInput{ProjectID: "storage", ReleaseID: "..", Environment: "stage"}, shiplog.Invalid, []string{"release_id"}},
		{"project id with a space", shiplog.DeployInput{ProjectID: "a b", ReleaseID: "r1", Environment: "stage"}, shiplog.Invalid, []string{"project_id"}},
		{"missing environment", shiplog.DeployInput{ProjectID: "storage", ReleaseID: "r1"}, shiplog.Invalid, []string{"environment: is required"}},
		{"description too long", shiplog.DeployInput{ProjectID: "storage", ReleaseID: "r1", Environment: "stage", Description: strings.Repeat("x", 1025)}, shiplog.Invalid, []string{"description"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r1 := h.createRelease(t, 1)
			in := tt.in
			if in.ReleaseID == "r1" {
				in.ReleaseID = r1.ID
			}
			_, err := h.svc.Deploy(t.Context(), in)
			wantError(t, "Deploy", err, tt.kind, tt.want...)
			h.wantNothingDeployed(t, r1)
		})
	}
}

// wantNothingDeployed checks that no parameter was written and no deployment recorded.
func (h *harness) wantNothingDeployed(t *testing.T, r shiplog.Release) {
	t.Helper()
	ctx := t.Context()
	if puts := h.params.takePuts(); len(puts) != 0 {
		t.Errorf("PutParameters calls: got %v, want none", puts)
	}
	for _, env := range []string{"stage", "prod"} {
		diff(t, "parameters under "+env, h.paramsUnder(t, r.ProjectID, env), map[string]string(nil))
	}
	stored, err := h.svc.Release(ctx, r.ProjectID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "stored release", stored, r)
	states, err := h.store.EnvironmentStates(ctx, r.ProjectID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "environment states", states, []shiplog.EnvironmentState(nil))
	deps, err := h.store.ListDeployments(ctx, r.ProjectID, shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deployments", deps.Items, []shiplog.DeploymentRecord(nil))
}

func TestDeployMissingImageWritesNothing(t *testing.T) {
	h := newHarness(t)
	r1 := h.createRelease(t, 1)
	reg := &fakeRegistry{missing: map[string]bool{r1.Images["notifier"]: true, r1.Images["archivist"]: true}}
	h.svc.Registry = reg

	_, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy of a release whose images are gone", err, shiplog.Conflict,
		"no longer in ECR", "archivist ("+r1.Images["archivist"]+")", "notifier ("+r1.Images["notifier"]+")")
	if strings.Contains(err.Error(), "bag-register") {
		t.Errorf("Deploy: got %q, want only the missing images named", err)
	}
	h.wantNothingDeployed(t, r1)
	if len(reg.tagged) != 0 {
		t.Errorf("TagImages calls: got %v, want none", reg.tagged)
	}

	// Once the registry has them, the deploy goes through.
	reg.missing = nil
	h.deploy(t, r1.ID, "stage")
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r1.Images)
	want := slices.Sorted(maps.Values(r1.Images))
	diff(t, "images checked", reg.checked[len(reg.checked)-1], want)
}

func TestDeployTagsImages(t *testing.T) {
	h := newHarness(t)
	entry := `{"name": "Bug farm", "environments": [{"id": "stage"}], "image_repositories": [{"id": "bugfarm/hatching"}, {"id": "bugfarm/feeding"}], "tag_deployed_images": true}`
	if err := h.register(t, "bugfarm_73649", entry); err != nil {
		t.Fatal(err)
	}
	reg := &fakeRegistry{}
	h.svc.Registry = reg
	images := map[string]string{"hatching": image("bugfarm/hatching", 1), "feeding": image("bugfarm/feeding", 1)}
	if err := h.store.PutParameters(t.Context(), map[string]string{
		"/bugfarm_73649/images/latest/hatching": images["hatching"],
		"/bugfarm_73649/images/latest/feeding":  images["feeding"],
	}); err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "bugfarm_73649"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "bugfarm_73649", ReleaseID: r.ID, Environment: "stage"}); err != nil {
		t.Fatal(err)
	}
	diff(t, "TagImages calls", reg.tagged, map[string][]string{"env.stage": slices.Sorted(maps.Values(images))})

	// Deployed again, the images carry the tag already: nothing to tag.
	reg.tagged = nil
	if _, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "bugfarm_73649", ReleaseID: r.ID, Environment: "stage"}); err != nil {
		t.Fatal(err)
	}
	if len(reg.tagged) != 0 {
		t.Errorf("TagImages calls of a redeploy: got %v, want none", reg.tagged)
	}

	// A tag moved away meanwhile (by hand, or a tagging that failed): a redeploy, which writes no
	// parameter, moves it back holding the environment's write lock, and releases it after.
	delete(reg.tags["env.stage"], images["feeding"])
	var lockedWhileTagging bool
	reg.onTag = func() {
		states, err := h.store.EnvironmentStates(t.Context(), "bugfarm_73649")
		lockedWhileTagging = err == nil && len(states) == 1 && states[0].LockedUntil > h.clock.Now().Unix()
	}
	if _, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "bugfarm_73649", ReleaseID: r.ID, Environment: "stage"}); err != nil {
		t.Fatal(err)
	}
	reg.onTag = nil
	diff(t, "TagImages calls of a redeploy whose tag moved", reg.tagged, map[string][]string{"env.stage": {images["feeding"]}})
	if !lockedWhileTagging {
		t.Errorf("environment while a redeploy moved its tag: not write-locked, want locked until the settle")
	}
	if states, _ := h.store.EnvironmentStates(t.Context(), "bugfarm_73649"); len(states) != 1 || states[0].LockedUntil != 0 {
		t.Errorf("environment after the redeploy moved its tag: %+v, want unlocked", states)
	}

	// storage does not opt in: its deploys tag nothing.
	sr := h.createRelease(t, 1)
	reg.tagged = nil
	h.deploy(t, sr.ID, "stage")
	if len(reg.tagged) != 0 {
		t.Errorf("TagImages calls for a project that did not opt in: got %v, want none", reg.tagged)
	}
}

// TestDeployRefusesUntaggableRelease: with tag_deployed_images, two services of one repository
// running different images cannot both carry env.{environment}; the deploy is refused before
// anything is written, not after the deployment is recorded.
func TestDeployRefusesUntaggableRelease(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	entry := `{"name": "V", "environments": [{"id": "stage"}], "image_repositories": [{"id": "team/verifier", "services": ["pre", "post"]}], "tag_deployed_images": true}`
	if err := h.register(t, "verify", entry); err != nil {
		t.Fatal(err)
	}
	reg := &fakeRegistry{}
	h.svc.Registry = reg
	// Written by hand under a label, as a team might when promoting services one by one.
	if err := h.store.PutParameters(ctx, map[string]string{
		"/verify/images/mixed/pre":  image("team/verifier", 1),
		"/verify/images/mixed/post": image("team/verifier", 2),
	}); err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "verify", Label: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "verify", ReleaseID: r.ID, Environment: "stage"})
	wantError(t, "Deploy of an untaggable release", err, shiplog.Conflict, "env.stage", "team/verifier (2 images)")
	h.wantNothingDeployed(t, r)
	if len(reg.tagged) != 0 || len(reg.checked) != 0 {
		t.Errorf("registry calls: tagged %v, checked %v; want none", reg.tagged, reg.checked)
	}
}

func TestDeployAfterFailedWrites(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)

	h.params.setFail(shiplog.Errorf(shiplog.Unavailable, "ThrottlingException"))
	_, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy with a failing parameter store", err, shiplog.Unavailable, "deploy again")
	h.params.takePuts()
	states, err := h.store.EnvironmentStates(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 {
		t.Fatalf("environment states after failed writes: got %v, want one", states)
	}
	diff(t, "pending after failed writes", states[0].Pending, storageServices)
	if states[0].LockedUntil != 0 {
		t.Errorf("LockedUntil after failed writes: got %d, want 0 (released for a retry)", states[0].LockedUntil)
	}
	diff(t, "parameters under stage after failed writes", h.paramsUnder(t, "storage", "stage"), map[string]string(nil))

	// The same release again: nothing changed in the release, but the pending services are written.
	h.params.setFail(nil)
	h.clock.Advance(time.Minute)
	h.deploy(t, r1.ID, "stage")
	puts := h.params.takePuts()
	if len(puts) != 1 {
		t.Fatalf("PutParameters calls of the retry: got %d, want 1", len(puts))
	}
	diff(t, "services written by the retry", slices.Sorted(maps.Keys(puts[0])), func() []string {
		var names []string
		for _, svc := range storageServices {
			names = append(names, "/storage/images/stage/"+svc)
		}
		return names
	}())
	diff(t, "parameters under stage after the retry", h.paramsUnder(t, "storage", "stage"), r1.Images)
	states, err = h.store.EnvironmentStates(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	if len(states[0].Pending) != 0 || states[0].LockedUntil != 0 {
		t.Errorf("state after the retry: got pending %v, locked until %d, want neither", states[0].Pending, states[0].LockedUntil)
	}
	h.deploy(t, r1.ID, "stage")
	if puts := h.params.takePuts(); len(puts) != 0 {
		t.Errorf("PutParameters calls once settled: got %v, want none", puts)
	}
}

// lockStage records, behind the Service's back, a deployment of r to stage that is still writing
// its parameters as far as the store knows.
func (h *harness) lockStage(t *testing.T, r shiplog.Release, n int) shiplog.EnvironmentState {
	t.Helper()
	env := shiplog.Environment{ID: "stage", Name: "Staging"}
	d := shiplog.Deployment{ID: testID(n), Environment: env, CreatedAt: h.clock.Now().Unix(), RequestedBy: shiplog.Person{ID: "carol", Name: "Carol"}}
	var cur *shiplog.EnvironmentState
	if st, err := h.store.EnvironmentStates(t.Context(), "storage"); err != nil {
		t.Fatal(err)
	} else if len(st) > 0 {
		cur = &st[0]
	}
	w := cur.Next(shiplog.EnvironmentState{
		ProjectID: "storage", Environment: env, ReleaseID: r.ID, DeploymentID: d.ID, RequestedBy: d.RequestedBy,
		Images: r.Images, Pending: storageServices, LockedUntil: h.clock.Now().Add(2 * time.Minute).Unix(),
	})
	w.Deployment = &shiplog.DeploymentRecord{Deployment: d, ProjectID: "storage", ReleaseID: r.ID}
	if err := h.store.WriteEnvironment(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	return w.State
}

func TestDeployLockedEnvironment(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	h.lockStage(t, r1, 50)
	before := h.clock.Now()
	_, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"})
	wantError(t, "Deploy to a locked environment", err, shiplog.Conflict, testID(50), "by carol", "still writing", "after 20s of waiting",
		"expires at "+before.Add(2*time.Minute).UTC().Format(time.RFC3339))
	if h.sleeps < 2 {
		t.Errorf("waits before giving up: got %d, want several", h.sleeps)
	}
	if waited := h.clock.Now().Sub(before); waited < 20*time.Second || waited > 21*time.Second {
		t.Errorf("time waited before giving up: got %s, want DeployWait (20s)", waited)
	}
	if puts := h.params.takePuts(); len(puts) != 0 {
		t.Errorf("PutParameters calls: got %v, want none", puts)
	}

	// Once the lock has expired (its deployment died), a deploy takes over and writes everything.
	h.clock.Advance(3 * time.Minute)
	h.deploy(t, r1.ID, "stage")
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r1.Images)
}

// A deploy that finds another one writing waits for it to settle, then deploys: no Conflict for a
// pipeline to retry.
func TestDeployWaitsForItsTurn(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1, r2 := h.createRelease(t, 1), h.createRelease(t, 2)
	held := h.lockStage(t, r1, 0)
	h.onSleep = func(time.Duration) {
		if h.sleeps == 3 { // the other deployment settles during the third wait
			next := held
			next.Pending, next.LockedUntil = nil, 0
			if err := h.store.WriteEnvironment(ctx, held.Next(next)); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage"})
	if err != nil {
		t.Fatalf("Deploy after waiting for the lock: %v", err)
	}
	if h.sleeps != 3 {
		t.Errorf("waits: got %d, want 3 (until the lock was released)", h.sleeps)
	}
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r2.Images)
	page, err := h.svc.Deployments(ctx, "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].ID != res.Deployment.ID || page.Items[1].ID != held.DeploymentID {
		t.Errorf("stage's deployments: got %+v, want the waiting deploy after %s", page.Items, held.DeploymentID)
	}
}

// racingStore is the harness's store, counting the deploy reads and refusing, once, the first
// deployment recorded over version raceAt with ErrVersionConflict and nothing written, as a store
// does to a deploy that lost the race to another.
type racingStore struct {
	*memstore.Store
	deployReads int
	raceAt      int64
	raced       bool
}

func (s *racingStore) DeployContext(ctx context.Context, projectID, releaseID, environmentID string) (shiplog.DeployContext, error) {
	s.deployReads++
	return s.Store.DeployContext(ctx, projectID, releaseID, environmentID)
}

func (s *racingStore) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	if w.Deployment != nil && w.Expect == s.raceAt && !s.raced {
		s.raced = true
		return shiplog.ErrVersionConflict
	}
	return s.Store.WriteEnvironment(ctx, w)
}

// A deploy that finds another one writing reads only the environment's state while it waits:
// the whole deploy is read again once the lock is released.
func TestDeployWaitingReadsTheStateOnly(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	rs := &racingStore{Store: h.store, raceAt: -1}
	h.svc.Store = rs
	r1, r2 := h.createRelease(t, 1), h.createRelease(t, 2)
	held := h.lockStage(t, r1, 0)
	h.onSleep = func(time.Duration) {
		if h.sleeps == 6 {
			next := held
			next.Pending, next.LockedUntil = nil, 0
			if err := h.store.WriteEnvironment(ctx, held.Next(next)); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage"}); err != nil {
		t.Fatalf("Deploy after waiting for the lock: %v", err)
	}
	if h.sleeps != 6 || rs.deployReads != 2 {
		t.Errorf("waits and deploy reads: got %d and %d, want 6 (until the lock was released) and 2 (before and after)", h.sleeps, rs.deployReads)
	}
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r2.Images)
}

// A deploy that lost the race to record waits for the winner's record and settle, reading only
// the environment's state, and then deploys over it.
func TestDeployLostRaceWaitsForTheWinner(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1, r2 := h.createRelease(t, 1), h.createRelease(t, 2)
	h.deploy(t, r1.ID, "stage")
	st, err := h.store.EnvironmentStates(ctx, "storage")
	if err != nil || len(st) != 1 {
		t.Fatalf("states: got %v, %v", st, err)
	}
	rs := &racingStore{Store: h.store, raceAt: st[0].Version}
	h.svc.Store = rs
	var winner shiplog.EnvironmentState
	h.onSleep = func(time.Duration) {
		switch h.sleeps {
		case 3: // the winner's record shows
			winner = h.lockStage(t, r1, 90)
		case 6: // and it settles
			next := winner
			next.Pending, next.LockedUntil = nil, 0
			if err := h.store.WriteEnvironment(ctx, winner.Next(next)); err != nil {
				t.Error(err)
			}
		}
	}
	res, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage"})
	if err != nil {
		t.Fatalf("Deploy after losing the race: %v", err)
	}
	if !rs.raced || h.sleeps != 6 || rs.deployReads != 2 {
		t.Errorf("race lost, waits and deploy reads: got %v, %d and %d, want true, 6 (until the winner settled) and 2", rs.raced, h.sleeps, rs.deployReads)
	}
	now, err := h.store.EnvironmentStates(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	if len(now) != 1 || now[0].DeploymentID != res.Deployment.ID || now[0].Version != winner.Version+3 {
		t.Errorf("stage after the lost race: got %+v, want deployment %s recorded (and settled) over the winner's settled version %d", now, res.Deployment.ID, winner.Version+1)
	}
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r2.Images)
}

// A deploy that lost the race to a winner whose record never shows (it died before writing)
// waits for it for about a second only, then reads everything again and deploys.
func TestDeployLostRaceToADeadWinner(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	r1 := h.createRelease(t, 1)
	rs := &racingStore{Store: h.store}
	h.svc.Store = rs
	before := h.clock.Now()
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: "stage"}); err != nil {
		t.Fatalf("Deploy after losing the race: %v", err)
	}
	waited := h.clock.Now().Sub(before)
	if !rs.raced || rs.deployReads != 2 || waited < time.Second || waited > 2*time.Second {
		t.Errorf("race lost, deploy reads, time waited: got %v, %d, %s, want true, 2, about a second", rs.raced, rs.deployReads, waited)
	}
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r1.Images)
}

// Reads of what is where.

func TestEnvironmentsAndDeployments(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()

	envs, err := h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "Environments before any deploy", envs, []shiplog.EnvironmentStatus{
		{Environment: shiplog.Environment{ID: "stage", Name: "Staging"}},
		{Environment: shiplog.Environment{ID: "prod", Name: "Production"}},
	})

	r1 := h.createRelease(t, 1)
	r2 := h.createRelease(t, 2)
	var deps []shiplog.Deployment
	for _, st := range []struct {
		r   shiplog.Release
		env string
	}{{r1, "stage"}, {r1, "prod"}, {r2, "stage"}, {r2, "stage"}, {r2, "prod"}} {
		deps = append(deps, h.deploy(t, st.r.ID, st.env).Deployment)
	}

	envs, err = h.svc.Environments(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != 2 || envs[0].Current == nil || envs[1].Current == nil {
		t.Fatalf("Environments: got %+v, want stage and prod deployed", envs)
	}
	diff(t, "stage's current deployment", []string{envs[0].Environment.ID, envs[0].Current.ReleaseID, envs[0].Current.DeploymentID}, []string{"stage", r2.ID, deps[3].ID})
	diff(t, "prod's current deployment", []string{envs[1].Environment.ID, envs[1].Current.ReleaseID, envs[1].Current.DeploymentID}, []string{"prod", r2.ID, deps[4].ID})
	diff(t, "prod's images", envs[1].Current.Images, r2.Images)
	_, err = h.svc.Environments(ctx, "nope")
	wantError(t, "Environments of an unknown project", err, shiplog.NotFound)

	ids := func(env string, limit int) []string {
		var out []string
		page := shiplog.PageRequest{Limit: limit}
		for {
			p, err := h.svc.Deployments(ctx, "storage", shiplog.DeploymentFilter{Environment: env}, page)
			if err != nil {
				t.Fatalf("Deployments %q: %v", env, err)
			}
			for _, d := range p.Items {
				if d.ProjectID != "storage" || (env != "" && d.Environment.ID != env) {
					t.Errorf("Deployments %q: got %+v", env, d)
				}
				out = append(out, d.ID)
			}
			if p.NextCursor == "" {
				return out
			}
			page.Cursor = p.NextCursor
		}
	}
	tests := []struct {
		env  string
		want []shiplog.Deployment
	}{
		{"", []shiplog.Deployment{deps[4], deps[3], deps[2], deps[1], deps[0]}},
		{"stage", []shiplog.Deployment{deps[3], deps[2], deps[0]}},
		{"prod", []shiplog.Deployment{deps[4], deps[1]}},
	}
	for _, tt := range tests {
		var want []string
		for _, d := range tt.want {
			want = append(want, d.ID)
		}
		for _, limit := range []int{1, 2, 20} {
			diff(t, fmt.Sprintf("Deployments %q by %d", tt.env, limit), ids(tt.env, limit), want)
		}
	}
	first, err := h.svc.Deployments(ctx, "storage", shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "newest deployment record", first.Items, []shiplog.DeploymentRecord{{Deployment: deps[4], ProjectID: "storage", ReleaseID: r2.ID}})

	for _, tt := range []struct {
		name, project, env string
		page               shiplog.PageRequest
		kind               shiplog.Kind
		want               string
	}{
		{"unknown environment", "storage", "prd", shiplog.PageRequest{}, shiplog.NotFound, "stage, prod"},
		{"unknown project", "nope", "", shiplog.PageRequest{}, shiplog.NotFound, "nope"},
		{"limit too big", "storage", "", shiplog.PageRequest{Limit: 101}, shiplog.Invalid, "limit"},
		{"bad cursor", "storage", "stage", shiplog.PageRequest{Cursor: "bm90IGEgY3Vyc29y"}, shiplog.Invalid, "cursor"},
	} {
		_, err := h.svc.Deployments(ctx, tt.project, shiplog.DeploymentFilter{Environment: tt.env}, tt.page)
		wantError(t, "Deployments, "+tt.name, err, tt.kind, tt.want)
	}
}

// TestConcurrentDeploys runs deploys of one release to both environments at once, several times
// over: each must land, and the release must list every one.
func TestConcurrentDeploys(t *testing.T) {
	h := newHarness(t)
	r1 := h.createRelease(t, 1)
	const rounds = 5
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for range rounds {
		for _, env := range []string{"stage", "prod"} {
			wg.Go(func() {
				_, err := h.svc.Deploy(t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r1.ID, Environment: env})
				if err != nil {
					errs <- fmt.Errorf("deploy to %s: %w", env, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	var failed []error
	for err := range errs {
		failed = append(failed, err)
	}
	// Deploys to one environment may refuse each other (Conflict: locked or raced); that is the
	// point of the lock. What must never happen is a deploy that reports success and is not there.
	for _, err := range failed {
		if !shiplog.IsKind(err, shiplog.Conflict) {
			t.Errorf("concurrent deploy: got %v, want success or Conflict", err)
		}
	}
	stored, err := h.svc.Release(t.Context(), "storage", r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(stored.Deployments), 2*rounds-len(failed); got != want {
		t.Errorf("deployments of the release: got %d, want %d (%d deploys, %d refused)", got, want, 2*rounds, len(failed))
	}
	seen := map[string]bool{}
	for _, d := range stored.Deployments {
		seen[d.Environment.ID] = true
	}
	if !seen["stage"] || !seen["prod"] {
		t.Errorf("deployments of the release: got environments %v, want stage and prod", slices.Sorted(maps.Keys(seen)))
	}
	diff(t, "parameters under stage", h.paramsUnder(t, "storage", "stage"), r1.Images)
	diff(t, "parameters under prod", h.paramsUnder(t, "storage", "prod"), r1.Images)
}

// TestReregisterDroppingDeployedEnvironment: a new registration that drops an environment that has
// deployments is refused with Conflict naming it, and changes nothing, unless the request says the
// environment is retired; one never deployed to may be dropped freely.
func TestReregisterDroppingDeployedEnvironment(t *testing.T) {
	h := newHarness(t)
	h.seedLabel(t, "latest", 1)
	r := h.createRelease(t, 1)
	h.deploy(t, r.ID, "stage")
	before, err := h.svc.Project(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	without := func(drop ...string) shiplog.Project {
		p := before
		p.Environments = nil
		for _, e := range before.Environments {
			if !slices.Contains(drop, e.ID) {
				p.Environments = append(p.Environments, e)
			}
		}
		p.Environments = append(p.Environments, shiplog.Environment{ID: "qa", Name: "QA"})
		return p
	}
	register := func(p shiplog.Project, retired ...string) error {
		in := shiplog.RegisterInput{Projects: []shiplog.Project{p}}
		for _, e := range retired {
			in.Retired = append(in.Retired, shiplog.EnvironmentRef{ProjectID: "storage", EnvironmentID: e})
		}
		_, err := h.svc.RegisterProjects(t.Context(), in)
		return err
	}

	err = register(without("stage", "prod"))
	wantError(t, "dropping stage", err, shiplog.Conflict, "storage: the manifest drops environment stage, which has been deployed to", "?retire=stage")
	if strings.Contains(shiplog.MessageOf(err), "prod") {
		t.Errorf("message %q names prod, which was never deployed to", shiplog.MessageOf(err))
	}
	got, _ := h.svc.Project(t.Context(), "storage")
	diff(t, "project after the refusal", got, before)

	// Through create-release's registration too.
	entry := without("stage")
	_, err = h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", Register: &entry})
	wantError(t, "create-release dropping stage", err, shiplog.Conflict, "stage")
	got, _ = h.svc.Project(t.Context(), "storage")
	diff(t, "project after the refused create-release", got, before)

	err = register(without("prod"), "stage")
	wantError(t, "retiring an environment the manifest keeps", err, shiplog.Invalid, `retire: environment "stage" is still in storage's manifest`)

	if err := register(without("stage", "prod"), "stage"); err != nil {
		t.Fatalf("dropping stage, retired: %v", err)
	}
	got, _ = h.svc.Project(t.Context(), "storage")
	diff(t, "environments after retiring stage", got.EnvironmentIDs(), []string{"qa"})
	deps, err := h.svc.Deployments(t.Context(), "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{})
	if err != nil || len(deps.Items) != 1 {
		t.Errorf("stage's history after retiring it: got %v, %v, want its one deployment", deps.Items, err)
	}
}
