package awslambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The identities of the payload 2.0 fixtures.
var (
	alice    = shiplog.Person{ID: "arn:aws:sts::123456789012:assumed-role/Deployer/alice", Name: "alice", Via: shiplog.ViaAPI}
	jwtAlice = shiplog.Person{ID: "b2f4c6d8-1a3e-4c5b-9d7f-2e4a6c8e0f12", Name: "alice@example.org", Via: shiplog.ViaAPI}
)

// apiEvent returns a payload 2.0 fixture with edit applied.
func apiEvent(t *testing.T, name string, edit func(ev *events.APIGatewayV2HTTPRequest)) []byte {
	t.Helper()
	raw := readFile(t, name)
	if edit == nil {
		return raw
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	edit(&ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withPath sets the request's method and path as API Gateway would (rawPath as sent, http.path
// decoded), with no query string.
func withPath(method, rawPath string) func(ev *events.APIGatewayV2HTTPRequest) {
	return func(ev *events.APIGatewayV2HTTPRequest) {
		ev.RequestContext.HTTP.Method = method
		ev.RawPath = rawPath
		ev.RawQueryString, ev.QueryStringParameters = "", nil
		if p, err := url.PathUnescape(rawPath); err == nil {
			ev.RequestContext.HTTP.Path = p
		}
		ev.RouteKey, ev.RequestContext.RouteKey = "$default", "$default"
		ev.PathParameters = nil
	}
}

// callAPI sends a payload 2.0 event, as bytes, through the api function as lambda.Start runs it,
// and returns the response as bytes and decoded.
func (e *testEnv) callAPI(t *testing.T, payload []byte) ([]byte, events.APIGatewayV2HTTPResponse) {
	t.Helper()
	h := lambda.NewHandler(awslambda.HTTPAPI(httpapi.NewHandler(e.svc, e.log)))
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("api function: got error %v, want a response", err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("response is not an API Gateway response: %v\n%s", err, out)
	}
	return out, res
}

// seeded is a registered env with the storage images and two releases of storage, made by the
// service (ids 1 and 2), nothing deployed.
func seeded(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t).registered(t).withImages(t)
	for range 2 {
		if _, err := e.svc.CreateRelease(context.Background(), shiplog.CreateReleaseInput{ProjectID: "storage"}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func TestHTTPAPI(t *testing.T) {
	noAuthorizer := func(ev *events.APIGatewayV2HTTPRequest) { ev.RequestContext.Authorizer = nil }
	tests := []struct {
		name       string
		event      []byte
		wantStatus int
		wantHeader map[string]string
		wantKind   string // of an error body
		wantMsg    string // in an error body's message
		changes    bool   // whether the store may change
		check      func(t *testing.T, e *testEnv, body []byte)
		golden     string // file for the whole response
	}{
		{
			name:       "JWT caller creates a release with a base64 body",
			event:      readFile(t, "apigw-v2-jwt-post-release.json"),
			wantStatus: 201,
			wantHeader: map[string]string{"Content-Type": "application/json", "Location": "/projects/storage/releases/" + id(3), "X-Content-Type-Options": "nosniff"},
			changes:    true,
			golden:     "apigw-create-release-response.json",
			check: func(t *testing.T, e *testEnv, body []byte) {
				var got shiplog.Release
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if got.RequestedBy != jwtAlice {
					t.Errorf("requested_by: got %+v, want %+v", got.RequestedBy, jwtAlice)
				}
				if got.Description != "nightly release from CI" {
					t.Errorf("description: got %q, want the one in the base64 body", got.Description)
				}
				stored, err := e.store.GetRelease(context.Background(), "storage", id(3))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(stored, got); diff != "" {
					t.Errorf("returned release differs from the stored one (-stored +returned):\n%s", diff)
				}
			},
		},
		{
			name:       "IAM caller deploys",
			event:      readFile(t, "apigw-v2-iam-post-deploy.json"),
			wantStatus: 201,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			changes:    true,
			golden:     "apigw-deploy-response.json",
			check: func(t *testing.T, e *testEnv, body []byte) {
				var got shiplog.DeployResult
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				want := shiplog.Deployment{ID: id(3), Environment: shiplog.Environment{ID: "stage", Name: "Staging"},
					CreatedAt: now.Unix(), RequestedBy: alice, Description: "weekly storage deploy", Kind: "deploy", Changes: got.Deployment.Changes,
					Status: shiplog.StatusApplied, StatusHistory: []shiplog.StatusEntry{
						{Status: shiplog.StatusRequested, At: now.Unix(), By: alice},
						{Status: shiplog.StatusApplied, At: now.Unix(), By: shiplog.Person{ID: "shiplog", Name: "shiplog"}, Detail: "every parameter written"},
					}}
				if got.Deployment.Changes == nil || len(got.Deployment.Changes.Added) != len(storageImages) {
					t.Errorf("changes: got %+v, want every service added", got.Deployment.Changes)
				}
				if diff := cmp.Diff(want, got.Deployment); diff != "" {
					t.Errorf("deployment (-want +got):\n%s", diff)
				}
				stored, err := e.svc.Release(context.Background(), "storage", id(2))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]shiplog.Deployment{want}, stored.Deployments, storeOnly); diff != "" {
					t.Errorf("stored deployments of the latest release (-want +got):\n%s", diff)
				}
				stage, err := e.store.GetParametersByPath(context.Background(), "/storage/images/stage/")
				if err != nil {
					t.Fatal(err)
				}
				if len(stage) != len(storageImages) {
					t.Errorf("stage parameters: got %v, want one per service", stage)
				}
			},
		},
		{
			name:       "GET passes the query string",
			event:      readFile(t, "apigw-v2-iam-get-releases.json"),
			wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			check: func(t *testing.T, e *testEnv, body []byte) {
				var got shiplog.Page[shiplog.Release]
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if len(got.Items) != 1 || got.Items[0].ID != id(2) || got.NextCursor == "" {
					t.Errorf("got %d releases (first %v) and cursor %q, want only the newest, %s, and a cursor", len(got.Items), got.Items, got.NextCursor, id(2))
				}
			},
		},
		{
			name:       "GET with a bad query value",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", func(ev *events.APIGatewayV2HTTPRequest) { ev.RawQueryString = "limit=0" }),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "limit: 0 is not between 1 and 100",
		},
		{
			name:       "GET with an unknown query parameter",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", func(ev *events.APIGatewayV2HTTPRequest) { ev.RawQueryString = "limt=1" }),
			wantStatus: 400, wantKind: "Invalid", wantMsg: `"limt" is not a parameter`,
		},
		{
			name:       "GET needs no identity",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", noAuthorizer),
			wantStatus: 200,
		},
		{
			name:       "deploy with no authorizer is refused",
			event:      apiEvent(t, "apigw-v2-iam-post-deploy.json", noAuthorizer),
			wantStatus: 401, wantKind: "Invalid", wantMsg: "no caller identity",
		},
		{
			name:       "create release with no authorizer is refused",
			event:      apiEvent(t, "apigw-v2-jwt-post-release.json", noAuthorizer),
			wantStatus: 401, wantKind: "Invalid", wantMsg: "no caller identity",
		},
		{
			name: "IAM authorizer without a user ARN is no identity",
			event: apiEvent(t, "apigw-v2-iam-post-deploy.json", func(ev *events.APIGatewayV2HTTPRequest) {
				ev.RequestContext.Authorizer.IAM.UserARN = ""
			}),
			wantStatus: 401, wantKind: "Invalid", wantMsg: "no caller identity",
		},
		{
			name: "JWT without a subject is no identity",
			event: apiEvent(t, "apigw-v2-jwt-post-release.json", func(ev *events.APIGatewayV2HTTPRequest) {
				delete(ev.RequestContext.Authorizer.JWT.Claims, "sub")
			}),
			wantStatus: 401, wantKind: "Invalid", wantMsg: "no caller identity",
		},
		{
			name: "the local identity header is no identity behind API Gateway",
			event: apiEvent(t, "apigw-v2-iam-post-deploy.json", func(ev *events.APIGatewayV2HTTPRequest) {
				ev.RequestContext.Authorizer = nil
				ev.Headers["x-shiplog-user"] = "mallory"
			}),
			wantStatus: 401, wantKind: "Invalid", wantMsg: "no caller identity",
		},
		{
			name:       "the OpenAPI document, as the api function serves it",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", withPath("GET", "/openapi.json")),
			wantStatus: 200,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			check: func(t *testing.T, e *testEnv, body []byte) {
				if !bytes.Equal(body, httpapi.OpenAPIDocument()) {
					t.Errorf("GET /openapi.json: %.200s, want the OpenAPI document", body)
				}
			},
		},
		{
			name: "requested_by in the body is refused",
			event: apiEvent(t, "apigw-v2-iam-post-deploy.json", func(ev *events.APIGatewayV2HTTPRequest) {
				ev.Body = `{"release_id": "latest", "requested_by": {"id": "mallory"}}`
			}),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "requested_by: comes from your identity",
		},
		{
			name: "body that is not base64",
			event: apiEvent(t, "apigw-v2-jwt-post-release.json", func(ev *events.APIGatewayV2HTTPRequest) {
				ev.Body = `{"label": "latest"}`
			}),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "could not be read",
		},
		{
			name:       "encoded slash in a project id is refused, not routed to the releases list",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", withPath("GET", "/projects/storage%2Freleases")),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "percent-encoded characters are not allowed",
		},
		{
			name:       "encoded slashes in a deploy's environment are refused",
			event:      apiEvent(t, "apigw-v2-iam-post-deploy.json", withPath("POST", "/projects/storage/environments/prod%2F..%2Fstage/deployments")),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "percent-encoded characters are not allowed",
		},
		{
			name:       "encoded slash in a release id is refused",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", withPath("GET", "/projects/storage/releases/..%2F..%2Fbugfarm_73649")),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "percent-encoded",
		},
		{
			name:       "encoded slash in a fixed segment is refused",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", withPath("GET", "/projects/storage/releases%2Flatest")),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "percent-encoded",
		},
		{
			name:       "encoded letter in an environment is refused, not a deploy to prod",
			event:      apiEvent(t, "apigw-v2-iam-post-deploy.json", withPath("POST", "/projects/storage/environments/pro%64/deployments")),
			wantStatus: 400, wantKind: "Invalid", wantMsg: `path "/projects/storage/environments/pro%64/deployments": percent-encoded characters are not allowed`,
		},
		{
			// HTTP APIs decode rawPath before invoking: "pro%3Fd" arrives as "pro?d", which must stay
			// in the path (and be refused), not start the query string.
			name: "decoded question mark in rawPath is refused",
			event: apiEvent(t, "apigw-v2-iam-post-deploy.json", func(ev *events.APIGatewayV2HTTPRequest) {
				withPath("POST", "/projects/storage/environments/prod?x/deployments")(ev)
				ev.RequestContext.HTTP.Path = ev.RawPath
			}),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "percent-encoded characters are not allowed",
		},
		{
			name:       "bare percent in rawPath is refused",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", withPath("GET", "/projects/storage/releases/a%zz")),
			wantStatus: 400, wantKind: "Invalid", wantMsg: "percent-encoded characters are not allowed",
		},
		{
			name:       "dot-dot segments are refused",
			event:      apiEvent(t, "apigw-v2-iam-post-deploy.json", withPath("POST", "/projects/storage/environments/prod/../stage/deployments")),
			wantStatus: 400, wantKind: "Invalid", wantMsg: `".." segments are not allowed`,
		},
		{
			name:       "unknown route",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", withPath("GET", "/releases")),
			wantStatus: 404, wantKind: "NotFound", wantMsg: "no route GET /releases",
		},
		{
			name:       "wrong method",
			event:      apiEvent(t, "apigw-v2-iam-get-releases.json", withPath("DELETE", "/projects/storage/releases")),
			wantStatus: 405, wantKind: "Invalid", wantMsg: "method DELETE is not allowed",
			wantHeader: map[string]string{"Allow": "GET, HEAD, POST"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := seeded(t)
			before := e.snapshot(t)
			out, res := e.callAPI(t, tt.event)
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d (body %s)", res.StatusCode, tt.wantStatus, res.Body)
			}
			for k, want := range tt.wantHeader {
				if got := res.Headers[k]; got != want {
					t.Errorf("header %s: got %q, want %q (headers %v)", k, got, want, res.Headers)
				}
			}
			if res.IsBase64Encoded {
				t.Errorf("isBase64Encoded: got true for a JSON body")
			}
			if !json.Valid([]byte(res.Body)) {
				t.Fatalf("body is not JSON: %s", res.Body)
			}
			if tt.wantKind != "" {
				var body httpapi.ErrorBody
				if err := json.Unmarshal([]byte(res.Body), &body); err != nil {
					t.Fatal(err)
				}
				if body.Error.Kind != tt.wantKind || !strings.Contains(body.Error.Message, tt.wantMsg) {
					t.Errorf("error: got %s %q, want %s containing %q", body.Error.Kind, body.Error.Message, tt.wantKind, tt.wantMsg)
				}
			}
			if tt.check != nil {
				tt.check(t, e, []byte(res.Body))
			}
			if !tt.changes {
				e.unchanged(t, before)
			}
			if tt.golden != "" {
				golden(t, tt.golden, out)
			}
		})
	}
}

// TestHTTPAPIPaging follows next_cursor through the query string, which must reach the handler
// exactly as sent.
func TestHTTPAPIPaging(t *testing.T) {
	e := seeded(t)
	var seen []string
	query := "limit=1"
	for range 3 {
		_, res := e.callAPI(t, apiEvent(t, "apigw-v2-iam-get-releases.json", func(ev *events.APIGatewayV2HTTPRequest) {
			ev.RawQueryString = query
		}))
		if res.StatusCode != 200 {
			t.Fatalf("status: got %d, want 200 (%s)", res.StatusCode, res.Body)
		}
		var page shiplog.Page[shiplog.Release]
		if err := json.Unmarshal([]byte(res.Body), &page); err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Items {
			seen = append(seen, r.ID)
		}
		if page.NextCursor == "" {
			break
		}
		query = "limit=1&cursor=" + url.QueryEscape(page.NextCursor)
	}
	if want := []string{id(2), id(1)}; !slices.Equal(seen, want) {
		t.Errorf("releases over the pages: got %v, want %v", seen, want)
	}
}

func TestIdentity(t *testing.T) {
	iam := func(arn string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: arn, AccountID: "123456789012"},
		}
	}
	jwt := func(claims map[string]string) *events.APIGatewayV2HTTPRequestContextAuthorizerDescription {
		return &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
	}
	tests := []struct {
		name       string
		authorizer *events.APIGatewayV2HTTPRequestContextAuthorizerDescription
		want       shiplog.Person
		wantOK     bool
	}{
		{"assumed role", iam("arn:aws:sts::123456789012:assumed-role/Deployer/alice"), shiplog.Person{ID: alice.ID, Name: alice.Name}, true},
		{"IAM user", iam("arn:aws:iam::123456789012:user/bob"), shiplog.Person{ID: "arn:aws:iam::123456789012:user/bob", Name: "bob"}, true},
		{"IAM user with a path", iam("arn:aws:iam::123456789012:user/ops/carol"), shiplog.Person{ID: "arn:aws:iam::123456789012:user/ops/carol", Name: "carol"}, true},
		{"account root", iam("arn:aws:iam::123456789012:root"), shiplog.Person{ID: "arn:aws:iam::123456789012:root", Name: "arn:aws:iam::123456789012:root"}, true},
		{"IAM without ARN", iam(""), shiplog.Person{}, false},
		{"JWT with email", jwt(map[string]string{"sub": "u-1", "email": "alice@example.org"}), shiplog.Person{ID: "u-1", Name: "alice@example.org"}, true},
		{"JWT with name and email", jwt(map[string]string{"sub": "u-1", "name": "Alice", "email": "alice@example.org"}), shiplog.Person{ID: "u-1", Name: "Alice"}, true},
		{"JWT with a Cognito username", jwt(map[string]string{"sub": "u-1", "cognito:username": "alice"}), shiplog.Person{ID: "u-1", Name: "alice"}, true},
		{"JWT with only a subject", jwt(map[string]string{"sub": "u-1"}), shiplog.Person{ID: "u-1", Name: "u-1"}, true},
		{"JWT without a subject", jwt(map[string]string{"email": "alice@example.org"}), shiplog.Person{}, false},
		{"Lambda authorizer", &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{"user": "alice"}}, shiplog.Person{}, false},
		{"no authorizer", nil, shiplog.Person{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := awslambda.Identity(events.APIGatewayV2HTTPRequestContext{Authorizer: tt.authorizer})
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %+v, %v, want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
