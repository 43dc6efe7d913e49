package awsdynamo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// txEmulator stands in for TransactWriteItems on dynalite, which does not implement it (it
// answers UnknownOperationException). It intercepts the call before it is sent and applies the
// items one by one with dynalite's own conditional PutItem, UpdateItem and DeleteItem, so that
// conditions and update expressions are still evaluated by a real DynamoDB implementation. When
// an item's condition fails it puts back what the earlier items changed and returns a
// TransactionCanceledException with that item's reason, as DynamoDB does.
//
// It is not a transaction: emulated transactions are serialized with each other, but a plain
// write can interleave with one, and a reader can see one half applied. The contract suite's
// concurrent subtests only race transactions against transactions, so it holds for them; moto
// runs the real operation.
type txEmulator struct {
	mu     sync.Mutex
	direct *dynamodb.Client // the same server, without the emulator
	keys   map[string][]string
}

func newTxEmulator(direct *dynamodb.Client) *txEmulator {
	return &txEmulator{direct: direct, keys: map[string][]string{}}
}

func (e *txEmulator) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("EmulateTransactWriteItems",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			tx, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput)
			if !ok {
				return next.HandleInitialize(ctx, in)
			}
			if err := e.apply(ctx, tx); err != nil {
				return middleware.InitializeOutput{}, middleware.Metadata{}, err
			}
			return middleware.InitializeOutput{Result: &dynamodb.TransactWriteItemsOutput{}}, middleware.Metadata{}, nil
		}), middleware.After)
}

type undo struct {
	table string
	key   item
	old   item // nil: the item did not exist
}

func (e *txEmulator) apply(ctx context.Context, tx *dynamodb.TransactWriteItemsInput) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(tx.TransactItems) > maxTransactItems {
		return fmt.Errorf("emulated TransactWriteItems: %d items, the limit is %d", len(tx.TransactItems), maxTransactItems)
	}
	var done []undo
	for i, ti := range tx.TransactItems {
		table, key, err := e.target(ctx, ti)
		if err != nil {
			return errors.Join(err, e.rollback(ctx, done))
		}
		out, err := e.direct.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return errors.Join(err, e.rollback(ctx, done))
		}
		old := out.Item
		if err := e.write(ctx, ti, table, key, old); err != nil {
			if rbErr := e.rollback(ctx, done); rbErr != nil {
				return errors.Join(err, rbErr)
			}
			if !conditionFailed(err) {
				return err
			}
			reasons := make([]types.CancellationReason, len(tx.TransactItems))
			for j := range reasons {
				reasons[j].Code = aws.String("None")
			}
			reasons[i].Code = aws.String(reasonConditionFailed)
			return &types.TransactionCanceledException{
				Message:             aws.String("Transaction cancelled (emulated for dynalite)"),
				CancellationReasons: reasons,
			}
		}
		done = append(done, undo{table: table, key: key, old: old})
	}
	return nil
}

func (e *txEmulator) write(ctx context.Context, ti types.TransactWriteItem, table string, key, old item) error {
	var err error
	switch {
	case ti.Put != nil:
		p := ti.Put
		_, err = e.direct.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
			ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues,
		})
	case ti.Update != nil:
		u := ti.Update
		_, err = e.direct.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
			ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
		})
	case ti.Delete != nil:
		d := ti.Delete
		_, err = e.direct.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: d.TableName, Key: d.Key, ConditionExpression: d.ConditionExpression,
			ExpressionAttributeNames: d.ExpressionAttributeNames, ExpressionAttributeValues: d.ExpressionAttributeValues,
		})
	case ti.ConditionCheck != nil:
		// Evaluate the condition by rewriting the item as it is (or its bare key) under it.
		c := ti.ConditionCheck
		probe := old
		if probe == nil {
			probe = key
		}
		_, err = e.direct.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: c.TableName, Item: probe, ConditionExpression: c.ConditionExpression,
			ExpressionAttributeNames: c.ExpressionAttributeNames, ExpressionAttributeValues: c.ExpressionAttributeValues,
		})
		if err == nil && old == nil {
			_, err = e.direct.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: key})
		}
	default:
		err = errors.New("emulated TransactWriteItems: an item with no action")
	}
	return err
}

func (e *txEmulator) rollback(ctx context.Context, done []undo) error {
	var errs []error
	for i := len(done) - 1; i >= 0; i-- {
		u := done[i]
		var err error
		if u.old == nil {
			_, err = e.direct.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &u.table, Key: u.key})
		} else {
			_, err = e.direct.PutItem(ctx, &dynamodb.PutItemInput{TableName: &u.table, Item: u.old})
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// target returns the table and key an item acts on.
func (e *txEmulator) target(ctx context.Context, ti types.TransactWriteItem) (string, item, error) {
	switch {
	case ti.Update != nil:
		return aws.ToString(ti.Update.TableName), ti.Update.Key, nil
	case ti.Delete != nil:
		return aws.ToString(ti.Delete.TableName), ti.Delete.Key, nil
	case ti.ConditionCheck != nil:
		return aws.ToString(ti.ConditionCheck.TableName), ti.ConditionCheck.Key, nil
	case ti.Put != nil:
		table := aws.ToString(ti.Put.TableName)
		names, ok := e.keys[table]
		if !ok {
			out, err := e.direct.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
			if err != nil {
				return "", nil, err
			}
			for _, k := range out.Table.KeySchema {
				names = append(names, aws.ToString(k.AttributeName))
			}
			e.keys[table] = names
		}
		key := item{}
		for _, n := range names {
			key[n] = ti.Put.Item[n]
		}
		return table, key, nil
	}
	return "", nil, errors.New("emulated TransactWriteItems: an item with no action")
}
