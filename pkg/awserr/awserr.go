// Package awserr maps the errors of aws-sdk-go-v2 calls to shiplog's kinds, the same way for
// every AWS adapter: what outlived the SDK's retries (throttling, server faults, failed
// connections, an exhausted retry quota) and a caller's deadline or cancellation are Unavailable,
// with a message that names the service and says to retry; the rest is Internal.
//
// An adapter first maps the errors that mean something in its own service (SSM's
// ParameterNotFound is NotFound, ECR's ImageTagAlreadyExistsException Conflict) and hands
// everything else to its Service's Wrap.
package awserr

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Service is an AWS service as shiplog's messages name it ("SSM", "ECR", "ECS").
type Service string

// Wrap returns err with what the adapter was doing (format and args): an Unavailable
// *shiplog.Error if Kind says so, else err wrapped with that context, which is Internal. Wrap
// of nil is nil.
func (s Service) Wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(format, args...)
	switch {
	case gaveUp(err):
		return shiplog.Wrap(shiplog.Unavailable, err, "%s: gave up waiting for %s; retry later", what, s)
	case transient(err):
		return s.unavailable(err, what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Unavailable returns err as Unavailable with the message Wrap gives throttling, for an error
// that means throttling in one service only (SSM's TooManyUpdates).
func (s Service) Unavailable(err error, format string, args ...any) error {
	return s.unavailable(err, fmt.Sprintf(format, args...))
}

func (s Service) unavailable(err error, what string) error {
	return shiplog.Wrap(shiplog.Unavailable, err, "%s: %s is throttling or unavailable; retry later", what, s)
}

// Kind is the kind Wrap gives err: Unavailable or Internal.
func Kind(err error) shiplog.Kind {
	if err != nil && (gaveUp(err) || transient(err)) {
		return shiplog.Unavailable
	}
	return shiplog.Internal
}

// gaveUp reports whether the caller's context ended the call: the same request may succeed with
// more time.
func gaveUp(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// retryables are the errors the SDK's standard retryer retries: HTTP 500, 502, 503 and 504,
// connection errors, an unmodeled 429, and the throttling and timeout error codes.
var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// transient reports whether err is one the SDK retries, or would have retried had its retry
// quota not run out: one that still fails after the retries is a service throttling or down.
func transient(err error) bool {
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &quota) {
		return true
	}
	// A request that never got an answer, whatever the reason (the SDK does not retry a DNS
	// name that does not resolve, but the network may be what is failing).
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		if _, ok := retry.DefaultThrottleErrorCodes[code]; ok {
			return true
		}
		if _, ok := retry.DefaultRetryableErrorCodes[code]; ok {
			return true
		}
		if apiErr.ErrorFault() == smithy.FaultServer {
			return true
		}
	}
	return retryables.IsErrorRetryable(err) == aws.TrueTernary
}
