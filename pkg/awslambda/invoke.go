// Package awslambda adapts shiplog to AWS Lambda: the direct-invocation functions that CI calls
// with `aws lambda invoke`, the API Gateway HTTP API (payload 2.0) wrapper for the HTTP API, and
// a local implementation of the Lambda Invoke API so the local stack answers the aws CLI.
package awslambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Function is a direct-invocation handler: a JSON payload in, a value to encode as JSON out.
type Function struct {
	Name string
	Log  *slog.Logger
	Fn   func(ctx context.Context, payload []byte) (any, error)
}

var _ lambda.Handler = Function{}

// Invoke implements lambda.Handler. Errors come back as Lambda function errors whose errorType is
// the shiplog error kind and whose errorMessage says what to fix; internal causes are logged here,
// once, and never shown.
func (f Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := f.Fn(ctx, payload)
	if err != nil {
		return nil, f.fail(ctx, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, f.fail(ctx, fmt.Errorf("encode response: %w", err))
	}
	return b, nil
}

func (f Function) fail(ctx context.Context, err error) error {
	kind := shiplog.KindOf(err)
	log := f.Log
	if log == nil {
		log = slog.Default()
	}
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
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return shiplog.Errorf(shiplog.Invalid, "payload: is empty; send a JSON object")
	}
	if trimmed[0] != '{' {
		return shiplog.Errorf(shiplog.Invalid, "payload: must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return shiplog.Errorf(shiplog.Invalid, "payload: %s", describeJSONError(err))
	}
	// Token, not More: More reports false for a stray "}" or "]", which would be accepted.
	if _, err := dec.Token(); err != io.EOF {
		return shiplog.Errorf(shiplog.Invalid, "payload: unexpected data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := te.Type.Kind().String()
		switch want {
		case "struct", "map":
			want = "object"
		case "slice":
			want = "array"
		case "int", "int64", "float64":
			want = "number"
		case "bool":
			want = "boolean"
		}
		if te.Field == "" {
			return fmt.Sprintf("got a JSON %s, want a JSON %s", te.Value, want)
		}
		return fmt.Sprintf("%s: got a JSON %s, want a JSON %s", te.Field, te.Value, want)
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON (at byte %d): %s", se.Offset, se.Error())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Sprintf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON: it ends too early"
	case strings.HasPrefix(err.Error(), "parsing time "), strings.HasPrefix(err.Error(), "Time.UnmarshalJSON: "):
		// time.Time's own errors (a bad string, or not a string at all) name Go, not the payload.
		return "time: is not an RFC 3339 time"
	}
	return err.Error()
}
