package ledgertest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The ledger's indexes, over each driver: every index is written in the same atomic write as what
// it indexes, is read a page at a time, and data stored before it existed is still answered.
// These name the ledger's keys as it stores them (pkg/ledger/keys.go), to write "old" items as a
// ledger of before wrote them and to look for index items directly.
func runIndexTests(t *testing.T, newDriver func(t *testing.T) ledger.Driver) {
	t.Run("EventsByTypeWrittenAtomically", func(t *testing.T) { testEventsByTypeAtomic(t, newDriver(t)) })
	t.Run("EventsByTypePaged", func(t *testing.T) { testEventsByTypePaged(t, newDriver(t)) })
	t.Run("EventsByTypeOfAnOldProject", func(t *testing.T) { testEventsByTypeOld(t, newDriver(t)) })
	t.Run("ProjectsPaged", func(t *testing.T) { testProjectsPaged(t, newDriver(t)) })
}

func eventID(i int) string { return fmt.Sprintf("01TESTEVENT%06d", i) }

// pushEvent records a push of service svc at time at, with an event of typ; it reports whether
// the push was recorded.
func pushEvent(t *testing.T, l *ledger.Ledger, project, svc string, at int64, id, typ string) bool {
	t.Helper()
	ok, err := l.RecordPush(ctx(t), shiplog.ImageRecord{ProjectID: project, ServiceID: svc, URI: fmt.Sprintf("img/%s@%d", svc, at), PushedAt: at},
		shiplog.Event{ID: id, Type: typ, At: at, ProjectID: project, Service: svc})
	if err != nil {
		t.Fatalf("record push of %s at %d: %v", svc, at, err)
	}
	return ok
}

func register(t *testing.T, l *ledger.Ledger, id string) {
	t.Helper()
	p := shiplog.Project{ID: id, Name: id, Environments: []shiplog.Environment{{ID: "stage", Name: "stage"}}}
	if err := l.PutProject(ctx(t), p, shiplog.Event{ID: eventID(0), Type: "project.registered", At: 1, ProjectID: id}); err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
}

// allOfType pages through the events of typ with pages of limit, and returns their ids.
func allOfType(t *testing.T, l *ledger.Ledger, project, typ string, limit int) []string {
	t.Helper()
	var ids []string
	page := shiplog.PageRequest{Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("events of type %s: more than 1000 pages", typ)
		}
		got, err := l.ListEvents(ctx(t), project, shiplog.EventFilter{Type: typ}, page)
		if err != nil {
			t.Fatalf("events of type %s after cursor %q: %v", typ, page.Cursor, err)
		}
		if len(got.Items) > limit {
			t.Fatalf("events of type %s: a page of %d, more than the limit %d", typ, len(got.Items), limit)
		}
		for _, ev := range got.Items {
			if ev.Type != typ {
				t.Errorf("events of type %s: got event %s of type %s", typ, ev.ID, ev.Type)
			}
			ids = append(ids, ev.ID)
		}
		if got.NextCursor == "" {
			return ids
		}
		page.Cursor = got.NextCursor
	}
}

func testEventsByTypeAtomic(t *testing.T, d ledger.Driver) {
	l := ledger.New(d)
	register(t, l, "p")
	if !pushEvent(t, l, "p", "api", 10, eventID(1), "image.recorded") {
		t.Fatal("the first push was not recorded")
	}
	// An older push of the service is refused: neither its event nor its copy is written.
	if pushEvent(t, l, "p", "api", 5, eventID(2), "image.recorded") {
		t.Fatal("an older push was recorded")
	}
	for _, c := range []struct {
		key  ledger.Key
		want bool
	}{
		{stateKey("project#p", "event#"+eventID(1)), true},
		{stateKey("project#p", "etype#image.recorded#"+eventID(1)), true},
		{stateKey("project#p", "event#"+eventID(2)), false},
		{stateKey("project#p", "etype#image.recorded#"+eventID(2)), false},
		{stateKey("project#p", "etype#project.registered#"+eventID(0)), true},
	} {
		_, found, err := d.Get(ctx(t), c.key)
		if err != nil {
			t.Fatalf("get %s: %v", c.key, err)
		}
		if found != c.want {
			t.Errorf("%s: stored %v, want %v", c.key, found, c.want)
		}
	}
	// The copy holds the event as the log does.
	got, err := l.ListEvents(ctx(t), "p", shiplog.EventFilter{Type: "image.recorded"}, shiplog.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []shiplog.Event{{ID: eventID(1), Type: "image.recorded", At: 10, ProjectID: "p", Service: "api"}}
	if diff := cmp.Diff(want, got.Items); diff != "" || got.NextCursor != "" {
		t.Errorf("events of type image.recorded (-want +got):\n%s, cursor %q", diff, got.NextCursor)
	}
}

func testEventsByTypePaged(t *testing.T, d ledger.Driver) {
	l := ledger.New(d)
	register(t, l, "p")
	var rare, common []string
	for i := 1; i <= 23; i++ {
		typ := "image.recorded"
		if i%5 == 0 {
			typ = "deployment.failed"
		}
		pushEvent(t, l, "p", fmt.Sprintf("s%d", i), int64(i), eventID(i), typ)
		if typ == "deployment.failed" {
			rare = append([]string{eventID(i)}, rare...)
		} else {
			common = append([]string{eventID(i)}, common...)
		}
	}
	for _, limit := range []int{1, 2, 4, 5, 100} {
		if got := allOfType(t, l, "p", "deployment.failed", limit); !slices.Equal(got, rare) {
			t.Errorf("deployment.failed in pages of %d: got %v, want %v", limit, got, rare)
		}
		if got := allOfType(t, l, "p", "image.recorded", limit); !slices.Equal(got, common) {
			t.Errorf("image.recorded in pages of %d: got %v, want %v", limit, got, common)
		}
	}
	if got := allOfType(t, l, "p", "release.created", 3); len(got) != 0 {
		t.Errorf("a type never written: got %v, want none", got)
	}
	// A page of the type reads the type's own items: one page of 2 reads 3 (the one more says
	// there is a next page), however many other events the log holds.
	got, err := l.ListEvents(ctx(t), "p", shiplog.EventFilter{Type: "deployment.failed", Since: 10}, shiplog.PageRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range got.Items {
		ids = append(ids, ev.ID)
	}
	if want := []string{eventID(20), eventID(15), eventID(10)}; !slices.Equal(ids, want) || got.NextCursor != "" {
		t.Errorf("deployment.failed since 10: got %v (cursor %q), want %v", ids, got.NextCursor, want)
	}
	// A cursor of another type's list is refused.
	first, err := l.ListEvents(ctx(t), "p", shiplog.EventFilter{Type: "image.recorded"}, shiplog.PageRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ListEvents(ctx(t), "p", shiplog.EventFilter{Type: "deployment.failed"}, shiplog.PageRequest{Limit: 1, Cursor: first.NextCursor}); !shiplog.IsKind(err, shiplog.Invalid) {
		t.Errorf("a cursor of image.recorded's list for deployment.failed: got %v, want Invalid", err)
	}
}

// testEventsByTypeOld stores a project and events as a ledger did before the type lists: the
// project not marked, the events without copies. Its events of a type are those of its list (the
// newer ones) then those of its log, each once, in order, across pages.
func testEventsByTypeOld(t *testing.T, d ledger.Driver) {
	l := ledger.New(d)
	project := map[string]any{"project_id": "old", "name": "old", "environments": []any{}, "image_repositories": []any{},
		"tag_deployed_images": false, "manifest": "", "version": 1, "mapped_repositories": []any{}}
	put(t, d, stateKey("projects", "old"), project)
	var want []string
	for i := 1; i <= 12; i++ {
		typ := "image.recorded"
		if i%3 == 0 {
			typ = "deployment.failed"
			want = append([]string{eventID(i)}, want...)
		}
		put(t, d, stateKey("project#old", "event#"+eventID(i)), map[string]any{"event_id": eventID(i), "type": typ, "at": i,
			"by": map[string]any{"id": "ci"}, "project_id": "old"})
	}
	for i := 13; i <= 20; i++ {
		typ := "image.recorded"
		if i%3 == 0 {
			typ = "deployment.failed"
			want = append([]string{eventID(i)}, want...)
		}
		pushEvent(t, l, "old", fmt.Sprintf("s%d", i), int64(i), eventID(i), typ)
	}
	for _, limit := range []int{1, 2, 3, 4, 100} {
		if got := allOfType(t, l, "old", "deployment.failed", limit); !slices.Equal(got, want) {
			t.Errorf("deployment.failed of a project registered before the lists, in pages of %d: got %v, want %v", limit, got, want)
		}
	}
	// Registered again, it is still read to its log's end: its old events have no copies.
	if err := l.PutProject(ctx(t), shiplog.Project{ID: "old", Name: "old again"}, shiplog.Event{ID: eventID(21), Type: "project.registered", At: 21, ProjectID: "old"}); err != nil {
		t.Fatal(err)
	}
	if got := allOfType(t, l, "old", "deployment.failed", 2); !slices.Equal(got, want) {
		t.Errorf("deployment.failed after registering again: got %v, want %v", got, want)
	}
}

func testProjectsPaged(t *testing.T, d ledger.Driver) {
	l := ledger.New(d)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("p%02d", i)
		register(t, l, id)
		want = append(want, id)
	}
	for _, limit := range []int{1, 3, 7, 100} {
		var got []string
		page := shiplog.PageRequest{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatalf("projects in pages of %d: more than 10 pages", limit)
			}
			p, err := l.ListProjectsPage(ctx(t), page)
			if err != nil {
				t.Fatalf("projects after %q: %v", page.Cursor, err)
			}
			if len(p.Items) > limit {
				t.Fatalf("projects: a page of %d, more than the limit %d", len(p.Items), limit)
			}
			for _, pr := range p.Items {
				got = append(got, pr.ID)
			}
			if p.NextCursor == "" {
				break
			}
			page.Cursor = p.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Errorf("projects in pages of %d: got %v, want %v", limit, got, want)
		}
	}
	// A cursor of another list ({"pk":"project#p00","sk":"event#x"}) is refused.
	if _, err := l.ListProjectsPage(ctx(t), shiplog.PageRequest{Cursor: "eyJwayI6InByb2plY3QjcDAwIiwic2siOiJldmVudCN4In0"}); !shiplog.IsKind(err, shiplog.Invalid) {
		t.Errorf("projects after a cursor of the event log: got %v, want Invalid", err)
	}
}
