package awserr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shiplog/shiplog/pkg/awserr"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// operation wraps err as the SDK's clients return it.
func operation(err error) error {
	return &smithy.OperationError{ServiceID: "SSM", OperationName: "GetParameter", Err: err}
}

// response is an error answered with an HTTP status and no modeled error.
func response(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      errors.New("unmodeled answer"),
	}}
}

func apiError(code string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: "message of " + code, Fault: fault}
}

// Each shape of error an SDK call can fail with, as the SDK returns it after its retries.
var shapes = []struct {
	name    string
	err     error
	kind    shiplog.Kind
	message string // what Service("SSM").Wrap says after "get parameter /a: "
}{
	{"deadline", operation(fmt.Errorf("retry quota: %w", context.DeadlineExceeded)), shiplog.Unavailable, "gave up waiting for SSM; retry later"},
	{"canceled", operation(&smithy.CanceledError{Err: context.Canceled}), shiplog.Unavailable, "gave up waiting for SSM; retry later"},
	{"connection refused", operation(&smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"unknown host", operation(&smithyhttp.RequestSendError{Err: &net.DNSError{Name: "ssm.example", IsNotFound: true}}), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"retry quota spent", operation(ratelimit.QuotaExceededError{Available: 0, Requested: 5}), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"ThrottlingException", operation(apiError("ThrottlingException", smithy.FaultClient)), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"ProvisionedThroughputExceededException", operation(apiError("ProvisionedThroughputExceededException", smithy.FaultClient)), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"RequestTimeoutException", operation(apiError("RequestTimeoutException", smithy.FaultUnknown)), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"server fault", operation(apiError("InternalServerError", smithy.FaultServer)), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"HTTP 503", operation(response(http.StatusServiceUnavailable)), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"unmodeled HTTP 429", operation(response(http.StatusTooManyRequests)), shiplog.Unavailable, "SSM is throttling or unavailable; retry later"},
	{"validation", operation(apiError("ValidationException", smithy.FaultClient)), shiplog.Internal, "operation error SSM: GetParameter, api error ValidationException: message of ValidationException"},
	{"access denied", operation(apiError("AccessDeniedException", smithy.FaultClient)), shiplog.Internal, "operation error SSM: GetParameter, api error AccessDeniedException: message of AccessDeniedException"},
	{"HTTP 400", operation(response(http.StatusBadRequest)), shiplog.Internal, "operation error SSM: GetParameter, https response error StatusCode: 400, RequestID: , unmodeled answer"},
	{"other", errors.New("serialization failed"), shiplog.Internal, "serialization failed"},
}

func TestKind(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			if got := awserr.Kind(tt.err); got != tt.kind {
				t.Errorf("Kind(%v): got %v, want %v", tt.err, got, tt.kind)
			}
		})
	}
	if got := awserr.Kind(nil); got != shiplog.Internal {
		t.Errorf("Kind(nil): got %v, want Internal", got)
	}
}

func TestWrap(t *testing.T) {
	const ssm = awserr.Service("SSM")
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			err := ssm.Wrap(tt.err, "get parameter %s", "/a")
			if got := shiplog.KindOf(err); got != tt.kind {
				t.Errorf("kind: got %v, want %v", got, tt.kind)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap the SDK's error", err)
			}
			msg := err.Error()
			if tt.kind != shiplog.Internal {
				// A caller is shown only the message, not the SDK's words.
				msg = shiplog.MessageOf(err)
			}
			if want := "get parameter /a: " + tt.message; msg != want {
				t.Errorf("message: got %q, want %q", msg, want)
			}
		})
	}
	if err := ssm.Wrap(nil, "get parameter %s", "/a"); err != nil {
		t.Errorf("Wrap(nil): got %v, want nil", err)
	}
}

// TestUnavailable: a service's own throttling code says what Wrap says of the SDK's.
func TestUnavailable(t *testing.T) {
	sdk := &smithy.GenericAPIError{Code: "TooManyUpdates", Fault: smithy.FaultClient}
	err := awserr.Service("SSM").Unavailable(sdk, "put parameter %s", "/a")
	if got := shiplog.KindOf(err); got != shiplog.Unavailable {
		t.Errorf("kind: got %v, want Unavailable", got)
	}
	if got, want := shiplog.MessageOf(err), "put parameter /a: SSM is throttling or unavailable; retry later"; got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
	if !errors.Is(err, sdk) || strings.Contains(shiplog.MessageOf(err), "TooManyUpdates") {
		t.Errorf("%v: want the SDK's error kept as the cause, out of the message", err)
	}
}
