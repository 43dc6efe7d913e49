package awsdynamo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The key attributes of the two tables (TableDefinitions).
const (
	attrReleaseID = "release_id"
	attrProjectID = "project_id"
	attrPK        = "pk"
	attrSK        = "sk"
)

type item = map[string]types.AttributeValue

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(n)}
}

// maxBatchGetKeys is DynamoDB's limit on the keys of one BatchGetItem.
const maxBatchGetKeys = 100

// unprocessedRounds bounds how often a batch read asks again for keys DynamoDB left unprocessed
// (it does so when throttled); the waits add up to about 6 seconds.
const (
	unprocessedRounds   = 8
	maxUnprocessedDelay = 2 * time.Second
)

// Records are encoded and decoded by their json tags, which are their attribute names.
func useJSONTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }

func decodeJSONTags(o *attributevalue.DecoderOptions) { o.TagKey = "json" }

func marshal(v any) (item, error) {
	m, err := attributevalue.MarshalMapWithOptions(v, useJSONTags)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return m, nil
}

func unmarshal(m item, v any) error {
	if err := attributevalue.UnmarshalMapWithOptions(m, v, decodeJSONTags); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	return nil
}

func stateKey(pk, sk string) item { return item{attrPK: str(pk), attrSK: str(sk)} }

func releaseKey(releaseID string) item { return item{attrReleaseID: str(releaseID)} }
