package awsdynamo

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/awserr"
	"github.com/shiplog/shiplog/pkg/ledger"
)

// dynamo maps what DynamoDB's answers do not say themselves (awserr): throttling, server faults,
// failed connections and a caller's deadline are Unavailable, the rest Internal.
const dynamo = awserr.Service("DynamoDB")

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// transactionFailure turns a failed TransactWriteItems into the port's errors by its items'
// cancellation reasons (the TransactWriteItems API reference): the ops whose conditions failed
// (CondFailed), a conflict with another transaction (ErrBusy), throttling (Unavailable).
func transactionFailure(err error, what string) error {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return dynamo.Wrap(err, "%s", what)
	}
	var cf ledger.CondFailed
	var busy, throttled bool
	for i, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "ConditionalCheckFailed":
			cf.Ops = append(cf.Ops, i)
		case "TransactionConflict":
			busy = true
		case "ThrottlingError", "ProvisionedThroughputExceeded":
			throttled = true
		}
	}
	switch {
	case len(cf.Ops) > 0:
		return &cf
	case busy:
		return fmt.Errorf("%s: %w: %w", what, ledger.ErrBusy, err)
	case throttled:
		return dynamo.Unavailable(err, "%s", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}
