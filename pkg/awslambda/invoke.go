// Package awslambda adapts shiplog to AWS Lambda: the direct-invocation functions that CI calls
// with `aws lambda invoke`, the API Gateway HTTP API (payload 2.0) wrapper for the HTTP API, and
// a local implementation of the Lambda Invoke API so the local stack answers the aws CLI.
package awslambda

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/shiplog/shiplog/pkg/logctx"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// Function is a direct-invocation handler: a JSON payload in, a value to encode as JSON out.
type Function struct {
	Name string
	Log  *slog.Logger
	Fn   func(ctx context.Context, payload []byte) (any, error)
	// Quiet leaves out the closing "invocation done" line: for the event-driven functions, whose
	// handlers log a line of their own per event, and which run for every push or ECS event of
	// the account.
	Quiet bool
}

var _ lambda.Handler = Function{}

// Invoke implements lambda.Handler. Errors come back as Lambda function errors whose errorType is
// the shiplog error kind and whose errorMessage says what to fix; internal causes are logged here,
// once, and never shown.
//
// Every line the invocation logs carries its fields (logctx: project, environment, deployment,
// as the handler and the service learn them), and it ends with one line saying how it ended (a
// Quiet function's only when it failed or was refused).
func (f Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ctx = logctx.New(ctx)
	start := time.Now()
	out, err := f.Fn(ctx, payload)
	if err != nil {
		return nil, f.fail(ctx, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, f.fail(ctx, fmt.Errorf("encode response: %w", err))
	}
	if !f.Quiet {
		f.logger().InfoContext(ctx, "invocation done", "function", f.Name, "ms", time.Since(start).Milliseconds())
	}
	return b, nil
}

func (f Function) logger() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}

func (f Function) fail(ctx context.Context, err error) error {
	kind := shiplog.KindOf(err)
	log := f.logger()
	if kind == shiplog.Internal || kind == shiplog.Unavailable {
		log.ErrorContext(ctx, "invocation failed", "function", f.Name, "kind", kind.String(), "err", err)
	} else {
		log.InfoContext(ctx, "invocation refused", "function", f.Name, "kind", kind.String(), "err", err)
	}
	return ErrorResponse(err)
}

// ErrorResponse turns err into the error a Lambda caller sees: errorType is the kind.
func ErrorResponse(err error) messages.InvokeResponse_Error {
	return messages.InvokeResponse_Error{Type: shiplog.KindOf(err).String(), Message: shiplog.MessageOf(err)}
}

// decode reads exactly one JSON object into v, refusing unknown fields and trailing data, and
// describes any problem in the payload's own terms.
func decode(payload []byte, v any) error {
	return strictjson.Decode(payload, v, strictjson.Options{Name: "payload"})
}
