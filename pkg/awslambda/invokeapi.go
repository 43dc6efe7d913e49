package awslambda

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// maxPayload is Lambda's limit for a synchronous invocation's request payload.
const maxPayload = 6 << 20

// InvokePattern is the Lambda Invoke API's route, as the aws CLI and the SDKs call it.
const InvokePattern = "POST /2015-03-31/functions/{function}/invocations"

// InvokeAPI serves the Lambda Invoke API for the given functions, so that
// `aws lambda invoke --endpoint-url ...` works against the local stack unchanged. Function errors
// are reported as Lambda reports them: status 200, header X-Amz-Function-Error: Unhandled, and a
// body {"errorType", "errorMessage"}.
func InvokeAPI(functions map[string]lambda.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(InvokePattern, func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("function")
		// The CLI accepts a name, a partial ARN or a full ARN; the name is the last segment.
		if i := strings.LastIndex(name, ":function:"); i >= 0 {
			name = name[i+len(":function:"):]
		}
		if i := strings.IndexByte(name, ':'); i >= 0 { // a qualifier (version or alias)
			name = name[:i]
		}
		fn, ok := functions[name]
		if !ok {
			serviceError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
			return
		}
		switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
		case "", "RequestResponse", "Event", "DryRun":
		default:
			serviceError(w, http.StatusBadRequest, "InvalidParameterValueException", "invalid invocation type "+t)
			return
		}
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				serviceError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
				return
			}
			serviceError(w, http.StatusBadRequest, "InvalidRequestContentException", "could not read the request body")
			return
		}
		if r.Header.Get("X-Amz-Invocation-Type") == "DryRun" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		out, err := fn.Invoke(r.Context(), payload)
		if r.Header.Get("X-Amz-Invocation-Type") == "Event" {
			// Run synchronously for a deterministic local stack, but answer as Lambda does.
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			var ire messages.InvokeResponse_Error
			if !errors.As(err, &ire) {
				ire = ErrorResponse(err)
			}
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.WriteHeader(http.StatusOK)
			_ = json.NewEncoder(w).Encode(map[string]string{"errorType": ire.Type, "errorMessage": ire.Message})
			return
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
	})
	return mux
}

func serviceError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
