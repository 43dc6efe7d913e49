package awsdynamo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestFailedKinds(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want shiplog.Kind
	}{
		{"provisioned throughput exceeded", &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, shiplog.Unavailable},
		{"request limit exceeded", &types.RequestLimitExceeded{Message: aws.String("slow down")}, shiplog.Unavailable},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}, shiplog.Unavailable},
		{"server fault", &smithy.GenericAPIError{Code: "InternalServerError", Fault: smithy.FaultServer}, shiplog.Unavailable},
		{"connection refused", &smithyhttp.RequestSendError{Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, shiplog.Unavailable},
		{"retries exhausted on throttling", &retry.MaxAttemptsError{Attempt: 3, Err: &types.ProvisionedThroughputExceededException{}}, shiplog.Unavailable},
		{"no such table", &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}, shiplog.Internal},
		{"validation", &smithy.GenericAPIError{Code: "ValidationException", Message: "bad key", Fault: smithy.FaultClient}, shiplog.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dynamo.Wrap(&smithy.OperationError{ServiceID: "DynamoDB", OperationName: "GetItem", Err: tt.err}, "read project %s", "p")
			if got := shiplog.KindOf(err); got != tt.want {
				t.Errorf("kind: got %v, want %v", got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("errors.Is(err, cause): got false, want the cause kept for the logs")
			}
			if msg := shiplog.MessageOf(err); strings.Contains(msg, tt.err.Error()) {
				t.Errorf("MessageOf: got %q, which shows the SDK's error text", msg)
			}
		})
	}
}

// TestTransactionFailure: a cancelled transaction names the ops whose conditions failed (all of
// them), else is ErrBusy when another transaction held an item, Unavailable when throttled.
func TestTransactionFailure(t *testing.T) {
	cancelled := func(codes ...string) error {
		reasons := make([]types.CancellationReason, len(codes))
		for i, c := range codes {
			reasons[i].Code = aws.String(c)
		}
		return &smithy.OperationError{Err: &types.TransactionCanceledException{CancellationReasons: reasons}}
	}
	tests := []struct {
		name   string
		err    error
		failed []int // the ops of a CondFailed, if it is one
		want   shiplog.Kind
	}{
		{"first condition", cancelled("ConditionalCheckFailed", "None", "None", "None"), []int{0}, shiplog.Internal},
		{"third condition", cancelled("None", "None", "ConditionalCheckFailed", "None"), []int{2}, shiplog.Internal},
		{"two conditions", cancelled("ConditionalCheckFailed", "None", "ConditionalCheckFailed", "None"), []int{0, 2}, shiplog.Internal},
		{"a condition and a conflict", cancelled("TransactionConflict", "ConditionalCheckFailed"), []int{1}, shiplog.Internal},
		{"another transaction", cancelled("None", "TransactionConflict", "None", "None"), nil, shiplog.Conflict},
		{"throttled", cancelled("ThrottlingError", "None", "None", "None"), nil, shiplog.Unavailable},
		{"throughput exceeded", cancelled("None", "ProvisionedThroughputExceeded", "None", "None"), nil, shiplog.Unavailable},
		{"item too large", cancelled("ValidationError", "None", "None", "None"), nil, shiplog.Internal},
		{"not cancelled: throttled", &types.ProvisionedThroughputExceededException{}, nil, shiplog.Unavailable},
		{"not cancelled: validation", &smithy.GenericAPIError{Code: "ValidationException"}, nil, shiplog.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := writeFailure(tt.err, "record deployment")
			var cf *ledger.CondFailed
			if errors.As(err, &cf) != (tt.failed != nil) || (cf != nil && !slices.Equal(cf.Ops, tt.failed)) {
				t.Fatalf("got %v, want the failed ops %v", err, tt.failed)
			}
			if tt.failed != nil {
				return
			}
			if got := shiplog.KindOf(err); got != tt.want {
				t.Errorf("kind: got %v (%v), want %v", got, err, tt.want)
			}
			if busy := errors.Is(err, ledger.ErrBusy); busy != (tt.name == "another transaction") {
				t.Errorf("ErrBusy: got %v (%v)", busy, err)
			}
		})
	}
}

// scriptedProxy stands between the SDK and DynamoDB Local: script answers a request itself
// (returning true) or lets DynamoDB Local answer it. It is how the tests make DynamoDB throttle
// or leave keys unprocessed, which DynamoDB Local never does.
type scriptedProxy struct {
	mu     sync.Mutex
	calls  map[string]int
	script func(op string, body []byte, n int, w http.ResponseWriter) bool
}

func newScriptedProxy(t *testing.T, target string, script func(op string, body []byte, n int, w http.ResponseWriter) bool) *httptest.Server {
	u, err := url.Parse(target)
	must(t, "parse URL", err)
	fwd := httputil.NewSingleHostReverseProxy(u)
	p := &scriptedProxy{calls: map[string]int{}, script: script}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		p.mu.Lock()
		p.calls[op]++
		n := p.calls[op]
		p.mu.Unlock()
		if !p.script(op, body, n, w) {
			fwd.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// proxiedStore returns a store on fresh tables whose client goes through the proxy, with quick
// retries.
func proxiedStore(t *testing.T, script func(op string, body []byte, n int, w http.ResponseWriter) bool) (testStore, *dynamodb.Client) {
	t.Helper()
	b := backends(t)[0]
	s := b.newStore(t)
	srv := newScriptedProxy(t, *b.cfg.BaseEndpoint, script)
	client := dynamodb.NewFromConfig(b.cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	proxied := newTestStore(client, s.driver.releases, s.driver.state, s.driver.caps.MaxWriteOps, time.Millisecond)
	return testStore{Store: proxied, admin: s.admin, releases: s.releases, state: s.state}, client
}

// TestThrottledIsUnavailable has DynamoDB throttle every call: the SDK retries, then the store
// says Unavailable without showing DynamoDB's words.
func TestThrottledIsUnavailable(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	s, _ := proxiedStore(t, func(op string, _ []byte, _ int, w http.ResponseWriter) bool {
		mu.Lock()
		attempts++
		mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"__type":  "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
			"message": "The level of configured provisioned throughput for the table was exceeded (secret detail)",
		})
		return true
	})
	ctx := t.Context()
	p := project("p")
	calls := []struct {
		name string
		call func() error
	}{
		{"GetProject", func() error { _, err := s.GetProject(ctx, "p"); return err }},
		{"PutProject", func() error { return s.PutProject(ctx, p, registered(p)) }},
		{"RecordPush", func() error {
			_, err := s.RecordPush(ctx, shiplog.ImageRecord{ProjectID: "p", ServiceID: "api", URI: "u", PushedAt: 1}, pushed(shiplog.ImageRecord{ProjectID: "p", ServiceID: "api", URI: "u", PushedAt: 1}))
			return err
		}},
		{"ListReleases", func() error { _, err := s.ListReleases(ctx, "p", shiplog.PageRequest{}); return err }},
		{"DeployContext", func() error { _, err := s.DeployContext(ctx, "p", "r", "stage"); return err }},
		{"WriteEnvironment with a deployment", func() error { return s.WriteEnvironment(ctx, deployment(p, release(p, 1), "stage", 1, 0)) }},
		{"WriteEnvironment alone", func() error {
			w := deployment(p, release(p, 1), "stage", 1, 0)
			w.Deployment = nil
			return s.WriteEnvironment(ctx, w)
		}},
	}
	for _, c := range calls {
		mu.Lock()
		attempts = 0
		mu.Unlock()
		err := c.call()
		if got := shiplog.KindOf(err); got != shiplog.Unavailable {
			t.Errorf("%s while throttled: got %v (kind %v), want Unavailable", c.name, err, got)
		}
		if msg := shiplog.MessageOf(err); strings.Contains(msg, "secret detail") {
			t.Errorf("%s while throttled: message %q shows DynamoDB's error text", c.name, msg)
		}
		mu.Lock()
		if attempts != 3 {
			t.Errorf("%s while throttled: got %d attempts, want 3 (the SDK retries first)", c.name, attempts)
		}
		mu.Unlock()
	}
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	b := backends(t)[0]
	client := dynamodb.NewFromConfig(b.cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
	_, err := New(client, "releases", "state").GetProject(t.Context(), "p")
	if got := shiplog.KindOf(err); got != shiplog.Unavailable {
		t.Errorf("GetProject with DynamoDB down: got %v (kind %v), want Unavailable", err, got)
	}
}

// TestDeployContextUnprocessedKeys has BatchGetItem leave every key unprocessed at first, as
// DynamoDB does under load: DeployContext asks again for them, and gives up as Unavailable if
// they never come.
func TestDeployContextUnprocessedKeys(t *testing.T) {
	for _, tt := range []struct {
		name        string
		unprocessed int // answers that leave every key unprocessed
		wantErr     bool
	}{
		{"twice", 2, false},
		{"always", 1000, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			batches, before := 0, 0
			armed := false // once the project and release are written: a registration reads in batches too
			s, _ := proxiedStore(t, func(op string, body []byte, n int, w http.ResponseWriter) bool {
				if op != "BatchGetItem" {
					return false
				}
				mu.Lock()
				if !armed {
					before = n
				}
				n -= before
				batches = n
				a := armed
				mu.Unlock()
				if !a {
					return false
				}
				if n > tt.unprocessed {
					return false
				}
				var req struct{ RequestItems json.RawMessage }
				_ = json.Unmarshal(body, &req)
				writeJSON(w, http.StatusOK, map[string]any{"Responses": map[string]any{}, "UnprocessedKeys": req.RequestItems})
				return true
			})
			ctx := t.Context()
			p := project("p")
			r := release(p, 1)
			must(t, "PutProject", s.PutProject(ctx, p, registered(p)))
			must(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: created(r)}))
			mu.Lock()
			armed = true
			mu.Unlock()
			dc, err := s.DeployContext(ctx, "p", r.ID, "stage")
			if tt.wantErr {
				if got := shiplog.KindOf(err); got != shiplog.Unavailable {
					t.Errorf("DeployContext with keys never processed: got %v (kind %v), want Unavailable", err, got)
				}
				if batches != unprocessedRounds+1 {
					t.Errorf("BatchGetItem calls: got %d, want %d", batches, unprocessedRounds+1)
				}
				return
			}
			must(t, "DeployContext", err)
			if dc.Project.ID != "p" || dc.Release.ID != r.ID || dc.Current != nil {
				t.Errorf("DeployContext: got project %q, release %q, current %v; want p, %s, nil", dc.Project.ID, dc.Release.ID, dc.Current, r.ID)
			}
			if batches != tt.unprocessed+1 {
				t.Errorf("BatchGetItem calls: got %d, want %d", batches, tt.unprocessed+1)
			}
		})
	}
}
