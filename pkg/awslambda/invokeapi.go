package awslambda

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
)

// maxPayload is Lambda's limit for a synchronous invocation's request payload.
const maxPayload = 6 << 20

// InvokePattern is the Lambda Invoke API's route, as the aws CLI and the SDKs call it.
const InvokePattern = "POST " + invokePath

// InvokeAPI serves the Lambda Invoke API for the given functions, so that
// `aws lambda invoke --endpoint-url ...` works against the local stack unchanged. Function errors
// are reported as Lambda reports them: status 200, header X-Amz-Function-Error: Unhandled, and a
// body {"errorType", "errorMessage"}. It also answers ListFunctions (`aws lambda list-functions`),
// and any other path with a JSON error in Lambda's shape.
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
	listFunctions := func(w http.ResponseWriter, r *http.Request) {
		region := signedRegion(r)
		list := ListFunctionsOutput{Functions: []FunctionConfiguration{}}
		for _, name := range slices.Sorted(maps.Keys(functions)) {
			list.Functions = append(list.Functions, FunctionConfiguration{
				FunctionName:  name,
				FunctionArn:   "arn:aws:lambda:" + region + ":" + localAccount + ":function:" + name,
				Runtime:       "provided.al2023",
				Handler:       "bootstrap",
				Architectures: []string{"arm64"},
				PackageType:   "Zip",
				Description:   "shiplog " + name + " (local stack)",
			})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	}
	mux.HandleFunc(ListFunctionsPattern, listFunctions)
	mux.HandleFunc("GET /2015-03-31/functions/{$}", listFunctions)
	// Anything else is an operation the local stack does not serve; say so in Lambda's error shape
	// rather than ServeMux's plain text.
	unknown := func(w http.ResponseWriter, r *http.Request) {
		serviceError(w, http.StatusNotFound, "UnknownOperationException",
			"the local stack serves only Invoke (POST "+invokePath+") and ListFunctions (GET /2015-03-31/functions/); not "+r.Method+" "+r.URL.EscapedPath())
	}
	mux.HandleFunc("/", unknown)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ServeMux would redirect an unclean path (".../x/../deploy/invocations") to its cleaned
		// form, another function's; no Lambda API path is unclean.
		if p := r.URL.EscapedPath(); path.Clean(p) != strings.TrimSuffix(p, "/") {
			unknown(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// ListFunctionsPattern is the Lambda ListFunctions route, as `aws lambda list-functions` calls it
// (the SDKs' model has a trailing slash, which is served too).
const ListFunctionsPattern = "GET /2015-03-31/functions"

const invokePath = "/2015-03-31/functions/{function}/invocations"

// localAccount is the account id in the local stack's function ARNs.
const localAccount = "000000000000"

// ListFunctionsOutput is the local stack's answer to ListFunctions: one page, every function.
type ListFunctionsOutput struct {
	Functions []FunctionConfiguration `json:"Functions"`
}

// FunctionConfiguration is the part of Lambda's function configuration the local stack can say.
type FunctionConfiguration struct {
	FunctionName  string   `json:"FunctionName"`
	FunctionArn   string   `json:"FunctionArn"`
	Runtime       string   `json:"Runtime"`
	Handler       string   `json:"Handler"`
	Architectures []string `json:"Architectures"`
	PackageType   string   `json:"PackageType"`
	Description   string   `json:"Description"`
}

// signedRegion is the region of the request's SigV4 credential scope (the aws CLI signs even for
// a local endpoint), for ARNs that look like the caller's; "local" when the request is unsigned.
func signedRegion(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return "local"
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[2] == "" || len(parts[2]) > 32 {
		return "local"
	}
	for _, c := range parts[2] {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return "local"
		}
	}
	return parts[2]
}

func serviceError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}
