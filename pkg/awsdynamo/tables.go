package awsdynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ReleasesIndex is the releases table's global secondary index that lists a project's releases.
const ReleasesIndex = "project_id-release_id"

// TableDefinitions returns the releases table and the state table as CreateTable requests. It is
// the one definition of their keys, indexes and streams (the state table's, of new images): tests
// create tables from it, and template.yaml is checked against it.
func TableDefinitions(releasesTable, stateTable string) []*dynamodb.CreateTableInput {
	return []*dynamodb.CreateTableInput{
		{
			TableName:   aws.String(releasesTable),
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(attrReleaseID), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(attrProjectID), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrReleaseID), KeyType: types.KeyTypeHash},
			},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String(ReleasesIndex),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(attrProjectID), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String(attrReleaseID), KeyType: types.KeyTypeRange},
				},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
			}},
		},
		{
			TableName:   aws.String(stateTable),
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
			},
			// The event log's outbox: each event item's new image reaches the events function
			// (awslambda.Events) through the stream.
			StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage},
		},
	}
}

// TimeToLive returns the TTL attribute of each table that has one, keyed by table name: the state
// table's AttrExpiresAt, which idempotency keys carry. template.yaml is checked against it.
func TimeToLive(releasesTable, stateTable string) map[string]string {
	return map[string]string{stateTable: AttrExpiresAt}
}

// CreateTables creates both tables, unless they exist, waits until they are ACTIVE, and enables
// their TTL (TimeToLive). It is for tests and local stacks; deployed stacks get their tables from
// template.yaml.
func CreateTables(ctx context.Context, client *dynamodb.Client, releasesTable, stateTable string) error {
	defs := TableDefinitions(releasesTable, stateTable)
	for _, def := range defs {
		_, err := client.CreateTable(ctx, def)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", aws.ToString(def.TableName), err)
		}
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 2*time.Second
	})
	for _, def := range defs {
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: def.TableName}, 5*time.Minute); err != nil {
			return fmt.Errorf("wait for table %s: %w", aws.ToString(def.TableName), err)
		}
	}
	for table, attr := range TimeToLive(releasesTable, stateTable) {
		out, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("describe the TTL of table %s: %w", table, err)
		}
		// UpdateTimeToLive refuses to enable it twice.
		if d := out.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == attr &&
			(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
			continue
		}
		_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName:               aws.String(table),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("enable TTL on %s of table %s: %w", attr, table, err)
		}
	}
	return nil
}
