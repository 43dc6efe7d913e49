package awslambda_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// invokeServer serves the Invoke API for the env's three functions on 127.0.0.1.
func (e *testEnv) invokeServer(t *testing.T) *httptest.Server {
	t.Helper()
	handlers := map[string]lambda.Handler{}
	for name, fn := range e.functions() {
		handlers[name] = fn
	}
	srv := httptest.NewServer(awslambda.InvokeAPI(handlers))
	t.Cleanup(srv.Close)
	return srv
}

// invokeURL is the Invoke API's URL for a function name or ARN, escaped as the aws CLI sends it
// (botocore escapes ":" and "$" in URI labels).
func invokeURL(srv *httptest.Server, function string) string {
	escaped := strings.NewReplacer(":", "%3A", "$", "%24").Replace(url.PathEscape(function))
	return srv.URL + "/2015-03-31/functions/" + escaped + "/invocations"
}

func TestInvokeAPI(t *testing.T) {
	tagged := string(readFile(t, "ecr-push-tagged.json"))
	archivistParam := map[string]string{"/storage/images/latest/archivist": archivistURI}
	tests := []struct {
		name           string
		function       string
		invocationType string // X-Amz-Invocation-Type; empty: none sent
		qualifier      string // the Qualifier query parameter (aws lambda invoke --qualifier); empty: none
		payload        string
		wantStatus     int
		wantHeader     map[string]string // "" means the header must be absent
		wantBody       string            // exact JSON, or "" for an empty body; "*" skips the check
		wantReleases   int               // releases of storage afterwards
		wantParams     map[string]string // parameters afterwards (besides the seeded latest images)
	}{
		{
			name: "create-release by name", function: "create-release", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusOK, wantBody: "*", wantReleases: 1,
			wantHeader: map[string]string{"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST", "X-Amz-Function-Error": ""},
		},
		{
			name: "RequestResponse", function: "create-release", invocationType: "RequestResponse", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusOK, wantBody: "*", wantReleases: 1,
		},
		{
			name: "full ARN", function: "arn:aws:lambda:eu-west-1:123456789012:function:create-release", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusOK, wantBody: "*", wantReleases: 1,
		},
		{
			name: "ARN with an alias", function: "arn:aws:lambda:eu-west-1:123456789012:function:create-release:prod", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusOK, wantBody: "*", wantReleases: 1,
		},
		{
			// CI names the stack's alias live (docs/operating.md); the local stack has one version.
			name: "the alias live, as --qualifier", function: "create-release", qualifier: "live", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusOK, wantBody: "*", wantReleases: 1,
		},
		{
			name: "partial ARN", function: "123456789012:function:create-release", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusOK, wantBody: "*", wantReleases: 1,
		},
		{
			name: "name with a version", function: "create-release:$LATEST", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusOK, wantBody: "*", wantReleases: 1,
		},
		{
			name: "ecr-push", function: "ecr-push", payload: tagged,
			wantStatus: http.StatusOK, wantParams: archivistParam,
			wantBody: `{"image":"` + archivistURI + `","updated":["/storage/images/latest/archivist"],"source":{"revision":"5d2a9c1e7b3f","revision_from":"tag"}}`,
		},
		{
			name: "function error", function: "create-release", payload: `{}`,
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"X-Amz-Function-Error": "Unhandled", "Content-Type": "application/json"},
			wantBody:   `{"errorType":"Invalid","errorMessage":"project_id: is required"}`,
		},
		{
			name: "function error of another kind", function: "deploy", payload: `{"project_id": "storage", "release_id": "latest", "environment": "qa"}`,
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"X-Amz-Function-Error": "Unhandled"},
			wantBody:   `{"errorType":"NotFound","errorMessage":"project storage has no releases yet"}`,
		},
		{
			name: "unknown function", function: "delete-everything", payload: `{}`,
			wantStatus: http.StatusNotFound,
			wantHeader: map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException", "X-Amz-Function-Error": ""},
			wantBody:   `{"Type":"User","message":"Function not found: delete-everything"}`,
		},
		{
			name: "unknown function by ARN", function: "arn:aws:lambda:eu-west-1:123456789012:function:api", payload: `{}`,
			wantStatus: http.StatusNotFound,
			wantHeader: map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException"},
			wantBody:   "*",
		},
		{
			name: "DryRun checks but does not run", function: "create-release", invocationType: "DryRun", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusNoContent, wantBody: "",
		},
		{
			name: "Event runs the function and answers 202", function: "ecr-push", invocationType: "Event", payload: tagged,
			wantStatus: http.StatusAccepted, wantBody: "", wantParams: archivistParam,
			wantHeader: map[string]string{"X-Amz-Function-Error": ""},
		},
		{
			name: "Event of a failing function", function: "create-release", invocationType: "Event", payload: `{}`,
			wantStatus: http.StatusAccepted, wantBody: "",
		},
		{
			name: "unknown invocation type", function: "create-release", invocationType: "Later", payload: `{"project_id": "storage"}`,
			wantStatus: http.StatusBadRequest,
			wantHeader: map[string]string{"X-Amzn-ErrorType": "InvalidParameterValueException"},
			wantBody:   "*",
		},
		{
			name: "payload over 6 MiB", function: "create-release",
			payload:    `{"project_id": "storage", "description": "` + strings.Repeat("x", 6<<20) + `"}`,
			wantStatus: http.StatusRequestEntityTooLarge,
			wantHeader: map[string]string{"X-Amzn-ErrorType": "RequestTooLargeException"},
			wantBody:   "*",
		},
		{
			// At the limit the function runs, and refuses the description itself.
			name: "payload of exactly 6 MiB", function: "create-release",
			payload:    `{"project_id": "storage", "description": "` + strings.Repeat("x", 6<<20-len(`{"project_id": "storage", "description": ""}`)) + `"}`,
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"X-Amz-Function-Error": "Unhandled"},
			wantBody:   `{"errorType":"Invalid","errorMessage":"description: is 6291412 bytes long; the limit is 1024"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t).registered(t).withImages(t)
			srv := e.invokeServer(t)
			u := invokeURL(srv, tt.function)
			if tt.qualifier != "" {
				u += "?Qualifier=" + tt.qualifier
			}
			req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if tt.invocationType != "" {
				req.Header.Set("X-Amz-Invocation-Type", tt.invocationType)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d (body %.300s)", res.StatusCode, tt.wantStatus, body)
			}
			for k, want := range tt.wantHeader {
				if got := res.Header.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			switch tt.wantBody {
			case "*":
				if !json.Valid(body) {
					t.Errorf("body is not JSON: %.300s", body)
				}
			case "":
				if len(body) != 0 {
					t.Errorf("body: got %.300s, want none", body)
				}
			default:
				checkJSON(t, body, tt.wantBody)
			}

			s := e.snapshot(t)
			if got := len(s.Releases["storage"]); got != tt.wantReleases {
				t.Errorf("stored releases: got %d, want %d", got, tt.wantReleases)
			}
			wantParams := map[string]string{}
			for svc, uri := range storageImages {
				wantParams[shiplog.ParameterName("storage", "latest", svc)] = uri
			}
			for k, v := range tt.wantParams {
				wantParams[k] = v
			}
			if diff := cmp.Diff(wantParams, s.Params); diff != "" {
				t.Errorf("stored parameters (-want +got):\n%s", diff)
			}
			if tt.wantReleases == 1 && tt.wantBody == "*" {
				// The body is the release that was stored.
				var got shiplog.Release
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(s.Releases["storage"][0], got); diff != "" {
					t.Errorf("returned release differs from the stored one (-stored +returned):\n%s", diff)
				}
			}
		})
	}
}

// TestInvokeAPIInternalError checks that the Invoke API, like Lambda, shows callers only the
// generic message of an internal error.
func TestInvokeAPIInternalError(t *testing.T) {
	e := newEnvWith(t, func(p shiplog.ParameterStore) shiplog.ParameterStore {
		return failingParams{p, io.ErrUnexpectedEOF}
	}).registered(t)
	srv := e.invokeServer(t)
	res, err := srv.Client().Post(invokeURL(srv, "create-release"), "application/json", strings.NewReader(`{"project_id": "storage"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	checkJSON(t, body, `{"errorType":"Internal","errorMessage":"internal error"}`)
	if got := res.Header.Get("X-Amz-Function-Error"); got != "Unhandled" {
		t.Errorf("X-Amz-Function-Error: got %q, want Unhandled", got)
	}
	if !strings.Contains(e.logs.String(), io.ErrUnexpectedEOF.Error()) {
		t.Errorf("log lacks the cause:\n%s", e.logs.String())
	}
}

// TestFunctionsUnderTheRuntime runs each function through aws-lambda-go's own handler wrapping,
// as lambda.Start does in functions/*/main.go, to check that errors keep their errorType.
func TestFunctionsUnderTheRuntime(t *testing.T) {
	e := newEnv(t).registered(t).withImages(t)
	for name, fn := range e.functions() {
		t.Run(name, func(t *testing.T) {
			h := lambda.NewHandler(fn)
			_, err := h.Invoke(context.Background(), []byte(`{"unknown": true}`))
			ire := invocationError(t, err)
			if ire.Type != "Invalid" {
				t.Errorf("errorType: got %q, want Invalid (%q)", ire.Type, ire.Message)
			}
		})
	}
}

// checkJSON fails the test unless got is the same JSON value as want.
func checkJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("body is not JSON: %v: %.300s", err, got)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

// TestInvokeAPIListFunctionsAndUnknownPaths: ListFunctions names the functions served; any other
// path gets a JSON error in Lambda's shape, not ServeMux's plain text.
func TestInvokeAPIListFunctionsAndUnknownPaths(t *testing.T) {
	e := newEnv(t)
	srv := e.invokeServer(t)
	for _, path := range []string{"/2015-03-31/functions", "/2015-03-31/functions/"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20261120/eu-west-2/lambda/aws4_request, SignedHeaders=host, Signature=x")
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out awslambda.ListFunctionsOutput
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d, %v", path, res.StatusCode, err)
		}
		var names []string
		for _, f := range out.Functions {
			names = append(names, f.FunctionName)
			if want := "arn:aws:lambda:eu-west-2:000000000000:function:" + f.FunctionName; f.FunctionArn != want {
				t.Errorf("FunctionArn %q, want %q", f.FunctionArn, want)
			}
		}
		if diff := cmp.Diff([]string{"create-release", "deploy", "ecr-push", "ecs-events"}, names); diff != "" {
			t.Errorf("GET %s: functions (-want +got):\n%s", path, diff)
		}
	}
	for _, tt := range []struct{ method, path string }{
		{"GET", "/2015-03-31/functions/deploy"},
		{"GET", "/2015-03-31/functions/deploy/invocations"},
		{"DELETE", "/2015-03-31/functions/deploy"},
		{"POST", "/2015-03-31/nothing"},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || res.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" || !json.Valid(body) || !strings.Contains(string(body), tt.path) {
			t.Errorf("%s %s: %d %s %s, want a 404 UnknownOperationException JSON naming the path", tt.method, tt.path, res.StatusCode, res.Header.Get("X-Amzn-ErrorType"), body)
		}
	}
}
