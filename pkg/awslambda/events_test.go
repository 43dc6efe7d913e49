package awslambda_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shiplog/shiplog/pkg/awsdynamo/eventitems"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// failingPublisher records what it is given and refuses the events named in refuse.
type failingPublisher struct {
	got    []shiplog.Event
	refuse map[string]bool
}

func (p *failingPublisher) Publish(_ context.Context, evs []shiplog.Event) []error {
	p.got = append(p.got, evs...)
	errs := make([]error, len(evs))
	for i, ev := range evs {
		if p.refuse[ev.ID] {
			errs[i] = errors.New("InternalFailure")
		}
	}
	return errs
}

// eventRecord is a stream record of an inserted event item, as Lambda delivers it.
func eventRecord(seq, id, typ string) events.DynamoDBEventRecord {
	img := map[string]events.DynamoDBAttributeValue{
		"pk":         events.NewStringAttribute("project#storage"),
		"sk":         events.NewStringAttribute("event#" + id),
		"event_id":   events.NewStringAttribute(id),
		"type":       events.NewStringAttribute(typ),
		"at":         events.NewNumberAttribute("1800000000"),
		"by":         events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"id": events.NewStringAttribute("alice"), "name": events.NewStringAttribute("Alice")}),
		"project_id": events.NewStringAttribute("storage"),
		"detail":     events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"kind": events.NewStringAttribute("deploy")}),
	}
	return events.DynamoDBEventRecord{
		EventName: "INSERT",
		Change: events.DynamoDBStreamRecord{
			SequenceNumber: seq,
			Keys:           map[string]events.DynamoDBAttributeValue{"pk": img["pk"], "sk": img["sk"]},
			NewImage:       img,
		},
	}
}

// TestEventsFunction checks that each inserted event item becomes one published event, that
// other records are passed over, and that only the records whose event failed are reported.
func TestEventsFunction(t *testing.T) {
	ok1 := eventRecord("100", "01J00000000000000000000001", shiplog.EventDeploymentRequested)
	failed := eventRecord("200", "01J00000000000000000000002", shiplog.EventDeploymentFailed)
	ok3 := eventRecord("300", "01J00000000000000000000003", shiplog.EventDeploymentApplied)
	state := events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{SequenceNumber: "150",
		Keys: map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("project#storage"), "sk": events.NewStringAttribute("env#stage")}}}
	notEvent := eventRecord("160", "x", "y")
	notEvent.Change.Keys["sk"] = events.NewStringAttribute("env#stage")
	broken := eventRecord("250", "01J00000000000000000000004", shiplog.EventDeploymentRequested)
	delete(broken.Change.NewImage, "type")

	pub := &failingPublisher{refuse: map[string]bool{"01J00000000000000000000002": true}}
	fn := awslambda.Events(pub, eventitems.FromStream, slog.New(slog.DiscardHandler))
	res, err := fn(t.Context(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{ok1, state, notEvent, failed, broken, ok3}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range pub.got {
		ids = append(ids, ev.ID)
	}
	want := []string{"01J00000000000000000000001", "01J00000000000000000000002", "01J00000000000000000000003"}
	if len(ids) != len(want) || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Errorf("published: got %v, want %v", ids, want)
	}
	if ev := pub.got[0]; ev.Type != shiplog.EventDeploymentRequested || ev.By.ID != "alice" || ev.At != 1_800_000_000 || ev.Detail["kind"] != "deploy" {
		t.Errorf("decoded event: got %+v", ev)
	}
	var failures []string
	for _, f := range res.BatchItemFailures {
		failures = append(failures, f.ItemIdentifier)
	}
	if len(failures) != 2 || failures[0] != "250" || failures[1] != "200" {
		t.Errorf("batch item failures: got %v, want [250 200] (the undecodable record and the refused event)", failures)
	}
}
