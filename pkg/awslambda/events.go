package awslambda

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// EventsName is the name of the function that publishes the event log.
const EventsName = "events"

// EventPublisher puts events on a bus (awseventbridge.Publisher), answering one error per event.
type EventPublisher interface {
	Publish(ctx context.Context, evs []shiplog.Event) []error
}

// StreamDecoder turns a stream record into the event its new image holds: ok false for a record
// that is not an event item's (eventitems.FromStream).
type StreamDecoder func(r events.DynamoDBEventRecord) (ev shiplog.Event, ok bool, err error)

// Events returns the events function: it takes a batch of the state table's stream records and
// puts the event of each inserted event item on the bus, one entry per event. It dedups nothing:
// a record Lambda delivers again is put again, and consumers deduplicate on detail.event_id. The
// records whose event was not put, or could not be decoded, are answered as batch item failures
// (the event source mapping has ReportBatchItemFailures), so that Lambda retries from the first
// of them and not the whole batch.
func Events(pub EventPublisher, decode StreamDecoder, log *slog.Logger) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return EventsWithMetrics(pub, decode, log, nil)
}

// EventsWithMetrics is Events, writing the metrics of each event it publishes (Metrics.Event):
// the event log is where every deployment and status change of every channel is, once. A
// record Lambda delivers again is counted again.
func EventsWithMetrics(pub EventPublisher, decode StreamDecoder, log *slog.Logger, m *Metrics) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(ctx context.Context, in events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var out events.DynamoDBEventResponse
		var evs []shiplog.Event
		var seqs []string
		for _, r := range in.Records {
			if r.EventName != string(events.DynamoDBOperationTypeInsert) {
				continue // events are only ever inserted
			}
			ev, ok, err := decode(r)
			if err != nil {
				log.ErrorContext(ctx, "undecodable stream record", "sequence", r.Change.SequenceNumber, "err", err)
				out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
				continue
			}
			if !ok {
				continue
			}
			evs = append(evs, ev)
			seqs = append(seqs, r.Change.SequenceNumber)
		}
		if len(evs) == 0 {
			return out, nil
		}
		for i, err := range pub.Publish(ctx, evs) {
			if err != nil {
				log.ErrorContext(ctx, "event not published", "event", evs[i].ID, "type", evs[i].Type, "err", err)
				out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: seqs[i]})
				continue
			}
			log.InfoContext(ctx, "event published", "event", evs[i].ID, "type", evs[i].Type, "project", evs[i].ProjectID)
			m.Event(ctx, evs[i])
		}
		return out, nil
	}
}
