// Package awseventbridge publishes shiplog's events on an Amazon EventBridge bus
// (aws-sdk-go-v2's PutEvents): source "shiplog", detail-type from the event type ("deployment.failed"
// is "Deployment Failed"), and detail the event's JSON, event_id included.
//
// PutEvents entries have no id of their own that reaches a consumer, and delivery is at least once
// (a record the stream hands over again is put again), so consumers deduplicate on
// detail.event_id.
package awseventbridge

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/shiplog/shiplog/pkg/awserr"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Source is the source of every event shiplog puts (shiplog.EventSource).
const Source = shiplog.EventSource

// Actions lists the IAM actions the Publisher's calls need.
var Actions = []string{"events:PutEvents"}

// maxEntries is PutEvents' limit on the entries of one call.
const maxEntries = 10

// Publisher puts events on one bus. It is safe for concurrent use.
type Publisher struct {
	client *eventbridge.Client
	bus    string
}

// New returns a Publisher on the bus named bus (its name or ARN; "default" for the account's
// default bus).
func New(client *eventbridge.Client, bus string) *Publisher {
	return &Publisher{client: client, bus: bus}
}

// Publish puts each event as one entry, ten to a call, and returns one error per event: nil for
// those EventBridge took. The error is for a call that failed as a whole (every event of it then
// has it too).
func (p *Publisher) Publish(ctx context.Context, evs []shiplog.Event) []error {
	errs := make([]error, len(evs))
	for start := 0; start < len(evs); start += maxEntries {
		end := min(start+maxEntries, len(evs))
		entries := make([]types.PutEventsRequestEntry, 0, end-start)
		idx := make([]int, 0, end-start)
		for i := start; i < end; i++ {
			e, err := Entry(evs[i], p.bus)
			if err != nil {
				errs[i] = err
				continue
			}
			entries = append(entries, e)
			idx = append(idx, i)
		}
		if len(entries) == 0 {
			continue
		}
		out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			for _, i := range idx {
				errs[i] = service.Wrap(err, "put event %s on %s", evs[i].ID, p.bus)
			}
			continue
		}
		for j, res := range out.Entries {
			if j < len(idx) && res.ErrorCode != nil {
				errs[idx[j]] = service.Wrap(entryError(res), "put event %s on %s", evs[idx[j]].ID, p.bus)
			}
		}
		if len(out.Entries) < len(idx) {
			for _, i := range idx[len(out.Entries):] {
				errs[i] = fmt.Errorf("put event %s on %s: EventBridge answered no result for it", evs[i].ID, p.bus)
			}
		}
	}
	return errs
}

// service names EventBridge in the messages of errors the SDK's retries could not get past.
const service = awserr.Service("EventBridge")

// entryError is the failure of one entry of a PutEvents call that succeeded, as the API error it
// would be on its own, so that awserr maps its code (ThrottlingException) as it maps a call's.
// InternalFailure is EventBridge's fault: the same entry may be put later.
func entryError(res types.PutEventsResultEntry) error {
	code := aws.ToString(res.ErrorCode)
	fault := smithy.FaultUnknown
	if code == "InternalFailure" {
		fault = smithy.FaultServer
	}
	return &smithy.GenericAPIError{Code: code, Message: aws.ToString(res.ErrorMessage), Fault: fault}
}

// Entry is the PutEvents entry of an event on bus.
func Entry(ev shiplog.Event, bus string) (types.PutEventsRequestEntry, error) {
	detail, err := json.Marshal(ev)
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return types.PutEventsRequestEntry{
		EventBusName: aws.String(bus),
		Source:       aws.String(Source),
		DetailType:   aws.String(shiplog.DetailType(ev.Type)),
		Detail:       aws.String(string(detail)),
		Resources:    []string{},
	}, nil
}
