package notify_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/memstore"
	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

var update = flag.Bool("update", false, "rewrite the golden payloads in testdata")

// clock is the test's time: 2026-11-20 10:00 UTC, moved only by the Notifier's sleeps.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	slept  []time.Duration
	sleeps int
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return ctx.Err()
}

// receiver is a local destination: it records what it is sent, and answers with the statuses
// it is told to, in order, then 200.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	answers  []int
	retryHdr string
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	r := &receiver{answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bodies = append(r.bodies, body)
		r.headers = append(r.headers, req.Header.Clone())
		if len(r.answers) > 0 {
			code := r.answers[0]
			r.answers = r.answers[1:]
			if r.retryHdr != "" {
				w.Header().Set("Retry-After", r.retryHdr)
			}
			w.WriteHeader(code)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.bodies) }

type deadLetters struct {
	mu   sync.Mutex
	msgs []string
}

func (d *deadLetters) Send(ctx context.Context, body string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, body)
	return nil
}

const secret = "s3cr3t-of-the-receiver"

type fixture struct {
	n                     *notify.Notifier
	clock                 *clock
	dead                  *deadLetters
	slack, teams, webhook *receiver
}

func newFixture(t *testing.T, slackAnswers []int, webhookAnswers ...int) *fixture {
	f := &fixture{clock: &clock{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}, dead: &deadLetters{}}
	f.slack = newReceiver(t, slackAnswers...)
	f.teams = newReceiver(t)
	f.webhook = newReceiver(t, webhookAnswers...)
	cfg, err := notify.ParseConfig([]byte(`{
		"dashboard_url": "https://shiplog.example.org",
		"destinations": {
			"oncall": {"type": "slack", "url": "` + f.slack.srv.URL + `"},
			"team": {"type": "teams", "url": "` + f.teams.srv.URL + `"},
			"audit": {"type": "webhook", "url": "` + f.webhook.srv.URL + `", "secret": "` + secret + `"}
		},
		"routes": [
			{"projects": ["storage"], "environments": ["prod"], "events": ["deployment.failed", "deployment.requested:rollback"], "to": ["oncall"]},
			{"projects": ["*"], "environments": ["stage"], "events": ["deployment.*"], "to": ["team"]},
			{"events": ["*"], "to": ["audit"]}
		]}`))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	f.n = &notify.Notifier{
		Config: func(context.Context) (notify.Config, error) { return cfg, nil },
		Claims: memstore.New(), Dead: f.dead, Now: f.clock.Now, Sleep: f.clock.Sleep,
	}
	return f
}

var (
	failedInProd = shiplog.Event{ID: "01JD0Z8K3Q4W5E6R7T8Y9U0I1A", Type: shiplog.EventDeploymentFailed, At: 1795687200,
		By: shiplog.Person{ID: "ecs", Name: "Amazon ECS"}, ProjectID: "storage", Environment: "prod",
		ReleaseID: "01JD0Z8K3Q4W5E6R7T8Y9U0REL", DeploymentID: "01JD0Z8K3Q4W5E6R7T8Y9U0DEP",
		Detail: map[string]string{"detail": "service archivist: 3 tasks stopped (Essential container in task exited)"}}
	promotedToStage = shiplog.Event{ID: "01JD0Z8K3Q4W5E6R7T8Y9U0I1B", Type: shiplog.EventDeploymentRequested, At: 1795687100,
		By: shiplog.Person{ID: "arn:aws:iam::760097843905:user/alice", Name: "alice", Via: shiplog.ViaAPI}, ProjectID: "storage", Environment: "stage",
		ReleaseID: "01JD0Z8K3Q4W5E6R7T8Y9U0REL", DeploymentID: "01JD0Z8K3Q4W5E6R7T8Y9U0DP2",
		Detail: map[string]string{"kind": "promote", "promoted_from": "dev", "description": "weekly <release> & fixes",
			"revision.archivist": "1111111111111111111111111111111111111111..2222222222222222222222222222222222222222",
			"compare.archivist":  "https://github.com/wellcomecollection/storage-service/compare/1111111111111111111111111111111111111111...2222222222222222222222222222222222222222",
			"revision.notifier":  "333333333333..444444444444", "backwards.notifier": "true"}}
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: not JSON: %v", name, err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, append(pretty, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/notify -update to write it)", err)
	}
	if string(want) != string(pretty)+"\n" {
		t.Errorf("%s: got\n%s\nwant\n%s", name, pretty, want)
	}
}

// TestRouting and golden payloads: each event goes where its routes say, once each, in the
// destination's form; the webhook's receiver verifies the signature and would refuse a replay.
func TestDeliver(t *testing.T) {
	f := newFixture(t, nil)
	out, err := f.n.Deliver(t.Context(), failedInProd)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	want := map[string]string{"oncall": "delivered", "audit": "delivered"}
	if len(out.Destinations) != 2 || out.Destinations["oncall"] != want["oncall"] || out.Destinations["audit"] != want["audit"] {
		t.Errorf("outcome: got %v, want %v", out.Destinations, want)
	}
	if _, err := f.n.Deliver(t.Context(), promotedToStage); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if f.slack.count() != 1 || f.teams.count() != 1 || f.webhook.count() != 2 {
		t.Fatalf("messages: slack %d, teams %d, webhook %d; want 1, 1, 2", f.slack.count(), f.teams.count(), f.webhook.count())
	}
	golden(t, "slack-deployment-failed.json", f.slack.bodies[0])
	golden(t, "teams-deployment-promoted.json", f.teams.bodies[0])
	golden(t, "webhook-deployment-promoted.json", f.webhook.bodies[1])

	// The receiver's check of the signature: it holds for the body as sent, at its time, and
	// fails for a changed body, another secret, and the same request replayed later.
	h, body := f.webhook.headers[1], f.webhook.bodies[1]
	now := f.clock.Now()
	if h.Get(notify.HeaderEventID) != promotedToStage.ID {
		t.Errorf("%s: got %q, want %q", notify.HeaderEventID, h.Get(notify.HeaderEventID), promotedToStage.ID)
	}
	if err := notify.Verify(secret, h.Get(notify.HeaderTimestamp), h.Get(notify.HeaderSignature), body, now, 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), "alice", "mallory", 1))
	for name, err := range map[string]error{
		"changed body":   notify.Verify(secret, h.Get(notify.HeaderTimestamp), h.Get(notify.HeaderSignature), tampered, now, 5*time.Minute),
		"another secret": notify.Verify("other", h.Get(notify.HeaderTimestamp), h.Get(notify.HeaderSignature), body, now, 5*time.Minute),
		"replayed later": notify.Verify(secret, h.Get(notify.HeaderTimestamp), h.Get(notify.HeaderSignature), body, now.Add(time.Hour), 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("Verify with a %s: got no error", name)
		}
	}
}

// TestRedelivery: EventBridge delivers at least once; the same event again posts nothing.
func TestRedelivery(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 3 {
		out, err := f.n.Deliver(t.Context(), failedInProd)
		if err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
		if i > 0 && (out.Destinations["oncall"] != "duplicate" || out.Destinations["audit"] != "duplicate") {
			t.Errorf("redelivery %d: got %v, want duplicates", i, out.Destinations)
		}
	}
	if f.slack.count() != 1 || f.webhook.count() != 1 {
		t.Errorf("messages after 3 deliveries: slack %d, webhook %d; want 1 each", f.slack.count(), f.webhook.count())
	}
}

// TestRetries: 429 with Retry-After and 500 are retried, honouring Retry-After; a destination
// that keeps failing has the event dead-lettered, and a later redelivery may try again.
func TestRetries(t *testing.T) {
	f := newFixture(t, []int{429, 500}, 500, 500, 500, 500)
	f.slack.retryHdr = "7"
	out, err := f.n.Deliver(t.Context(), failedInProd)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if out.Destinations["oncall"] != "delivered" {
		t.Errorf("oncall: got %q, want delivered after retries", out.Destinations["oncall"])
	}
	if got := f.slack.count(); got != 3 {
		t.Errorf("slack posts: got %d, want 3 (429, 500, 200)", got)
	}
	// The webhook (delivered first: destinations go in name order) waits a growing backoff
	// between its four attempts; Slack what its Retry-After says, each time.
	if s := f.clock.slept; len(s) != 5 || s[0] <= 0 || s[1] <= 0 || s[2] <= 0 || s[3] != 7*time.Second || s[4] != 7*time.Second {
		t.Errorf("waits: got %v, want 3 backoffs, then Retry-After's 7s twice", s)
	}
	if !strings.HasPrefix(out.Destinations["audit"], "dead-lettered: answered 500") {
		t.Errorf("audit: got %q, want dead-lettered after 500s", out.Destinations["audit"])
	}
	if got := f.webhook.count(); got != 4 {
		t.Errorf("webhook posts: got %d, want 4 attempts", got)
	}
	if len(f.dead.msgs) != 1 || !strings.Contains(f.dead.msgs[0], failedInProd.ID) || !strings.Contains(f.dead.msgs[0], `"destination":"audit"`) {
		t.Fatalf("dead letters: got %q, want the event for audit", f.dead.msgs)
	}
	// Dead-lettered is not delivered: a redelivery tries the webhook again, not Slack.
	f.clock.Sleep(t.Context(), time.Hour)
	out, err = f.n.Deliver(t.Context(), failedInProd)
	if err != nil {
		t.Fatal(err)
	}
	if out.Destinations["oncall"] != "duplicate" || out.Destinations["audit"] != "delivered" {
		t.Errorf("redelivery after a dead letter: got %v, want oncall duplicate, audit delivered", out.Destinations)
	}
}

func TestParseConfigRefuses(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"unknown type", `{"destinations":{"a":{"type":"email","url":"https://x"}},"routes":[]}`, "not one of slack, teams, webhook"},
		{"no URL", `{"destinations":{"a":{"type":"slack"}},"routes":[]}`, "url_parameter"},
		{"webhook without a secret", `{"destinations":{"a":{"type":"webhook","url":"https://x"}},"routes":[]}`, "secret_parameter"},
		{"unknown destination", `{"destinations":{"a":{"type":"slack","url":"https://x"}},"routes":[{"events":["*"],"to":["b"]}]}`, `"b" is not a destination`},
		{"unknown event", `{"destinations":{"a":{"type":"slack","url":"https://x"}},"routes":[{"events":["deployment.exploded"],"to":["a"]}]}`, "is no event type"},
		{"unknown field", `{"destinations":{},"routes":[],"channels":[]}`, "channels"},
		{"script URL", `{"destinations":{"a":{"type":"slack","url":"javascript:alert(1)"}},"routes":[]}`, "not an http(s) URL"},
	}
	for _, tt := range tests {
		_, err := notify.ParseConfig([]byte(tt.body))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
}

// TestWebhookThread: a webhook's body carries the thread its event belongs to, the deployment's
// for a deployment's events (so a receiver groups requested, applied and failed), the release's
// for a release's, and none for the rest; Slack's and Teams' bodies carry none (their webhooks
// cannot thread).
func TestWebhookThread(t *testing.T) {
	released := shiplog.Event{ID: "01JD0Z8K3Q4W5E6R7T8Y9U0I1C", Type: shiplog.EventReleaseCreated, ProjectID: "storage", ReleaseID: "01JD0Z8K3Q4W5E6R7T8Y9U0REL"}
	registered := shiplog.Event{ID: "01JD0Z8K3Q4W5E6R7T8Y9U0I1D", Type: shiplog.EventProjectRegistered, ProjectID: "storage"}
	for _, c := range []struct {
		ev   shiplog.Event
		want string
	}{
		{promotedToStage, "deployment:01JD0Z8K3Q4W5E6R7T8Y9U0DP2"},
		{failedInProd, "deployment:01JD0Z8K3Q4W5E6R7T8Y9U0DEP"},
		{released, "release:01JD0Z8K3Q4W5E6R7T8Y9U0REL"},
		{registered, ""},
	} {
		body, err := notify.Payload(notify.Webhook, c.ev, notify.NewMessage(c.ev, ""))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if thread, has := got["thread"]; (c.want == "" && has) || (c.want != "" && thread != c.want) {
			t.Errorf("%s: thread %v (present: %v), want %q", c.ev.Type, thread, has, c.want)
		}
		for _, typ := range []string{notify.Slack, notify.Teams} {
			body, err := notify.Payload(typ, c.ev, notify.NewMessage(c.ev, ""))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(body), `"thread`) {
				t.Errorf("%s %s: carries a thread key; its webhooks cannot thread", typ, c.ev.Type)
			}
		}
	}
}
