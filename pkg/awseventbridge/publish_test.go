package awseventbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsdynamo/eventitems"
	"github.com/shiplog/shiplog/pkg/awseventbridge"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// message is an event as an EventBridge rule hands it to an SQS target.
type message struct {
	ID         string        `json:"id"`
	DetailType string        `json:"detail-type"`
	Source     string        `json:"source"`
	Detail     shiplog.Event `json:"detail"`
}

// bus is an EventBridge bus of its own on the shared moto, with a rule that sends every shiplog
// event to a queue the test reads.
type bus struct {
	name   string
	client *eventbridge.Client
	sqs    *sqs.Client
	queue  string
}

func newBus(t *testing.T, cfg aws.Config) *bus {
	t.Helper()
	ctx := t.Context()
	b := &bus{name: localaws.UniqueName("shiplog-bus"), client: eventbridge.NewFromConfig(cfg), sqs: sqs.NewFromConfig(cfg)}
	if _, err := b.client.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(b.name)}); err != nil {
		t.Fatal(err)
	}
	q, err := b.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(localaws.UniqueName("shiplog-events"))})
	if err != nil {
		t.Fatal(err)
	}
	b.queue = aws.ToString(q.QueueUrl)
	attrs, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	rule := "all-shiplog"
	if _, err := b.client.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(b.name),
		EventPattern: aws.String(fmt.Sprintf(`{"source":[%q]}`, awseventbridge.Source))}); err != nil {
		t.Fatal(err)
	}
	out, err := b.client.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(b.name),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("put target: %v %+v", err, out)
	}
	return b
}

// received reads (and deletes) every message waiting in the bus's queue.
func (b *bus) received(t *testing.T) []message {
	t.Helper()
	var out []message
	for {
		res, err := b.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(b.queue), MaxNumberOfMessages: 10, VisibilityTimeout: 600})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			var msg message
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &msg); err != nil {
				t.Fatalf("message %s: %v", aws.ToString(m.Body), err)
			}
			out = append(out, msg)
			if _, err := b.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(b.queue), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPublishFromTheStream drives a small flow through the Service on the DynamoDB store (on
// DynamoDB Local, whose state table has the template's stream), reads the state table's stream
// as Lambda's event source mapping would, hands the records to the events function and reads
// what a rule on the bus (on moto) delivered to a queue: each event of the flow exactly once, as
// the event log has it, and nothing of a refused request.
func TestPublishFromTheStream(t *testing.T) {
	ctx := t.Context()
	ddb := localaws.SharedDynamoDBLocal(t).Config(ctx)
	moto := localaws.SharedMoto(t).Config(ctx)
	releases, state := localaws.UniqueName("releases"), localaws.UniqueName("state")
	if err := awsdynamo.CreateTables(ctx, dynamodb.NewFromConfig(ddb), releases, state); err != nil {
		t.Fatal(err)
	}
	params := awsssm.New(ssm.NewFromConfig(moto)).WithPrefix(localaws.UniqueName("/publish"))
	svc := shiplog.NewService(params, awsdynamo.New(dynamodb.NewFromConfig(ddb), releases, state), nil, nil)
	alice := shiplog.Person{ID: "arn:aws:iam::123456789012:user/alice", Name: "alice"}

	// The flow: register, push, release, deploy to stage, report it verified, lock prod, and a
	// deploy to the locked prod, which is refused.
	project := "publish"
	p, err := manifest.ParseProject(project, []byte(`{"name":"Publish","environments":[{"id":"stage"},{"id":"prod"}],"image_repositories":[{"id":"team/app","services":["web"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}, By: alice}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RecordPush(ctx, shiplog.ImagePush{Account: "123456789012", Region: localaws.Region, Repository: "team/app",
		Digest: "sha256:" + fmt.Sprintf("%064x", 1), Tag: "build-1", Action: "PUSH", Result: "SUCCESS", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	rel, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: project, RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	dep, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: project, ReleaseID: rel.ID, Environment: "stage", RequestedBy: alice})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: project, DeploymentID: dep.Deployment.ID, Status: shiplog.StatusVerified, By: alice}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Lock(ctx, shiplog.LockInput{ProjectID: project, Environment: "prod", Reason: "incident", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}
	logged := eventLog(t, svc, project)
	_, err = svc.Deploy(ctx, shiplog.DeployInput{ProjectID: project, ReleaseID: rel.ID, Environment: "prod", RequestedBy: alice})
	if !shiplog.IsKind(err, shiplog.Conflict) {
		t.Fatalf("deploy to the locked prod: got %v, want a Conflict", err)
	}
	if after := eventLog(t, svc, project); !cmp.Equal(after, logged) {
		t.Fatalf("the refused deploy changed the event log (-before +after):\n%s", cmp.Diff(logged, after))
	}
	var types []string
	for _, ev := range logged {
		types = append(types, ev.Type)
	}
	t.Logf("the flow logged %d events: %v", len(logged), types)
	for _, typ := range []string{shiplog.EventProjectRegistered, shiplog.EventImageRecorded, shiplog.EventReleaseCreated,
		shiplog.EventDeploymentRequested, shiplog.EventDeploymentVerified, shiplog.EventEnvironmentLocked} {
		if !slices.Contains(types, typ) {
			t.Errorf("the flow logged %v, no %s", types, typ)
		}
	}

	// The stream, as Lambda reads it: every change of the flow, events and state alike.
	records, err := localaws.StreamRecords(ctx, ddb, state)
	if err != nil {
		t.Fatal(err)
	}
	var eventRecords []events.DynamoDBEventRecord
	for _, r := range records {
		if eventitems.IsRecord(r) {
			eventRecords = append(eventRecords, r)
			if r.EventName != "INSERT" {
				t.Errorf("stream record %s of event item %s: %s; event items are only inserted", r.EventID, r.Change.Keys["sk"].String(), r.EventName)
			}
		}
	}
	if len(eventRecords) != len(logged) || len(records) == len(eventRecords) {
		t.Fatalf("stream: %d records, %d of event items; want one per logged event (%d) and the state's records besides", len(records), len(eventRecords), len(logged))
	}

	b := newBus(t, moto)
	fn := awslambda.Events(awseventbridge.New(b.client, b.name), eventitems.FromStream, slog.New(slog.DiscardHandler))
	// Every record, unfiltered (the template's filter passes only the event items' inserts), in
	// Lambda's batches of up to 100.
	for batch := range slices.Chunk(records, 100) {
		res, err := fn(ctx, events.DynamoDBEvent{Records: batch})
		if err != nil || len(res.BatchItemFailures) != 0 {
			t.Fatalf("events function: %v, failures %v", err, res.BatchItemFailures)
		}
	}
	got := b.received(t)
	byID := map[string]message{}
	for _, m := range got {
		if _, dup := byID[m.Detail.ID]; dup {
			t.Errorf("event %s (%s) delivered twice", m.Detail.ID, m.Detail.Type)
		}
		byID[m.Detail.ID] = m
	}
	if len(got) != len(logged) {
		t.Errorf("delivered %d messages, want %d, one per logged event", len(got), len(logged))
	}
	for _, ev := range logged {
		m, ok := byID[ev.ID]
		if !ok {
			t.Errorf("event %s (%s) was not delivered", ev.ID, ev.Type)
			continue
		}
		if m.Source != "shiplog" || m.DetailType != shiplog.DetailType(ev.Type) {
			t.Errorf("event %s: source %q detail-type %q, want shiplog and %q", ev.ID, m.Source, m.DetailType, shiplog.DetailType(ev.Type))
		}
		if diff := cmp.Diff(ev, m.Detail); diff != "" {
			t.Errorf("event %s detail (-event log +delivered):\n%s", ev.ID, diff)
		}
	}
	for _, m := range got {
		if m.Detail.Environment == "prod" && m.Detail.Type != shiplog.EventEnvironmentLocked {
			t.Errorf("delivered %s for prod: the only change to prod was its lock", m.Detail.Type)
		}
	}

	// At least once: a record Lambda hands over again is put again, under the same event id.
	again := eventRecords[len(eventRecords)-1]
	if res, err := fn(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{again}}); err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("events function, again: %v, failures %v", err, res.BatchItemFailures)
	}
	redelivered := b.received(t)
	first := byID[again.Change.NewImage["event_id"].String()]
	if len(redelivered) != 1 || redelivered[0].Detail.ID != first.Detail.ID || !cmp.Equal(redelivered[0].Detail, first.Detail) {
		t.Errorf("the same record again: delivered %+v, want one message of event %s as before", redelivered, first.Detail.ID)
	}
	if len(redelivered) == 1 && redelivered[0].ID == first.ID {
		t.Errorf("EventBridge's own id %s repeated; consumers deduplicate on detail.event_id, not on it", first.ID)
	}

	t.Run("failed entries are the batch's failures", func(t *testing.T) {
		// A state record between two event records: only event records can fail.
		var stateRecord events.DynamoDBEventRecord
		for _, r := range records {
			if !eventitems.IsRecord(r) {
				stateRecord = r
				break
			}
		}
		one := eventRecords[0]
		// The bus is missing: PutEvents fails, for the one event of the batch.
		missing := awslambda.Events(awseventbridge.New(b.client, localaws.UniqueName("no-such-bus")), eventitems.FromStream, slog.New(slog.DiscardHandler))
		res, err := missing(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{stateRecord, one}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: one.Change.SequenceNumber}}; !cmp.Equal(res.BatchItemFailures, want) {
			t.Errorf("on a missing bus: failures %v, want %v (the event record only)", res.BatchItemFailures, want)
		}
		// One entry of a call refused (an event whose type gives no detail-type): that record
		// fails, the others of the call are put.
		bad := eventRecordWithType(t, eventRecords[1], ".")
		res, err = fn(ctx, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{eventRecords[0], bad, eventRecords[2]}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []events.DynamoDBBatchItemFailure{{ItemIdentifier: bad.Change.SequenceNumber}}; !cmp.Equal(res.BatchItemFailures, want) {
			t.Errorf("one entry refused: failures %v, want %v", res.BatchItemFailures, want)
		}
		var ids []string
		for _, m := range b.received(t) {
			ids = append(ids, m.Detail.ID)
		}
		slices.Sort(ids)
		want := []string{eventRecords[0].Change.NewImage["event_id"].String(), eventRecords[2].Change.NewImage["event_id"].String()}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("one entry refused: delivered %v, want the other two %v", ids, want)
		}
	})
}

// eventRecordWithType is a copy of an event record whose event has another type, with its own
// sequence number.
func eventRecordWithType(t *testing.T, r events.DynamoDBEventRecord, typ string) events.DynamoDBEventRecord {
	t.Helper()
	img := map[string]events.DynamoDBAttributeValue{}
	for k, v := range r.Change.NewImage {
		img[k] = v
	}
	img["type"] = events.NewStringAttribute(typ)
	r.Change.NewImage = img
	r.Change.SequenceNumber += "9"
	return r
}

// eventLog is a project's whole event log, newest first.
func eventLog(t *testing.T, svc *shiplog.Service, project string) []shiplog.Event {
	t.Helper()
	page, err := svc.Events(context.Background(), project, shiplog.EventFilter{}, shiplog.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if page.NextCursor != "" {
		t.Fatalf("the flow logged more than %d events", len(page.Items))
	}
	return page.Items
}

// TestPublishedEventsSayHowTheRequesterWasIdentified puts the events of a flow with one requester
// authenticated by the API and one asserted by a direct invocation, and checks that each event a
// rule on the bus delivers keeps by.via: a consumer (a notification, an audit) must be able to
// tell "alice, whom IAM authenticated" from "ci, as the invoker said".
func TestPublishedEventsSayHowTheRequesterWasIdentified(t *testing.T) {
	ctx := t.Context()
	moto := localaws.SharedMoto(t).Config(ctx)
	store, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	svc := shiplog.NewService(store, store, nil, nil)
	alice := shiplog.Person{ID: "arn:aws:iam::123456789012:user/alice", Name: "alice", Via: shiplog.ViaAPI}
	ci := shiplog.Person{ID: "ci", Name: "GitHub Actions", Via: shiplog.ViaInvoke}

	project := "via"
	p, err := manifest.ParseProject(project, []byte(`{"name":"Via","environments":[{"id":"stage"}],"image_repositories":[{"id":"team/app","services":["web"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}, By: alice}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutParameters(ctx, map[string]string{shiplog.ParameterName(project, "latest", "web"): "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@sha256:" + fmt.Sprintf("%064x", 1)}); err != nil {
		t.Fatal(err)
	}
	rel, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: project, RequestedBy: ci})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: project, ReleaseID: rel.ID, Environment: "stage", RequestedBy: alice}); err != nil {
		t.Fatal(err)
	}

	b := newBus(t, moto)
	logged := eventLog(t, svc, project)
	for i, err := range awseventbridge.New(b.client, b.name).Publish(ctx, logged) {
		if err != nil {
			t.Fatalf("publish %s: %v", logged[i].Type, err)
		}
	}
	want := map[string]shiplog.Person{
		shiplog.EventProjectRegistered:   alice,
		shiplog.EventReleaseCreated:      ci,
		shiplog.EventDeploymentRequested: alice,
	}
	seen := map[string]bool{}
	for _, m := range b.received(t) {
		w, ok := want[m.Detail.Type]
		if !ok {
			continue
		}
		seen[m.Detail.Type] = true
		if m.Detail.By != w {
			t.Errorf("%s: detail.by is %+v, want %+v", m.Detail.Type, m.Detail.By, w)
		}
	}
	for typ := range want {
		if !seen[typ] {
			t.Errorf("no %s delivered", typ)
		}
	}
}
