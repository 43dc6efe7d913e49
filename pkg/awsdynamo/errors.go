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

// writeFailure turns a failed write into the port's errors: a single-item call's failed
// condition (CondFailed of its op) or a transaction under way on its item (ErrBusy, where the
// Store said Unavailable); a TransactWriteItems's by its items' cancellation reasons (the
// TransactWriteItems API reference): the ops whose conditions failed (CondFailed), a conflict
// with another transaction (ErrBusy), throttling (Unavailable).
func writeFailure(err error, what string) error {
	var ccf *types.ConditionalCheckFailedException
	var conflict *types.TransactionConflictException
	var tce *types.TransactionCanceledException
	var cf ledger.CondFailed
	busy, throttled := errors.As(err, &conflict), false
	if errors.As(err, &ccf) {
		cf.Ops = []int{0}
	}
	if errors.As(err, &tce) {
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
	}
	switch {
	case len(cf.Ops) > 0:
		return &cf
	case busy:
		return fmt.Errorf("%s: %w: %w", what, ledger.ErrBusy, err)
	case throttled:
		return dynamo.Unavailable(err, "%s", what)
	case tce == nil:
		return dynamo.Wrap(err, "%s", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}
