package localaws

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamRecords reads a table's stream from its oldest record (TRIM_HORIZON), every shard to its
// current end, as a Lambda event source mapping reads it (DescribeStream, GetShardIterator,
// GetRecords), and returns the records in the shape Lambda hands them to a function, in stream
// order within each shard. The table must have a stream (its StreamSpecification).
func StreamRecords(ctx context.Context, cfg aws.Config, table string) ([]events.DynamoDBEventRecord, error) {
	desc, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", table, err)
	}
	arn := aws.ToString(desc.Table.LatestStreamArn)
	if arn == "" {
		return nil, fmt.Errorf("table %s has no stream", table)
	}
	streams := dynamodbstreams.NewFromConfig(cfg)
	var shards []types.Shard
	var start *string
	for {
		out, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn), ExclusiveStartShardId: start})
		if err != nil {
			return nil, fmt.Errorf("describe stream %s: %w", arn, err)
		}
		shards = append(shards, out.StreamDescription.Shards...)
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	var records []events.DynamoDBEventRecord
	for _, shard := range shards {
		it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(arn), ShardId: shard.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			return nil, fmt.Errorf("shard iterator of %s: %w", aws.ToString(shard.ShardId), err)
		}
		// An open shard always answers a next iterator: its current end is the first read that
		// returns nothing.
		for next := it.ShardIterator; next != nil; {
			out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
			if err != nil {
				return nil, fmt.Errorf("records of %s: %w", aws.ToString(shard.ShardId), err)
			}
			if len(out.Records) == 0 {
				break
			}
			for _, r := range out.Records {
				rec, err := lambdaRecord(r, arn)
				if err != nil {
					return nil, err
				}
				records = append(records, rec)
			}
			next = out.NextShardIterator
		}
	}
	return records, nil
}

// lambdaRecord converts a stream record to aws-lambda-go's form of it.
func lambdaRecord(r types.Record, streamARN string) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    aws.ToString(r.EventSource),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if r.Dynamodb == nil {
		return out, fmt.Errorf("stream record %s has no dynamodb part", out.EventID)
	}
	d := r.Dynamodb
	var err error
	out.Change = events.DynamoDBStreamRecord{
		SequenceNumber: aws.ToString(d.SequenceNumber),
		SizeBytes:      aws.ToInt64(d.SizeBytes),
		StreamViewType: string(d.StreamViewType),
	}
	if d.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	if out.Change.Keys, err = lambdaImage(d.Keys); err != nil {
		return out, fmt.Errorf("stream record %s keys: %w", out.EventID, err)
	}
	if out.Change.NewImage, err = lambdaImage(d.NewImage); err != nil {
		return out, fmt.Errorf("stream record %s new image: %w", out.EventID, err)
	}
	if out.Change.OldImage, err = lambdaImage(d.OldImage); err != nil {
		return out, fmt.Errorf("stream record %s old image: %w", out.EventID, err)
	}
	return out, nil
}

func lambdaImage(img map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if img == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(img))
	for k, v := range img {
		av, err := lambdaValue(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func lambdaValue(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(x.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(x.Value), nil
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			av, err := lambdaValue(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, err
			}
			l[i] = av
		}
		return events.NewListAttribute(l), nil
	case *types.AttributeValueMemberM:
		m, err := lambdaImage(x.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("attribute value of unknown type %T", v)
}
