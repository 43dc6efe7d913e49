package shiplog_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// putCounter counts the registrations written through it.
type putCounter struct {
	shiplog.Store
	puts atomic.Int32
}

func (c *putCounter) PutProject(ctx context.Context, p shiplog.Project, ev shiplog.Event, retired ...string) error {
	c.puts.Add(1)
	return c.Store.PutProject(ctx, p, ev, retired...)
}

// TestCreateReleaseRegistersOnlyAChange: a create-release that carries the manifest, as CI sends
// it, writes the registration only when it differs from the stored one; a changed one is checked
// as any registration is, and a refused one writes nothing.
func TestCreateReleaseRegistersOnlyAChange(t *testing.T) {
	h := newHarness(t)
	r := h.createRelease(t, 1)
	h.deploy(t, r.ID, "stage")
	stored, err := h.svc.Project(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	counter := &putCounter{Store: h.store}
	h.svc.Store = counter
	create := func(what string, p shiplog.Project, retired ...string) (shiplog.Release, error) {
		t.Helper()
		return h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", Register: &p, RetiredEnvironments: retired, RequestedBy: alice})
	}
	wantPuts := func(what string, want int32) {
		t.Helper()
		if got := counter.puts.Swap(0); got != want {
			t.Errorf("%s: got %d registrations written, want %d", what, got, want)
		}
	}
	events := len(h.events(t, "storage"))

	rel, err := create("unchanged", stored)
	if err != nil {
		t.Fatalf("create-release with the stored registration: %v", err)
	}
	wantPuts("unchanged", 0)
	diff(t, "release of the unchanged registration: images", rel.Images, h.seedLabel(t, "latest", 1))
	if rel.Manifest != string(stored.Manifest) || rel.ProjectName != stored.Name {
		t.Errorf("release of the unchanged registration: got manifest %s, name %q, want %s, %q", rel.Manifest, rel.ProjectName, stored.Manifest, stored.Name)
	}
	if rel.PushedAt != nil {
		t.Errorf("release of images never pushed through ECR: got pushed_at %v, want none", rel.PushedAt)
	}
	if got := len(h.events(t, "storage")); got != events+1 {
		t.Errorf("events after the unchanged create-release: got %d new, want 1 (the release's)", got-events)
	}

	renamed := stored
	renamed.Name = "Storage, renamed"
	rel, err = create("renamed", renamed)
	if err != nil {
		t.Fatalf("create-release with a renamed project: %v", err)
	}
	wantPuts("renamed", 1)
	if rel.ProjectName != renamed.Name {
		t.Errorf("release of the renamed project: got name %q, want %q", rel.ProjectName, renamed.Name)
	}
	if got, _ := h.svc.Project(t.Context(), "storage"); got.Name != renamed.Name {
		t.Errorf("project after the renaming create-release: got name %q, want %q", got.Name, renamed.Name)
	}

	// Dropping stage, which has a deployment, is refused before anything is written.
	without := renamed
	without.Environments = nil
	for _, e := range renamed.Environments {
		if e.ID != "stage" {
			without.Environments = append(without.Environments, e)
		}
	}
	releases, _ := h.svc.Releases(t.Context(), "storage", shiplog.PageRequest{})
	_, err = create("dropping stage", without)
	wantError(t, "create-release dropping stage", err, shiplog.Conflict, "drops environment stage")
	wantPuts("dropping stage", 0)
	after, _ := h.svc.Releases(t.Context(), "storage", shiplog.PageRequest{})
	if len(after.Items) != len(releases.Items) {
		t.Errorf("releases after the refused create-release: got %d, want %d", len(after.Items), len(releases.Items))
	}

	if _, err := create("retiring stage", without, "stage"); err != nil {
		t.Fatalf("create-release retiring stage: %v", err)
	}
	wantPuts("retiring stage", 1)
	// The stored registration has retired stage already: sending it again, with or without
	// naming stage, changes nothing and writes no registration.
	if _, err := create("retired, unchanged", without); err != nil {
		t.Errorf("create-release with the registration that retired stage: %v", err)
	}
	if _, err := create("retired, unchanged, named again", without, "stage"); err != nil {
		t.Errorf("create-release with the registration that retired stage, naming it again: %v", err)
	}
	wantPuts("retired, unchanged", 0)
	// A later change to the manifest need not name the environment retired before: the stored
	// registration is what it drops environments from.
	later := without
	later.Name = "Storage, renamed again"
	if _, err := create("retired before, changed", later); err != nil {
		t.Errorf("create-release changing a registration that retired stage before, not naming it: %v", err)
	}
	wantPuts("retired before, changed", 1)

	// A manifest that is invalid is refused whatever is stored.
	bad := without
	bad.Environments = append(bad.Environments, bad.Environments[0])
	_, err = create("invalid", bad)
	wantError(t, "create-release with an environment declared twice", err, shiplog.Invalid)
	wantPuts("invalid", 0)
}

// TestCreateReleaseRegistersANewProject: the manifest of a project never registered registers it.
func TestCreateReleaseRegistersANewProject(t *testing.T) {
	h := newHarness(t)
	p, err := h.svc.Project(t.Context(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	p.ID = "storage-two"
	images := map[string]string{}
	params := map[string]string{}
	for _, svc := range p.Services() {
		images[svc] = image("uk.ac.wellcome/"+svc, 7)
		params[shiplog.ParameterName(p.ID, "latest", svc)] = images[svc]
	}
	if err := h.store.PutParameters(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	// Its repositories feed storage too: give the new project other ones.
	for i := range p.ImageRepositories {
		p.ImageRepositories[i].ID += "-two"
	}
	rel, err := h.svc.CreateRelease(t.Context(), shiplog.CreateReleaseInput{ProjectID: p.ID, Register: &p})
	if err != nil {
		t.Fatalf("create-release registering %s: %v", p.ID, err)
	}
	diff(t, "release of the new project: images", rel.Images, images)
	got, err := h.svc.Project(t.Context(), p.ID)
	if err != nil {
		t.Fatalf("project after create-release registered it: %v", err)
	}
	diff(t, "registered project", got, p)
}
