package ledgertest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

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
	t.Run("RuntimeIndex", func(t *testing.T) { testRuntimeIndex(t, newDriver(t)) })
	t.Run("RuntimeIndexOfOldProjects", func(t *testing.T) { testRuntimeIndexOld(t, newDriver(t)) })
	t.Run("DeploymentsSince", func(t *testing.T) { testDeploymentsSince(t, newDriver(t)) })
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

func ecsProject(id string, clusters map[string]string) shiplog.Project {
	p := shiplog.Project{ID: id, Name: id, ImageRepositories: []shiplog.ImageRepository{{ID: "team/" + id, Services: []string{"api", "web"}}}}
	for _, env := range []string{"stage", "prod"} {
		e := shiplog.Environment{ID: env, Name: env}
		if c, ok := clusters[env]; ok {
			e.ECS = &shiplog.ECSTarget{Cluster: c, Services: map[string]string{"web": id + "-web"}}
		}
		p.Environments = append(p.Environments, e)
	}
	return p
}

// matches answers RuntimeMatches as "project/env" strings.
func matches(t *testing.T, l *ledger.Ledger, cluster, service string) ([]string, bool) {
	t.Helper()
	ms, complete, err := l.RuntimeMatches(ctx(t), cluster, service)
	if err != nil {
		t.Fatalf("RuntimeMatches %s/%s: %v", cluster, service, err)
	}
	var out []string
	for _, m := range ms {
		if m.Project.ID == "" {
			t.Errorf("RuntimeMatches %s/%s: a match without its project", cluster, service)
		}
		s := m.Project.ID + "/" + m.Environment
		if m.State != nil {
			s += "@" + m.State.DeploymentID
		}
		out = append(out, s)
	}
	return out, complete
}

// runtimeEntries reads the index's item of an ECS service as stored: its project attributes.
func runtimeEntries(t *testing.T, d ledger.Driver, cluster, service string) map[string]any {
	t.Helper()
	it, ok, err := d.Get(ctx(t), stateKey("ecs#"+cluster, service))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if !ok {
		return out
	}
	var doc map[string]any
	if err := it.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for k, v := range doc {
		if len(k) > 2 && k[:2] == "p/" {
			out[k] = v
		}
	}
	return out
}

func testRuntimeIndex(t *testing.T, d ledger.Driver) {
	l := ledger.New(d)
	// An empty store: the index is completed (there is nothing to index) by the first look.
	if got, complete := matches(t, l, "main", "api"); complete || len(got) != 0 {
		t.Errorf("the first look: got %v, complete %v; want none, not complete", got, complete)
	}
	a := ecsProject("a.b", map[string]string{"stage": "main", "prod": "arn:aws:ecs:eu-west-1:123456789012:cluster/main"})
	if err := l.PutProject(ctx(t), a, shiplog.Event{ID: eventID(1), Type: "project.registered", At: 1, ProjectID: a.ID}); err != nil {
		t.Fatal(err)
	}
	b := ecsProject("b", map[string]string{"prod": "other"})
	if err := l.PutProject(ctx(t), b, shiplog.Event{ID: eventID(2), Type: "project.registered", At: 2, ProjectID: b.ID}); err != nil {
		t.Fatal(err)
	}
	// Written with the registration: one attribute per project, the environments that run it.
	if diff := cmp.Diff(map[string]any{"p/a/b": []any{"prod", "stage"}}, runtimeEntries(t, d, "main", "a.b-web")); diff != "" {
		t.Errorf("index item main/a.b-web (-want +got):\n%s", diff)
	}
	err := l.WriteEnvironments(ctx(t), []shiplog.EnvironmentWrite{{State: shiplog.EnvironmentState{ProjectID: "a.b", Environment: shiplog.Environment{ID: "prod"}, DeploymentID: "D1", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cluster, service string
		want             []string
	}{
		{"main", "api", []string{"a.b/prod@D1", "a.b/stage"}},
		{"main", "a.b-web", []string{"a.b/prod@D1", "a.b/stage"}},
		{"main", "web", nil},
		{"other", "api", []string{"b/prod"}},
		{"other", "b-web", []string{"b/prod"}},
		{"nowhere", "api", nil},
	} {
		got, complete := matches(t, l, c.cluster, c.service)
		if !complete || !slices.Equal(got, c.want) {
			t.Errorf("%s/%s: got %v (complete %v), want %v", c.cluster, c.service, got, complete, c.want)
		}
	}
	// Registered again with stage elsewhere and prod without ECS: the entries follow, in the
	// registration's write.
	a2 := ecsProject("a.b", map[string]string{"stage": "other"})
	if err := l.PutProject(ctx(t), a2, shiplog.Event{ID: eventID(3), Type: "project.registered", At: 3, ProjectID: a2.ID}); err != nil {
		t.Fatal(err)
	}
	if got := runtimeEntries(t, d, "main", "api"); len(got) != 0 {
		t.Errorf("index item main/api after a.b left the cluster: got %v, want no project", got)
	}
	if got, _ := matches(t, l, "other", "api"); !slices.Equal(got, []string{"a.b/stage", "b/prod"}) {
		t.Errorf("other/api after a.b moved stage there: got %v", got)
	}
	// A registration refused (it drops prod, which has a state) changes no entry.
	a3 := ecsProject("a.b", map[string]string{"stage": "third"})
	a3.Environments = a3.Environments[:1]
	if err := l.PutProject(ctx(t), a3, shiplog.Event{ID: eventID(4), Type: "project.registered", At: 4, ProjectID: a3.ID}); err == nil {
		t.Fatal("a registration that drops a deployed environment was accepted")
	}
	if got := runtimeEntries(t, d, "third", "api"); len(got) != 0 {
		t.Errorf("index item third/api after a refused registration: got %v, want none", got)
	}
	// An entry left behind (as by a registration in several writes, interrupted) is not a match.
	if err := d.Write(ctx(t), []ledger.Op{{Key: stateKey("ecs#main", "api"), Update: []ledger.Change{{Kind: ledger.Set, Attr: "p/b", Value: []string{"prod"}}}}}); err != nil {
		t.Fatal(err)
	}
	if got, complete := matches(t, l, "main", "api"); !complete || len(got) != 0 {
		t.Errorf("main/api with an entry left behind: got %v (complete %v), want none", got, complete)
	}
}

// testRuntimeIndexOld stores projects as a ledger did before the runtime index: the first look
// says the index is incomplete (the caller looks through the projects), and completes it.
func testRuntimeIndexOld(t *testing.T, d ledger.Driver) {
	l := ledger.New(d)
	for _, id := range []string{"x", "y"} {
		p := ecsProject(id, map[string]string{"prod": "main"})
		put(t, d, stateKey("projects", id), map[string]any{"project_id": id, "name": id, "environments": p.Environments,
			"image_repositories": p.ImageRepositories, "tag_deployed_images": false, "manifest": "", "version": 1, "mapped_repositories": []any{}})
	}
	if got, complete := matches(t, l, "main", "api"); complete || len(got) != 0 {
		t.Errorf("the first look at old projects: got %v, complete %v; want none, not complete", got, complete)
	}
	if got, complete := matches(t, l, "main", "api"); !complete || !slices.Equal(got, []string{"x/prod", "y/prod"}) {
		t.Errorf("after the index was completed: got %v (complete %v), want x/prod, y/prod", got, complete)
	}
	if got, complete := matches(t, l, "main", "y-web"); !complete || !slices.Equal(got, []string{"y/prod"}) {
		t.Errorf("main/y-web: got %v (complete %v), want y/prod", got, complete)
	}
}

// testDeploymentsSince: an environment's deployments since a time are a key range of its listing
// (ids are ULIDs of their creation), read whole, newest first; what a deploy records for the
// metrics (Leads, the state's Pushed) is stored and read back.
func testDeploymentsSince(t *testing.T, d ledger.Driver) {
	l := ledger.New(d)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := base
	ids := shiplog.NewULIDGenerator(func() time.Time { return clock })
	dep := func(id, env string, at int64, leads *shiplog.Leads) shiplog.DeploymentRecord {
		return shiplog.DeploymentRecord{ProjectID: "p", ReleaseID: "R1", Deployment: shiplog.Deployment{ID: id,
			Environment: shiplog.Environment{ID: env}, CreatedAt: at, Status: shiplog.StatusApplied, Leads: leads}}
	}
	var all []shiplog.DeploymentRecord
	for i := range 12 {
		clock = base.Add(time.Duration(i) * time.Hour)
		all = append(all, dep(ids(), "prod", clock.Unix(), &shiplog.Leads{Images: []shiplog.ImageLead{{URI: fmt.Sprintf("img:%d", i), PushedAt: clock.Unix() - 60}}}))
	}
	// Another environment whose id starts with this one's, and a deployment whose id is not a
	// ULID (as a Service with another NewID makes), recorded before Leads.
	all = append(all, dep(ids(), "prod.eu", base.Add(5*time.Hour).Unix(), nil), dep("legacy-1", "prod", base.Add(7*time.Hour+time.Minute).Unix(), nil))
	for chunk := range slices.Chunk(all, 6) {
		var im ledger.Import
		for _, r := range chunk {
			im.Deployment(r, true)
		}
		if err := im.Write(ctx(t), d); err != nil {
			t.Fatal(err)
		}
	}
	since := base.Add(7 * time.Hour).Unix()
	got, err := l.DeploymentsSince(ctx(t), "p", "prod", since)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, r := range got {
		gotIDs = append(gotIDs, r.ID)
	}
	want := []string{"legacy-1"} // above every ULID: first in a newest-first read of ids
	for i := 11; i >= 7; i-- {
		want = append(want, all[i].ID)
	}
	if !slices.Equal(gotIDs, want) {
		t.Errorf("prod's deployments since 07:00: got %v, want %v", gotIDs, want)
	}
	if len(got) > 1 && (got[1].Leads == nil || len(got[1].Leads.Images) != 1 || got[1].Leads.Images[0].URI != "img:11") {
		t.Errorf("the newest deployment's leads: got %+v, want img:11", got[1].Leads)
	}
	// legacy-1 is read (its id is above the range's floor) and dropped by its created_at.
	if got, err := l.DeploymentsSince(ctx(t), "p", "prod", base.Add(24*time.Hour).Unix()); err != nil || len(got) != 0 {
		t.Errorf("since after every deployment: got %d (%v), want none", len(got), err)
	}
	// A deploy's write stores its Leads and the state's Pushed, in the one write.
	w := shiplog.EnvironmentWrite{State: shiplog.EnvironmentState{ProjectID: "p", Environment: shiplog.Environment{ID: "stage"}, DeploymentID: "D9",
		Pushed: map[string]int64{"api": 7}, PushedTracked: true, Version: 1}}
	if err := l.WriteEnvironments(ctx(t), []shiplog.EnvironmentWrite{w}); err != nil {
		t.Fatal(err)
	}
	states, err := l.EnvironmentStates(ctx(t), "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || !states[0].PushedTracked || states[0].Pushed["api"] != 7 {
		t.Errorf("stage's state: got %+v, want pushed api 7, tracked", states)
	}
	testPushTimes(t, d, l)
}

// testPushTimes: a state's push times (those of the images it runs, for change notes, and the
// newest it ran, for the metrics) are stored once, as push_times, and read back as both; a state
// written before push_times, with pushed_at and pushed, is read as it was.
func testPushTimes(t *testing.T, d ledger.Driver, l *ledger.Ledger) {
	t.Helper()
	// After a rollback: api runs an image pushed at 5, having run one pushed at 9; web runs what
	// it newest ran; worker ran an image here and runs none now.
	st := shiplog.EnvironmentState{ProjectID: "times", Environment: shiplog.Environment{ID: "prod"}, DeploymentID: "D2",
		Images:   map[string]string{"api": "img:api5", "web": "img:web3"},
		PushedAt: map[string]int64{"api": 5, "web": 3}, Pushed: map[string]int64{"api": 9, "web": 3, "worker": 4}, PushedTracked: true, Version: 1}
	if err := l.WriteEnvironments(ctx(t), []shiplog.EnvironmentWrite{{State: st}}); err != nil {
		t.Fatal(err)
	}
	raw := get[map[string]any](t, d, stateKey("project#times", "env#prod"))
	if raw == nil {
		t.Fatal("prod's state of times: not stored")
	}
	for _, old := range []string{"pushed_at", "pushed"} {
		if _, ok := (*raw)[old]; ok {
			t.Errorf("prod's stored state has %s: push times are stored once, in push_times (%v)", old, *raw)
		}
	}
	if _, ok := (*raw)["push_times"]; !ok {
		t.Errorf("prod's stored state has no push_times: %v", *raw)
	}
	readTimes := func(name string) shiplog.EnvironmentState {
		t.Helper()
		states, err := l.EnvironmentStates(ctx(t), "times")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.Environment.ID == "prod" {
				return s
			}
		}
		t.Fatalf("%s: prod's state not read back: %+v", name, states)
		return shiplog.EnvironmentState{}
	}
	got := readTimes("push_times")
	if !maps.Equal(got.PushedAt, st.PushedAt) || !maps.Equal(got.Pushed, st.Pushed) || !got.PushedTracked {
		t.Errorf("push times read back: got pushed_at %v, pushed %v (tracked %t); want %v, %v, tracked", got.PushedAt, got.Pushed, got.PushedTracked, st.PushedAt, st.Pushed)
	}

	// As the ledger stored it before push_times: both maps, and a state that predates pushed.
	old := map[string]any{"project_id": "times", "environment": map[string]any{"id": "prod"}, "release_id": "R1", "deployment_id": "D1",
		"deployed_at": 10, "requested_by": map[string]any{"id": "ci"}, "description": "", "images": map[string]any{"api": "img:api5"},
		"pushed_at": map[string]any{"api": 5}, "pushed": map[string]any{"api": 9, "worker": 4}, "pushed_tracked": true, "version": 2}
	put(t, d, stateKey("project#times", "env#prod"), old)
	got = readTimes("pushed_at and pushed")
	if !maps.Equal(got.PushedAt, map[string]int64{"api": 5}) || !maps.Equal(got.Pushed, map[string]int64{"api": 9, "worker": 4}) || !got.PushedTracked {
		t.Errorf("a state stored with pushed_at and pushed: got pushed_at %v, pushed %v (tracked %t); want api 5, api 9 worker 4, tracked", got.PushedAt, got.Pushed, got.PushedTracked)
	}
	delete(old, "pushed")
	delete(old, "pushed_tracked")
	put(t, d, stateKey("project#times", "env#prod"), old)
	got = readTimes("pushed_at alone")
	if !maps.Equal(got.PushedAt, map[string]int64{"api": 5}) || got.Pushed != nil || got.PushedTracked {
		t.Errorf("a state stored before pushed: got pushed_at %v, pushed %v (tracked %t); want api 5, none, untracked", got.PushedAt, got.Pushed, got.PushedTracked)
	}
}
