// Package eventitems is the event items of awsdynamo's state table, apart from its store: the
// sort-key prefix that marks them, and their decoding from a record of the table's stream. The
// events function (which reads the stream and calls no DynamoDB API) imports it rather than
// awsdynamo, so as not to link the DynamoDB client; the ledger (pkg/ledger) writes and lists the
// items, and owns their stored shape.
package eventitems

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// IsRecord reports whether a record of the state table's stream is an event item's: its sort key
// ("sk", awsdynamo's table definition) starts with ledger.EventPrefix. (The template's filter
// already passes only those; this is for a stream read without it.)
func IsRecord(r events.DynamoDBEventRecord) bool {
	sk, ok := r.Change.Keys["sk"]
	return ok && sk.DataType() == events.DataTypeString && strings.HasPrefix(sk.String(), ledger.EventPrefix)
}

// FromStream returns the event a record of the state table's stream inserts: ok false for a
// record that is not an event item's (awslambda.StreamDecoder).
func FromStream(r events.DynamoDBEventRecord) (ev shiplog.Event, ok bool, err error) {
	if !IsRecord(r) {
		return shiplog.Event{}, false, nil
	}
	// Lambda's attribute values and the SDK's have one JSON form, DynamoDB's.
	data, err := json.Marshal(r.Change.NewImage)
	if err != nil {
		return ev, false, fmt.Errorf("decode stream image: %w", err)
	}
	m, err := attributevalue.UnmarshalMapJSON(data)
	if err != nil {
		return ev, false, fmt.Errorf("decode stream image: %w", err)
	}
	ev, err = ledger.DecodeEvent(func(v any) error {
		return attributevalue.UnmarshalMapWithOptions(m, v, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" })
	})
	switch {
	case err != nil:
		err = fmt.Errorf("decode item: %w", err)
	case ev.ID == "" || ev.Type == "" || ev.ProjectID == "":
		err = errors.New("decode event: event_id, type and project_id are required")
	}
	return ev, err == nil, err
}
