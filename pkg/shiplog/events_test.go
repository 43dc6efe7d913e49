package shiplog_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

var bob = shiplog.Person{ID: "bob", Name: "Bob"}

// events returns the project's whole log, oldest first.
func (h *harness) events(t *testing.T, project string) []shiplog.Event {
	t.Helper()
	var out []shiplog.Event
	page := shiplog.PageRequest{Limit: 3} // small pages, so that paging is exercised too
	for {
		got, err := h.svc.Events(t.Context(), project, shiplog.EventFilter{}, page)
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		out = append(out, got.Items...)
		if got.NextCursor == "" {
			slices.Reverse(out)
			return out
		}
		page.Cursor = got.NextCursor
	}
}

// eventLine is what the flow test checks of each event.
func eventLine(ev shiplog.Event) string {
	return strings.Join([]string{ev.Type, ev.By.ID, ev.Environment, ev.ReleaseID, ev.DeploymentID, ev.Service}, " ")
}

// TestEventLogOfAFlow runs a small flow and checks that each change of it is in the log exactly
// once, in order, and that refused and repeated requests add nothing.
func TestEventLogOfAFlow(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	var want []string
	check := func(what string) {
		t.Helper()
		var got []string
		for _, ev := range h.events(t, "storage") {
			got = append(got, eventLine(ev))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("events after %s:\ngot\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	want = append(want, "project.registered unknown    ")
	check("registering")

	// Registering the same manifest again changes nothing.
	p, err := h.svc.Project(ctx, "storage")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}, By: alice}); err != nil {
		t.Fatal(err)
	}
	check("registering the same project again")

	push := loadPush(t, "ecr-push-tagged.json")
	for range 2 { // EventBridge may deliver a push twice: it is one change
		if _, err := h.svc.RecordPush(ctx, push); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, "image.recorded ecr    archivist")
	check("a push, delivered twice")

	r1 := h.createRelease(t, 1)
	want = append(want, "release.created "+alice.ID+"  "+r1.ID+"  ")
	check("creating a release")

	d1 := h.deploy(t, r1.ID, "stage").Deployment
	want = append(want,
		fmt.Sprintf("deployment.requested %s stage %s %s ", alice.ID, r1.ID, d1.ID),
		fmt.Sprintf("deployment.applied shiplog stage %s %s ", r1.ID, d1.ID))
	check("a deploy")

	if _, err := h.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "storage", DeploymentID: d1.ID, Status: shiplog.StatusVerified, By: bob}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "storage", DeploymentID: d1.ID, Status: shiplog.StatusVerified, By: bob}); err != nil {
		t.Fatal(err)
	}
	want = append(want, fmt.Sprintf("deployment.verified %s stage %s %s ", bob.ID, r1.ID, d1.ID))
	check("a report, repeated")

	d2 := h.deploy(t, r1.ID, "prod").Deployment
	r2 := h.createRelease(t, 2)
	d3 := h.deploy(t, r2.ID, "prod").Deployment
	want = append(want,
		fmt.Sprintf("deployment.requested %s prod %s %s ", alice.ID, r1.ID, d2.ID),
		fmt.Sprintf("deployment.applied shiplog prod %s %s ", r1.ID, d2.ID),
		"release.created "+alice.ID+"  "+r2.ID+"  ",
		fmt.Sprintf("deployment.requested %s prod %s %s ", alice.ID, r2.ID, d3.ID),
		fmt.Sprintf("deployment.superseded %s prod %s %s ", alice.ID, r1.ID, d2.ID),
		fmt.Sprintf("deployment.applied shiplog prod %s %s ", r2.ID, d3.ID))
	check("a deploy that supersedes one not yet verified")

	// Refused requests write no event.
	if _, err := h.svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "storage", DeploymentID: d2.ID, Status: shiplog.StatusVerified, By: bob}); err == nil {
		t.Fatal("a report on a superseded deployment was accepted")
	}
	if _, err := h.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage", Label: "nothing-here"}); err == nil {
		t.Fatal("a release of an empty label was created")
	}
	check("refused requests")

	if _, err := h.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "stage", Reason: "incident", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r2.ID, Environment: "stage", RequestedBy: alice}); !shiplog.IsKind(err, shiplog.Conflict) {
		t.Fatalf("deploy to a locked environment: got %v, want Conflict", err)
	}
	if _, err := h.svc.Unlock(ctx, "storage", "stage", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Unlock(ctx, "storage", "stage", alice); err != nil { // nothing to unlock: no change
		t.Fatal(err)
	}
	want = append(want, "environment.locked "+bob.ID+" stage   ", "environment.unlocked "+alice.ID+" stage   ")
	check("a lock, a refused deploy, an unlock and another")

	now := h.clock.Now().Unix()
	if _, err := h.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "storage", ID: "release-week", Environments: []string{"prod"},
		StartsAt: now + 3600, EndsAt: now + 7200, Reason: "release week", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	// Widening it to every environment sets it on stage and changes nothing of prod's.
	if _, err := h.svc.PutFreeze(ctx, shiplog.FreezeInput{ProjectID: "storage", ID: "release-week",
		StartsAt: now + 3600, EndsAt: now + 7200, Reason: "release week", RequestedBy: bob}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.DeleteFreeze(ctx, "storage", "release-week", alice); err != nil {
		t.Fatal(err)
	}
	want = append(want,
		"freeze.set "+bob.ID+" prod   ",
		"freeze.set "+bob.ID+" stage   ", // the widened freeze on stage...
		"freeze.set "+bob.ID+" prod   ",  // ...and on prod, where its environments changed
		"freeze.deleted "+alice.ID+" stage   ",
		"freeze.deleted "+alice.ID+" prod   ")
	check("a freeze set, widened and deleted")

	evs := h.events(t, "storage")
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Errorf("event %d's id %s does not sort after event %d's %s", i, evs[i].ID, i-1, evs[i-1].ID)
		}
	}
	if d := evs[len(evs)-1].Detail; d["freeze_id"] != "release-week" || d["reason"] != "release week" {
		t.Errorf("freeze.deleted detail: got %v", d)
	}
	if d := evs[1].Detail; d["image"] != push.ImageURI() {
		t.Errorf("image.recorded detail: got %v, want the image %s", d, push.ImageURI())
	}
}

func TestEventsFilters(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	h.clock.Advance(time.Minute) // past the registration's second
	r := h.createRelease(t, 1)
	h.deploy(t, r.ID, "stage")
	got, err := h.svc.Events(ctx, "storage", shiplog.EventFilter{Type: shiplog.EventDeploymentRequested}, shiplog.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 1 || got.Items[0].ReleaseID != r.ID {
		t.Errorf("Events of type deployment.requested: got %+v, want the one deploy", got.Items)
	}
	since := h.clock.Now().Unix()
	got, err = h.svc.Events(ctx, "storage", shiplog.EventFilter{Since: since}, shiplog.PageRequest{})
	if err != nil || len(got.Items) != 0 {
		t.Errorf("Events since now: got %+v, %v, want none", got.Items, err)
	}
	got, err = h.svc.Events(ctx, "storage", shiplog.EventFilter{Since: r.CreatedAt}, shiplog.PageRequest{})
	if err != nil || len(got.Items) != 3 {
		t.Errorf("Events since the release: got %d events, %v, want 3 (created, requested, applied)", len(got.Items), err)
	}

	bad := []struct {
		name    string
		project string
		filter  shiplog.EventFilter
		page    shiplog.PageRequest
		kind    shiplog.Kind
		says    string
	}{
		{"an unknown type", "storage", shiplog.EventFilter{Type: "deployment.exploded"}, shiplog.PageRequest{}, shiplog.Invalid, `type: "deployment.exploded" is not an event type`},
		{"a negative since", "storage", shiplog.EventFilter{Since: -1}, shiplog.PageRequest{}, shiplog.Invalid, "since: -1"},
		{"a limit too big", "storage", shiplog.EventFilter{}, shiplog.PageRequest{Limit: 101}, shiplog.Invalid, "limit"},
		{"a bad cursor", "storage", shiplog.EventFilter{}, shiplog.PageRequest{Cursor: "nope"}, shiplog.Invalid, "cursor"},
		{"an unknown project", "nope", shiplog.EventFilter{}, shiplog.PageRequest{}, shiplog.NotFound, `project "nope" is not registered`},
	}
	for _, tt := range bad {
		_, err := h.svc.Events(ctx, tt.project, tt.filter, tt.page)
		wantError(t, "Events with "+tt.name, err, tt.kind, tt.says)
	}
}

func TestDetailType(t *testing.T) {
	tests := map[string]string{
		"deployment.failed":    "Deployment Failed",
		"project.registered":   "Project Registered",
		"environment.unlocked": "Environment Unlocked",
		"freeze.set":           "Freeze Set",
	}
	for in, want := range tests {
		if got := shiplog.DetailType(in); got != want {
			t.Errorf("DetailType(%q): got %q, want %q", in, got, want)
		}
	}
}
