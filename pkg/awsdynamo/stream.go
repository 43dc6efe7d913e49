package awsdynamo

import (
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// IsEventRecord reports whether a record of the state table's stream is an event item's: its sort
// key starts with EventPrefix. (The template's filter already passes only those; this is for a
// stream read without it.)
func IsEventRecord(r events.DynamoDBEventRecord) bool {
	sk, ok := r.Change.Keys[attrSK]
	return ok && sk.DataType() == events.DataTypeString && strings.HasPrefix(sk.String(), EventPrefix)
}

// StreamEvent returns the event a record of the state table's stream inserts: ok false for a
// record that is not an event item's (awslambda.StreamDecoder).
func StreamEvent(r events.DynamoDBEventRecord) (ev shiplog.Event, ok bool, err error) {
	if !IsEventRecord(r) {
		return shiplog.Event{}, false, nil
	}
	ev, err = DecodeStreamEvent(r.Change.NewImage)
	return ev, err == nil, err
}

// DecodeStreamEvent decodes the new image of an event item, as the state table's stream carries
// it (in Lambda's form of attribute values).
func DecodeStreamEvent(img map[string]events.DynamoDBAttributeValue) (shiplog.Event, error) {
	m := make(item, len(img))
	for k, v := range img {
		av, err := streamValue(v)
		if err != nil {
			return shiplog.Event{}, fmt.Errorf("decode stream image: %s: %w", k, err)
		}
		m[k] = av
	}
	return DecodeEvent(m)
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
