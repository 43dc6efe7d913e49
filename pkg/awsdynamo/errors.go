package awsdynamo

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// failed wraps an error from DynamoDB with what the store was doing. Throttling, server faults
// and connection failures that outlived the SDK's retries are Unavailable; the rest is Internal.
func failed(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if transient(err) {
		return shiplog.Wrap(shiplog.Unavailable, err, "%s: DynamoDB is throttling or unavailable; retry later", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func transient(err error) bool {
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return true
	}
	var conflict *types.TransactionConflictException
	if errors.As(err, &conflict) {
		// A single-item write met a transaction on the same item; trying again later works.
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if _, ok := retry.DefaultThrottleErrorCodes[apiErr.ErrorCode()]; ok {
			return true
		}
		return apiErr.ErrorFault() == smithy.FaultServer
	}
	return false
}

func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// cancellation returns the cancellation reason codes of a cancelled transaction, one per item.
func cancellation(err error) ([]string, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		codes[i] = aws.ToString(r.Code)
	}
	return codes, true
}

// Cancellation reason codes (the TransactWriteItems API reference).
const (
	reasonConditionFailed    = "ConditionalCheckFailed"
	reasonTransactConflict   = "TransactionConflict"
	reasonThrottled          = "ThrottlingError"
	reasonThroughputExceeded = "ProvisionedThroughputExceeded"
)

// transactionFailure classifies a cancelled transaction: onCondition maps the index of an item
// whose condition failed to the error to return for it. Conflicts with other transactions are
// Conflict, throttling is Unavailable, anything else Internal.
func transactionFailure(err error, what string, onCondition func(i int) error) error {
	codes, ok := cancellation(err)
	if !ok {
		return failed(err, "%s", what)
	}
	for i, code := range codes {
		if code == reasonConditionFailed {
			if e := onCondition(i); e != nil {
				return e
			}
		}
	}
	for _, code := range codes {
		switch code {
		case reasonTransactConflict:
			return shiplog.Wrap(shiplog.Conflict, err, "%s: a concurrent change to the same items won; retry", what)
		case reasonThrottled, reasonThroughputExceeded:
			return shiplog.Wrap(shiplog.Unavailable, err, "%s: DynamoDB is throttling; retry later", what)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
