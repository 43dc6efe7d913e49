// Package eventitems is the event items of awsdynamo's state table, apart from its store: the
// sort-key prefix that marks them, and their decoding from a Query's item or from a record of the
// table's stream. The events function (which reads the stream and calls no DynamoDB API) imports
// it rather than awsdynamo, so as not to link the DynamoDB client; the ledger (pkg/ledger) writes
// and lists the items, and owns their stored shape.
package eventitems

import (
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Prefix starts the sort key of every event item, and of nothing else: the events function's
// stream filter (template.yaml) selects event items by it.
const Prefix = ledger.EventPrefix

// sortKey is the state table's sort key attribute (awsdynamo's table definition).
const sortKey = "sk"

// Decode decodes an event item of the state table, as a Query or the table's stream reads it.
func Decode(m map[string]types.AttributeValue) (shiplog.Event, error) {
	ev, err := ledger.DecodeEvent(func(v any) error {
		return attributevalue.UnmarshalMapWithOptions(m, v, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" })
	})
	if err != nil {
		return ev, fmt.Errorf("decode item: %w", err)
	}
	if ev.ID == "" || ev.Type == "" || ev.ProjectID == "" {
		return ev, fmt.Errorf("decode event: event_id, type and project_id are required")
	}
	return ev, nil
}

// IsRecord reports whether a record of the state table's stream is an event item's: its sort key
// starts with Prefix. (The template's filter already passes only those; this is for a stream read
// without it.)
func IsRecord(r events.DynamoDBEventRecord) bool {
	sk, ok := r.Change.Keys[sortKey]
	return ok && sk.DataType() == events.DataTypeString && strings.HasPrefix(sk.String(), Prefix)
}

// FromStream returns the event a record of the state table's stream inserts: ok false for a
// record that is not an event item's (awslambda.StreamDecoder).
func FromStream(r events.DynamoDBEventRecord) (ev shiplog.Event, ok bool, err error) {
	if !IsRecord(r) {
		return shiplog.Event{}, false, nil
	}
	ev, err = DecodeStream(r.Change.NewImage)
	return ev, err == nil, err
}

// DecodeStream decodes the new image of an event item, as the state table's stream carries it
// (in Lambda's form of attribute values).
func DecodeStream(img map[string]events.DynamoDBAttributeValue) (shiplog.Event, error) {
	m := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := streamValue(v)
		if err != nil {
			return shiplog.Event{}, fmt.Errorf("decode stream image: %s: %w", k, err)
		}
		m[k] = av
	}
	return Decode(m)
}

// streamValue converts a Lambda stream attribute value to the SDK's.
func streamValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := streamValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m := v.Map()
		out := make(map[string]types.AttributeValue, len(m))
		for k, e := range m {
			av, err := streamValue(e)
			if err != nil {
				return nil, err
			}
			out[k] = av
		}
		return &types.AttributeValueMemberM{Value: out}, nil
	}
	return nil, fmt.Errorf("attribute value of unknown type %v", v.DataType())
}
