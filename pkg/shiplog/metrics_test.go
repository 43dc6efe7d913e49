package shiplog_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// set puts the clock at t.
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// minute is start plus m minutes.
func minute(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }

// history builds a project's record through the real Service, each step at a minute after start
// that it names.
type history struct {
	t *testing.T
	h *harness
}

func (hi *history) at(m int) *history {
	hi.h.clock.set(minute(m))
	return hi
}

// push records a push of image n of one of storage's repositories, dated pushed minutes after
// start (at or before the clock).
func (hi *history) push(repository string, n, pushed int) {
	hi.t.Helper()
	_, err := hi.h.svc.RecordPush(hi.t.Context(), shiplog.ImagePush{
		Account: "760097843905", Region: "eu-west-1", Repository: repository, Digest: digest(n), Tag: "v",
		Action: "PUSH", Result: "SUCCESS", Time: minute(pushed),
	})
	if err != nil {
		hi.t.Fatalf("push %s %d: %v", repository, n, err)
	}
}

func (hi *history) release() shiplog.Release {
	hi.t.Helper()
	r, err := hi.h.svc.CreateRelease(hi.t.Context(), shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: alice})
	if err != nil {
		hi.t.Fatalf("CreateRelease: %v", err)
	}
	return r
}

func (hi *history) deploy(r shiplog.Release, env string) shiplog.Deployment {
	hi.t.Helper()
	res, err := hi.h.svc.Deploy(hi.t.Context(), shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: env, RequestedBy: alice})
	if err != nil {
		hi.t.Fatalf("Deploy %s to %s: %v", r.ID, env, err)
	}
	return res.Deployment
}

func (hi *history) rollback(env, to string) shiplog.Deployment {
	hi.t.Helper()
	res, err := hi.h.svc.Rollback(hi.t.Context(), shiplog.RollbackInput{ProjectID: "storage", Environment: env, Reason: "broken", ToDeployment: to, RequestedBy: alice})
	if err != nil {
		hi.t.Fatalf("Rollback %s: %v", env, err)
	}
	return res.Deployment
}

func (hi *history) report(d shiplog.Deployment, status string) {
	hi.t.Helper()
	_, err := hi.h.svc.ReportStatus(hi.t.Context(), shiplog.ReportInput{ProjectID: "storage", DeploymentID: d.ID, Status: status, By: alice})
	if err != nil {
		hi.t.Fatalf("report %s %s: %v", d.ID, status, err)
	}
}

// pushAll pushes image n of each of storage's four repositories (bag_verifier feeds two services).
func (hi *history) pushAll(n, pushed int) {
	for _, repo := range []string{"uk.ac.wellcome/archivist", "uk.ac.wellcome/bag-register", "uk.ac.wellcome/bag_verifier", "uk.ac.wellcome/notifier"} {
		hi.push(repo, n, pushed)
	}
}

func (hi *history) metrics(in shiplog.MetricsInput) shiplog.Metrics {
	hi.t.Helper()
	in.ProjectID = "storage"
	m, err := hi.h.svc.Metrics(hi.t.Context(), in)
	if err != nil {
		hi.t.Fatalf("Metrics %+v: %v", in, err)
	}
	return m
}

func unix(m int) int64 { return minute(m).Unix() }

// secs is a median's or a percentile's value.
func secs(v int64) *int64 { return &v }

// TestMetrics checks every number of the metrics of a history built by hand against the values
// worked out by hand in the comments. Times are minutes after start (T). It does so twice: as the
// deploys recorded it (each deployment with its lead times: no release is read), and as a store
// written before deploys worked them out holds it (no deployment has Leads, no state Pushed: the
// metrics read the releases and the history before the window, and say the same).
func TestMetrics(t *testing.T) {
	t.Run("recorded", func(t *testing.T) { testMetrics(t, false) })
	t.Run("before leads", func(t *testing.T) { testMetrics(t, true) })
}

// releaseReads counts the releases a Store is asked for.
type releaseReads struct {
	shiplog.Store
	mu sync.Mutex
	n  int
}

func (s *releaseReads) GetRelease(ctx context.Context, projectID, releaseID string) (shiplog.Release, error) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return s.Store.GetRelease(ctx, projectID, releaseID)
}

// forgetLeads rewrites storage's deployments and states as a ledger wrote them before deploys
// worked out lead times: without leads and pushed_tracked, and with the push times of what each
// environment runs as they were stored then (pushed_at, beside push_times' newest, which goes):
// so the states are also read through the fallback for records written before push_times.
func forgetLeads(t *testing.T, store *memstore.Store) {
	t.Helper()
	d := store.Driver()
	items, err := d.Query(t.Context(), ledger.Query{Table: ledger.State, PK: "project#storage"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range items {
		var doc map[string]any
		if err := it.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		_, leads := doc["leads"]
		_, tracked := doc["pushed_tracked"]
		if !leads && !tracked {
			continue
		}
		delete(doc, "leads")
		delete(doc, "pushed_tracked")
		if times, ok := doc["push_times"].(map[string]any); ok {
			at := map[string]any{}
			for svc, v := range times {
				if t, ok := v.(map[string]any)["at"]; ok {
					at[svc] = t
				}
			}
			delete(doc, "push_times")
			doc["pushed_at"] = at
		}
		if err := d.Write(t.Context(), []ledger.Op{{Key: it.Key, Put: doc}}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("forgetLeads: no deployment or state had leads to forget")
	}
}

func testMetrics(t *testing.T, forget bool) {
	hi := &history{t: t, h: newHarness(t)}

	// Before the window.
	hi.at(0).pushAll(1, 0)             // archivist a1, bag-register b1, verifier v1 (both services), notifier n1, pushed T+0
	r1 := hi.at(10).release()          // R1: every image pushed at T+0
	d1 := hi.at(20).deploy(r1, "prod") // D1: a1 b1 v1 n1 run in prod from here on
	hi.at(30).report(d1, shiplog.StatusVerified)

	// The window is [T+120, T+420).
	hi.at(100).push("uk.ac.wellcome/archivist", 2, 100)
	r2 := hi.at(110).release()          // R2: a2 (pushed T+100) and b1 v1 n1 (pushed T+0)
	d2 := hi.at(120).deploy(r2, "prod") // D2, created exactly at since: in the window. a2 is new: lead 120-100 = 20 min
	hi.at(130).report(d2, shiplog.StatusFailed)
	d3 := hi.at(140).rollback("prod", "")         // D3 reverts D2 (back to R1); D2 failed at T+130, the earlier of its two failures
	hi.at(150).report(d3, shiplog.StatusVerified) // restores D2: 150-130 = 20 min

	hi.at(200).push("uk.ac.wellcome/bag_verifier", 3, 200)
	hi.push("uk.ac.wellcome/notifier", 3, 180) // delivered late: pushed at T+180
	r3 := hi.at(210).release()                 // R3: a2 (T+100) b1 (T+0) v3 (T+200) n3 (T+180)
	hi.at(240).deploy(r3, "prod")              // D4: a2 ran in D2 already; v3 new: 240-200 = 40 min (once, for two services); n3 new: 240-180 = 60 min

	// bag-register's image is put under latest by hand: R4 has no push time for it.
	if err := hi.h.store.PutParameters(t.Context(), map[string]string{
		shiplog.ParameterName("storage", "latest", "bag-register"): image("uk.ac.wellcome/bag-register", 4),
	}); err != nil {
		t.Fatal(err)
	}
	r4 := hi.at(290).release()          // R4: a2 b4 v3 n3
	d5 := hi.at(300).deploy(r4, "prod") // D5: b4 is new but has no push time: left out of lead time
	hi.at(310).report(d5, shiplog.StatusFailed)
	hi.at(320).deploy(r3, "prod") // D6: R3 again, nothing new; never reported

	// After the window.
	d7 := hi.at(420).rollback("prod", d3.ID)      // D7, created exactly at until: out of the window. It reverts D6: D6 failed at T+420
	hi.at(430).report(d7, shiplog.StatusVerified) // restores D5 (430-310 = 120 min; D6 was never verified) and D6 (430-420 = 10 min)

	// The releases recorded their images' push times, except the hand-put one.
	wantPushed := map[string]int64{"archivist": unix(100), "bag-register": unix(0), "bag_verifier_pre_replication": unix(0),
		"bag_verifier_post_replication": unix(0), "notifier": unix(0)}
	diff(t, "R2's push times", r2.PushedAt, wantPushed)
	got, err := hi.h.svc.Release(t.Context(), "storage", r4.ID)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "R4's push times, read back", got.PushedAt, map[string]int64{"archivist": unix(100), "bag_verifier_pre_replication": unix(200),
		"bag_verifier_post_replication": unix(200), "notifier": unix(180)})

	if forget {
		forgetLeads(t, hi.h.store)
	}
	reads := &releaseReads{Store: hi.h.svc.Store}
	hi.h.svc.Store = reads
	m := hi.metrics(shiplog.MetricsInput{Environment: "prod", Since: unix(120), Until: unix(420)})
	if forget != (reads.n > 0) {
		t.Errorf("metrics of prod over [T+120, T+420) read %d releases; want some only for deployments without Leads (%v)", reads.n, forget)
	}
	want := shiplog.Metrics{
		ProjectID: "storage", Environment: "prod", Since: unix(120), Until: unix(420),
		// D2..D6. The window is 300 minutes = 18,000 s = 5/24 of a day:
		// 5 / (18000/86400) = 24 per day, 5 / (18000/604800) = 168 per week.
		Deployments:         5,
		DeploymentFrequency: shiplog.DeploymentFrequency{PerDay: 24, PerWeek: 168},
		// a2 1200 s, v3 2400 s, n3 3600 s (a1 b1 v1 n1 ran in D1, before the window; b4 has no
		// push time). Nearest rank: median rank ⌈0.5·3⌉ = 2, p90 rank ⌈0.9·3⌉ = 3.
		LeadTime: shiplog.LeadTime{Count: 3, Median: secs(2400), P90: secs(3600)},
		// D2 (failed, and rolled back), D5 (failed), D6 (rolled back after the window); D3 was
		// verified and D4 superseded. 3/5.
		ChangeFailureRate: shiplog.ChangeFailureRate{Failed: 3, Total: 5, Rate: 0.6},
		// D2 1200 s, D5 7200 s, D6 600 s: sorted 600, 1200, 7200; median rank 2, p90 rank 3.
		TimeToRestore: shiplog.TimeToRestore{Count: 3, Median: secs(1200), P90: secs(7200)},
	}
	diff(t, "metrics of prod over [T+120, T+420)", m, want)

	// The default window: the 30 days to now (T+430) and its second, which holds D1..D7.
	m = hi.metrics(shiplog.MetricsInput{Environment: "prod"})
	want = shiplog.Metrics{
		ProjectID: "storage", Environment: "prod", Since: unix(430) + 1 - 30*86400, Until: unix(430) + 1,
		// 7 in 30 days: 7/30 per day, 7/(30/7) = 49/30 per week.
		Deployments:         7,
		DeploymentFrequency: shiplog.DeploymentFrequency{PerDay: 7.0 / 30, PerWeek: 49.0 / 30},
		// Now D1 is in the window: a1 b1 v1 n1, 20 min each, then a2 20, v3 40, n3 60 min: 1200
		// ×5, 2400, 3600. Median rank ⌈3.5⌉ = 4: 1200; p90 rank ⌈6.3⌉ = 7: 3600.
		LeadTime: shiplog.LeadTime{Count: 7, Median: secs(1200), P90: secs(3600)},
		// D2, D5, D6 of seven (D1, D3, D7 verified, D4 superseded).
		ChangeFailureRate: shiplog.ChangeFailureRate{Failed: 3, Total: 7, Rate: 3.0 / 7},
		TimeToRestore:     shiplog.TimeToRestore{Count: 3, Median: secs(1200), P90: secs(7200)},
	}
	diff(t, "metrics of prod over the default window", m, want)

	// Until alone: since is 30 days before it. [T+430-30d, T+200) holds D1..D3.
	m = hi.metrics(shiplog.MetricsInput{Environment: "prod", Until: unix(200)})
	if m.Since != unix(200)-30*86400 || m.Deployments != 3 {
		t.Errorf("metrics with until only: got since %d and %d deployments, want %d and 3", m.Since, m.Deployments, unix(200)-30*86400)
	}
	// D2 failed, restored by D3; D3 verified. Lead: a1 b1 v1 n1 (D1) and a2 (D2), 20 min each.
	diff(t, "lead time until T+200", m.LeadTime, shiplog.LeadTime{Count: 5, Median: secs(1200), P90: secs(1200)})
	diff(t, "change failure rate until T+200", m.ChangeFailureRate, shiplog.ChangeFailureRate{Failed: 1, Total: 3, Rate: 1.0 / 3})
	diff(t, "time to restore until T+200", m.TimeToRestore, shiplog.TimeToRestore{Count: 1, Median: secs(1200), P90: secs(1200)})

	// A window with nothing in it, in an environment with a history, and in one without.
	for _, env := range []string{"prod", "stage"} {
		m = hi.metrics(shiplog.MetricsInput{Environment: env, Since: unix(-7 * 24 * 60), Until: unix(0)})
		diff(t, "metrics of an empty window in "+env, m, shiplog.Metrics{ProjectID: "storage", Environment: env, Since: unix(-7 * 24 * 60), Until: unix(0)})
	}
}

// TestMetricsUnverifiedAndOneSample: a failure nothing restored yet, and percentiles of one sample.
// TestMetricsDefaultWindowIncludesNow: a deployment made in the current second counts in the
// default window at once; "right after a deploy, metrics says 0" would be wrong. The window
// stays [since, until), so an explicit until of now still leaves that second out.
func TestMetricsDefaultWindowIncludesNow(t *testing.T) {
	hi := &history{t: t, h: newHarness(t)}
	hi.at(0).pushAll(1, 0)
	d := hi.deploy(hi.release(), "stage")
	hi.h.clock.set(minute(0).Add(900 * time.Millisecond)) // later in the same second
	m := hi.metrics(shiplog.MetricsInput{Environment: "stage"})
	if m.Deployments != 1 || m.ChangeFailureRate.Total != 1 {
		t.Errorf("metrics right after a deploy at %d: got %d deployments in [%d, %d), want 1", d.CreatedAt, m.Deployments, m.Since, m.Until)
	}
	if want := unix(0) + 1; m.Until != want || m.Since != want-30*86400 {
		t.Errorf("default window: got [%d, %d), want [%d, %d): the 30 days up to the end of the current second", m.Since, m.Until, want-30*86400, want)
	}
	if m := hi.metrics(shiplog.MetricsInput{Environment: "stage", Until: unix(0)}); m.Deployments != 0 {
		t.Errorf("metrics until %d (exclusive): got %d deployments, want 0", unix(0), m.Deployments)
	}
}

func TestMetricsUnverifiedAndOneSample(t *testing.T) {
	hi := &history{t: t, h: newHarness(t)}
	// Only archivist's image is pushed; the others are put under latest by hand.
	hi.h.seedLabel(t, "latest", 1, "bag-register", "bag_verifier_pre_replication", "bag_verifier_post_replication", "notifier")
	hi.at(0).push("uk.ac.wellcome/archivist", 1, 0)
	r1 := hi.at(5).release()
	d1 := hi.at(17).deploy(r1, "stage") // a1: 17 min = 1020 s, the one sample
	hi.at(20).report(d1, shiplog.StatusFailed)
	hi.at(30).deploy(r1, "stage") // applied, never verified

	m := hi.metrics(shiplog.MetricsInput{Environment: "stage", Since: unix(0), Until: unix(24 * 60)})
	want := shiplog.Metrics{
		ProjectID: "storage", Environment: "stage", Since: unix(0), Until: unix(24 * 60),
		// Two in one day: 2 per day, 14 per week.
		Deployments:         2,
		DeploymentFrequency: shiplog.DeploymentFrequency{PerDay: 2, PerWeek: 14},
		LeadTime:            shiplog.LeadTime{Count: 1, Median: secs(1020), P90: secs(1020)},
		ChangeFailureRate:   shiplog.ChangeFailureRate{Failed: 1, Total: 2, Rate: 0.5},
		// D1 failed and no deployment since became verified.
		TimeToRestore: shiplog.TimeToRestore{Unrestored: 1},
	}
	diff(t, "metrics with no verified deployment", m, want)
}

// TestMetricsLooksBackPastAPage: an image that ran only in a deployment more than a page (100)
// before the window is not new in it.
func TestMetricsLooksBackPastAPage(t *testing.T) {
	hi := &history{t: t, h: newHarness(t)}
	hi.at(0).pushAll(1, 0)
	r1 := hi.at(1).release()
	hi.at(2).deploy(r1, "stage")
	hi.at(3).pushAll(2, 3)
	r2 := hi.at(4).release()
	for i := range shiplog.MaxPageLimit + 5 {
		hi.at(10+i).deploy(r2, "stage")
	}
	// The window holds one deployment, of R1 again: none of its images is new.
	d := hi.at(200).deploy(r1, "stage")
	m := hi.metrics(shiplog.MetricsInput{Environment: "stage", Since: d.CreatedAt, Until: d.CreatedAt + 86400})
	if m.Deployments != 1 || m.LeadTime.Count != 0 {
		t.Errorf("got %d deployments and %d lead time samples, want 1 and 0: R1's images ran %d deployments before",
			m.Deployments, m.LeadTime.Count, shiplog.MaxPageLimit+5)
	}
	// Over the whole history, R1's four images and R2's: 2 min (deployed T+2, pushed T+0) and 7
	// min (T+10, T+3), four of each. Median rank 4: 120 s; p90 rank ⌈7.2⌉ = 8: 420 s.
	m = hi.metrics(shiplog.MetricsInput{Environment: "stage", Since: unix(0), Until: d.CreatedAt + 1})
	diff(t, "lead time over the whole history", m.LeadTime, shiplog.LeadTime{Count: 8, Median: secs(120), P90: secs(420)})
	if m.Deployments != shiplog.MaxPageLimit+7 {
		t.Errorf("deployments over the whole history: got %d, want %d", m.Deployments, shiplog.MaxPageLimit+7)
	}
}

func TestMetricsRejects(t *testing.T) {
	h := newHarness(t)
	h.clock.set(minute(0))
	now := minute(0).Unix()
	for _, tt := range []struct {
		name  string
		in    shiplog.MetricsInput
		kind  shiplog.Kind
		parts []string
	}{
		{"no environment", shiplog.MetricsInput{ProjectID: "storage"}, shiplog.Invalid, []string{"environment: is required"}},
		{"a bad environment id", shiplog.MetricsInput{ProjectID: "storage", Environment: "../x"}, shiplog.Invalid, []string{"environment"}},
		{"an unknown environment", shiplog.MetricsInput{ProjectID: "storage", Environment: "prd"}, shiplog.NotFound, []string{`"prd"`, "stage, prod"}},
		{"an unknown project", shiplog.MetricsInput{ProjectID: "nope", Environment: "prod"}, shiplog.NotFound, []string{`"nope"`, "not registered"}},
		{"since after until", shiplog.MetricsInput{ProjectID: "storage", Environment: "prod", Since: now, Until: now - 1}, shiplog.Invalid, []string{"since", "not before until"}},
		{"since equal to until", shiplog.MetricsInput{ProjectID: "storage", Environment: "prod", Since: now, Until: now}, shiplog.Invalid, []string{"empty"}},
		{"since in the future, until now", shiplog.MetricsInput{ProjectID: "storage", Environment: "prod", Since: now + 60}, shiplog.Invalid, []string{"now, by default"}},
		{"a window of 367 days", shiplog.MetricsInput{ProjectID: "storage", Environment: "prod", Since: now - 367*86400, Until: now}, shiplog.Invalid, []string{"367.0 days", "366 days"}},
		{"a negative since", shiplog.MetricsInput{ProjectID: "storage", Environment: "prod", Since: -1}, shiplog.Invalid, []string{"since", "1970"}},
		{"a negative until", shiplog.MetricsInput{ProjectID: "storage", Environment: "prod", Until: -1}, shiplog.Invalid, []string{"until", "1970"}},
	} {
		_, err := h.svc.Metrics(t.Context(), tt.in)
		wantError(t, tt.name, err, tt.kind, tt.parts...)
	}
	// 366 days exactly is allowed.
	if _, err := h.svc.Metrics(t.Context(), shiplog.MetricsInput{ProjectID: "storage", Environment: "prod", Since: now - 366*86400, Until: now}); err != nil {
		t.Errorf("a window of 366 days: %v", err)
	}
}

func TestPercentile(t *testing.T) {
	seq := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(i + 1)
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		samples []int64
		p       int
		want    int64
	}{
		{"none", nil, 50, 0},
		{"one, median", []int64{7}, 50, 7},
		{"one, p90", []int64{7}, 90, 7},
		{"two, median is the lower", []int64{1, 2}, 50, 1},
		{"two, p90", []int64{1, 2}, 90, 2},
		{"three, median", []int64{1, 5, 9}, 50, 5},
		{"ten, p90 is the ninth", seq(10), 90, 9},
		{"eleven, p90 is the tenth", seq(11), 90, 10},
		{"twenty, p90 is the eighteenth", seq(20), 90, 18},
		{"ten, p100 is the largest", seq(10), 100, 10},
		{"ten, p1 is the smallest", seq(10), 1, 1},
	} {
		if got := shiplog.Percentile(tt.samples, tt.p); got != tt.want {
			t.Errorf("%s: Percentile(%v, %d): got %d, want %d", tt.name, tt.samples, tt.p, got, tt.want)
		}
	}
}
