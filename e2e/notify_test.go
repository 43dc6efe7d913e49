package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/shiplog/shiplog/pkg/awseventbridge"
	"github.com/shiplog/shiplog/pkg/notify"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden notification payloads in testdata/notify")

// post is one request a local destination received.
type post struct {
	header http.Header
	body   []byte
	at     time.Time
	status int
}

// destination is a local Slack, Teams or webhook receiver: it answers with the statuses it is
// given, in order (with Retry-After on a 429 when retryAfter is set); after them, check, when
// set, may refuse a request (a webhook receiver's signature and replay checks), else it takes it.
type destination struct {
	srv        *httptest.Server
	mu         sync.Mutex
	posts      []post
	answers    []int
	retryAfter string
	check      func(r *http.Request, body []byte) (int, string)
}

func newDestination(t *testing.T, answers ...int) *destination {
	d := &destination{answers: answers}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		defer d.mu.Unlock()
		// A scripted failure first (a receiver busy or down takes nothing, so it remembers
		// nothing), then the receiver's own checks.
		status, why := http.StatusOK, ""
		if len(d.answers) > 0 {
			status, d.answers = d.answers[0], d.answers[1:]
			if status == http.StatusTooManyRequests && d.retryAfter != "" {
				w.Header().Set("Retry-After", d.retryAfter)
			}
		} else if d.check != nil {
			status, why = d.check(r, body)
		}
		d.posts = append(d.posts, post{header: r.Header.Clone(), body: body, at: time.Now(), status: status})
		w.WriteHeader(status)
		fmt.Fprint(w, why)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *destination) received() []post {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.posts)
}

// accepted are the posts the destination took (2xx).
func (d *destination) accepted() []post {
	var out []post
	for _, p := range d.received() {
		if p.status/100 == 2 {
			out = append(out, p)
		}
	}
	return out
}

// signedReceiver is the webhook receiver docs/notifications.md asks for: the signature over the
// timestamp and the body, a timestamp within five minutes, and each event id once (a replay of a
// request it took is refused even with a good signature).
func signedReceiver(secret string) func(r *http.Request, body []byte) (int, string) {
	seen := map[string]bool{}
	return func(r *http.Request, body []byte) (int, string) {
		if err := notify.Verify(secret, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			return http.StatusUnauthorized, err.Error()
		}
		id := r.Header.Get(notify.HeaderEventID)
		var payload struct {
			Event struct {
				ID string `json:"event_id"`
			} `json:"event"`
		}
		if err := json.Unmarshal(body, &payload); err != nil || payload.Event.ID != id || id == "" {
			return http.StatusBadRequest, "the body's event is not the one the header names"
		}
		if seen[id] {
			return http.StatusConflict, "event " + id + " was received already: a replay"
		}
		seen[id] = true
		return http.StatusOK, ""
	}
}

// TestNotifyUnderRIE runs functions/notify under aws-lambda-rie on moto as the stack runs it: its
// routing and the destinations' URLs and secret in SSM SecureString parameters, its claims in the
// state table, its dead-letter queue on SQS; fed shiplog's events as EventBridge's rule delivers
// them (put on moto's bus, taken by a rule whose target is a queue the test reads, so each
// payload is the bus's own envelope); posting to local Slack, Teams and webhook receivers.
func TestNotifyUnderRIE(t *testing.T) {
	st.seed(t)
	ctx := t.Context()
	cfg := st.moto.Config(ctx)
	rie, err := riePath(st.root)
	if err != nil {
		t.Fatal(err)
	}

	// The destinations: on-call's Slack, the team's Teams (busy once: 429 with Retry-After: 2),
	// the audit webhook (signed; a 500 twice first), and a webhook that is down.
	const secret = "e2e-webhook-secret"
	oncall := newDestination(t)
	team := newDestination(t, http.StatusTooManyRequests)
	team.retryAfter = "2"
	audit := newDestination(t, http.StatusInternalServerError, http.StatusInternalServerError)
	audit.check = signedReceiver(secret)
	down := newDestination(t, slices.Repeat([]int{http.StatusInternalServerError}, 100)...)

	// The routing, per project and environment (docs/notifications.md): prod's failures to
	// on-call and the down hook, storage's stage deployments to the team, everything to audit.
	const config = "/shiplog/notify"
	routing := `{"dashboard_url":"https://shiplog.example.com",
		"destinations":{
			"oncall":{"type":"slack","url_parameter":"/shiplog/notify/oncall-url"},
			"team":{"type":"teams","url_parameter":"/shiplog/notify/team-url"},
			"audit":{"type":"webhook","url_parameter":"/shiplog/notify/audit-url","secret_parameter":"/shiplog/notify/audit-secret"},
			"down":{"type":"webhook","url_parameter":"/shiplog/notify/down-url","secret_parameter":"/shiplog/notify/audit-secret"}},
		"routes":[
			{"projects":["storage"],"environments":["prod"],"events":["deployment.failed"],"to":["oncall","down"]},
			{"projects":["storage"],"environments":["stage"],"events":["deployment.*"],"to":["team"]},
			{"events":["*"],"to":["audit"]}]}`
	ssmClient := ssm.NewFromConfig(cfg)
	for name, value := range map[string]string{
		config: routing, config + "/oncall-url": oncall.srv.URL + "/services/T0/B0/x", config + "/team-url": team.srv.URL + "/workflows/1",
		config + "/audit-url": audit.srv.URL + "/hooks/shiplog", config + "/down-url": down.srv.URL, config + "/audit-secret": secret,
	} {
		if _, err := ssmClient.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
			t.Fatal(err)
		}
	}
	sqsClient := sqs.NewFromConfig(cfg)
	dlq, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("shiplog-notify-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	// The bus's delivery, tapped: the rule the template gives notify (source shiplog), with a
	// queue as its target instead of the function.
	tap, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("shiplog-notify-tap")})
	if err != nil {
		t.Fatal(err)
	}
	tapAttrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: tap.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	bus := eventbridge.NewFromConfig(cfg)
	if _, err := bus.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("shiplog-notify"), EventBusName: aws.String("default"), EventPattern: aws.String(`{"source":["shiplog"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("shiplog-notify"), EventBusName: aws.String("default"),
		Targets: []ebtypes.Target{{Id: aws.String("notify"), Arn: aws.String(tapAttrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}

	// The function, under aws-lambda-rie, with the template's environment.
	ns := &stack{root: st.root, dir: t.TempDir(), moto: st.moto, awsCLI: st.awsCLI, functions: map[string]*function{}}
	bootstrap := filepath.Join(ns.dir, "notify", "bootstrap")
	if err := build(ctx, st.root, "notify", bootstrap); err != nil {
		t.Fatal(err)
	}
	f, err := startFunction("notify", rie, bootstrap, append(st.functionEnv("notify"),
		"SHIPLOG_NOTIFY_CONFIG="+config, "SHIPLOG_NOTIFY_DLQ_URL="+aws.ToString(dlq.QueueUrl)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.stop)
	ns.functions["notify"] = f

	// Two events, as the events function publishes them: a promotion requested to storage's
	// stage, with its change notes, and prod's deployment failing.
	promoted := shiplog.Event{ID: "01JD0Z8K3Q4W5E6R7T8Y9U0I1B", Type: shiplog.EventDeploymentRequested, At: 1795687100,
		By: shiplog.Person{ID: "arn:aws:iam::760097843905:user/alice", Name: "alice", Via: shiplog.ViaAPI}, ProjectID: "storage", Environment: "stage",
		ReleaseID: "01JD0Z8K3Q4W5E6R7T8Y9U0REL", DeploymentID: "01JD0Z8K3Q4W5E6R7T8Y9U0DP2",
		Detail: map[string]string{"kind": "promote", "promoted_from": "dev", "description": "weekly release",
			"revision.archivist": "1111111111111111111111111111111111111111..2222222222222222222222222222222222222222",
			"compare.archivist":  "https://github.com/wellcomecollection/storage-service/compare/1111111111111111111111111111111111111111...2222222222222222222222222222222222222222"}}
	failed := shiplog.Event{ID: "01JD0Z9A1B2C3D4E5F6G7H8J9K", Type: shiplog.EventDeploymentFailed, At: 1795690800,
		By: shiplog.Person{ID: "ecs", Name: "Amazon ECS"}, ProjectID: "storage", Environment: "prod",
		ReleaseID: "01JD0Z8K3Q4W5E6R7T8Y9U0REL", DeploymentID: "01JD0Z9A1B2C3D4E5F6G7H8DEP",
		Detail: map[string]string{"detail": "service archivist: 3 tasks stopped (Essential container in task exited)"}}
	var entries []ebtypes.PutEventsRequestEntry
	for _, ev := range []shiplog.Event{promoted, failed} {
		e, err := awseventbridge.Entry(ev, "default")
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	if out, err := bus.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries}); err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("put the events on the bus: %v, %+v", err, out)
	}
	envelopes := map[string][]byte{} // by shiplog event id
	waitFor(t, func() error {
		got, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: tap.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			return err
		}
		for _, m := range got.Messages {
			var env struct {
				Source     string `json:"source"`
				DetailType string `json:"detail-type"`
				Detail     struct {
					ID string `json:"event_id"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil || env.Source != shiplog.EventSource || env.Detail.ID == "" {
				return fmt.Errorf("the rule delivered %s, not a shiplog event in EventBridge's envelope", aws.ToString(m.Body))
			}
			envelopes[env.Detail.ID] = []byte(aws.ToString(m.Body))
		}
		if len(envelopes) < 2 {
			return fmt.Errorf("the rule delivered %d of the 2 events", len(envelopes))
		}
		return nil
	})

	outcome := func(ev shiplog.Event) map[string]string {
		t.Helper()
		var out notify.Outcome
		ns.invokeOK(t, "notify", envelopes[ev.ID], &out)
		if out.EventID != ev.ID {
			t.Errorf("notify %s: outcome for %q", ev.ID, out.EventID)
		}
		return out.Destinations
	}
	got := outcome(promoted)
	if want := map[string]string{"team": "delivered", "audit": "delivered"}; !maps.Equal(got, want) {
		t.Errorf("the promotion: %v, want %v", got, want)
	}
	got = outcome(failed)
	if got["oncall"] != "delivered" || got["audit"] != "delivered" || !strings.HasPrefix(got["down"], "dead-lettered: answered 500") || len(got) != 3 {
		t.Errorf("prod's failure: %v, want oncall and audit delivered, down dead-lettered after its 500s", got)
	}

	// Redelivery (EventBridge delivers at least once): the same envelopes again post nothing.
	before := len(oncall.received()) + len(team.received()) + len(audit.received()) + len(down.received())
	for _, ev := range []shiplog.Event{promoted, failed} {
		for dest, res := range outcome(ev) {
			if res != "duplicate" {
				t.Errorf("%s redelivered, %s: %q, want duplicate", ev.ID, dest, res)
			}
		}
	}
	if after := len(oncall.received()) + len(team.received()) + len(audit.received()) + len(down.received()); after != before {
		t.Errorf("redelivery made %d more posts, want none", after-before)
	}
	for name, d := range map[string]*destination{"oncall": oncall, "team": team, "audit": audit} {
		if n := len(d.accepted()); n != map[string]int{"oncall": 1, "team": 1, "audit": 2}[name] {
			t.Errorf("%s took %d messages", name, n)
		}
	}

	// Retries: the team's 429 waited its Retry-After (2 s) before the next post; audit's 500s
	// were posted again (backoff) until it took the message.
	if ps := team.received(); len(ps) != 2 || ps[0].status != http.StatusTooManyRequests || ps[1].at.Sub(ps[0].at) < 2*time.Second {
		t.Errorf("team: posts %v, want a 429 then, at least 2 s later, the post it took", statuses(ps))
	}
	if ps := audit.received(); len(ps) != 4 || !slices.Equal(statuses(ps), []int{500, 500, 200, 200}) {
		t.Errorf("audit: posts %v, want 500, 500, then the promotion taken, then prod's failure", statuses(ps))
	}
	if ps := down.received(); len(ps) != 4 {
		t.Errorf("down: %d posts, want the function's 4 attempts", len(ps))
	}

	// The dead letter: the event, the destination, and why.
	var letters []string
	waitFor(t, func() error {
		got, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			return err
		}
		for _, m := range got.Messages {
			letters = append(letters, aws.ToString(m.Body))
		}
		if len(letters) == 0 {
			return fmt.Errorf("the dead-letter queue is empty")
		}
		return nil
	})
	var letter struct {
		Event       shiplog.Event `json:"event"`
		Destination string        `json:"destination"`
		Error       string        `json:"error"`
	}
	if len(letters) != 1 || json.Unmarshal([]byte(letters[0]), &letter) != nil || letter.Event.ID != failed.ID || letter.Destination != "down" ||
		!strings.Contains(letter.Error, "500") || !strings.Contains(letter.Error, "after 4 attempts") {
		t.Errorf("dead letters %v, want one: prod's failure for down, answered 500 after 4 attempts", letters)
	}

	// The webhook receiver's checks hold: the request it took, replayed as sent, is refused;
	// signed with a timestamp ten minutes old, refused; its body changed, refused.
	took := audit.accepted()[0]
	replay := func(body []byte, header http.Header) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, audit.srv.URL+"/hooks/shiplog", strings.NewReader(string(body)))
		req.Header = header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := replay(took.body, took.header); code != http.StatusConflict {
		t.Errorf("a replay of the request audit took: %d, want 409", code)
	}
	old := took.header.Clone()
	oldTS := time.Now().Add(-10 * time.Minute).Unix()
	old.Set(notify.HeaderTimestamp, fmt.Sprint(oldTS))
	old.Set(notify.HeaderSignature, notify.Sign(secret, oldTS, took.body))
	if code := replay(took.body, old); code != http.StatusUnauthorized {
		t.Errorf("a request signed ten minutes ago: %d, want 401", code)
	}
	if code := replay([]byte(strings.Replace(string(took.body), "alice", "mallory", 1)), took.header); code != http.StatusUnauthorized {
		t.Errorf("a changed body: %d, want 401", code)
	}

	// What each destination was sent, held to golden payloads.
	goldenPayload(t, "slack-oncall-deployment-failed.json", oncall.accepted()[0].body)
	goldenPayload(t, "teams-team-deployment-promoted.json", team.accepted()[0].body)
	goldenPayload(t, "webhook-audit-deployment-promoted.json", audit.accepted()[0].body)
	goldenPayload(t, "webhook-audit-deployment-failed.json", audit.accepted()[1].body)
	for _, p := range append(oncall.received(), team.received()...) {
		if p.header.Get(notify.HeaderSignature) != "" {
			t.Errorf("Slack or Teams was sent a signature header; only webhooks are signed")
		}
	}
}

// waitFor polls check until it passes, for up to a minute (moto and the function on a loaded
// machine): a wait, not a timing.
func waitFor(t *testing.T, check func() error) {
	t.Helper()
	stop := time.Now().Add(time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(stop) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func statuses(ps []post) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.status)
	}
	return out
}

// goldenPayload holds a body to testdata/notify/name, indented; -update writes it.
func goldenPayload(t *testing.T, name string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", name, err, got)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	pretty = append(pretty, '\n')
	path := filepath.Join("testdata", "notify", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./e2e -run TestNotifyUnderRIE -update writes it)", err)
	}
	if string(want) != string(pretty) {
		t.Errorf("%s: got\n%s\nwant\n%s", name, pretty, want)
	}
}
