package awsdynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/ledger/ledgertest"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// newDriver creates fresh tables on a backend and a Driver on them whose client carries extra
// middleware, if any.
func newDriver(t testing.TB, cfg aws.Config, maxTransact int, extra ...func(*middleware.Stack) error) *Driver {
	t.Helper()
	admin := dynamodb.NewFromConfig(cfg)
	releases, state := localaws.UniqueName("releases"), localaws.UniqueName("state")
	if err := CreateTables(t.Context(), admin, releases, state); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, extra...)
		o.Retryer = testRetryer()
	})
	d := NewDriver(client, releases, state)
	d.caps.MaxWriteOps = maxTransact
	return d
}

func TestDriver(t *testing.T) {
	t.Run("dynamodb-local", func(t *testing.T) {
		cfg := localaws.SharedDynamoDBLocal(t).Config(context.Background())
		ledgertest.RunDriverTests(t, func(t *testing.T) ledger.Driver { return newDriver(t, cfg, maxTransactItems) })
	})
	t.Run("moto", func(t *testing.T) {
		// Everything but the concurrency tests: moto does not isolate concurrent writes (see
		// backends), so their passing there, which they often do, would prove nothing. It still
		// takes 25 items a transaction, DynamoDB's old limit.
		cfg := localaws.SharedMoto(t).Config(context.Background())
		ledgertest.RunDriverTestsWithoutIsolation(t, func(t *testing.T) ledger.Driver { return newDriver(t, cfg, 25) })
	})
}

// requests records the input of every DynamoDB operation a client sends.
type requests struct {
	mu sync.Mutex
	in []any
}

func (r *requests) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("driverTest.requests",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			p := in.Parameters
			if q, ok := p.(*dynamodb.QueryInput); ok {
				c := *q // the driver moves Limit and ExclusiveStartKey on between calls
				p = &c
			}
			r.mu.Lock()
			r.in = append(r.in, p)
			r.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (r *requests) take() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.in
	r.in = nil
	return in
}

// TestDriverCalls holds the driver to the calls the Store makes for the same step, which make
// bench counts: one call per single-item step, BatchGetItem by 100 keys, Query asking for the
// items still missing, strongly consistent reads but on the index.
func TestDriverCalls(t *testing.T) {
	cfg := localaws.SharedDynamoDBLocal(t).Config(context.Background())
	rec := localaws.NewCallRecorder()
	var reqs requests
	d := newDriver(t, cfg, maxTransactItems, rec.AddTo, reqs.addTo)
	ctx := t.Context()
	sk := func(i int) string { return fmt.Sprintf("a#%d", i) }
	state := func(i int) ledger.Key { return ledger.Key{Table: ledger.State, PK: "p", SK: sk(i)} }
	var seed []ledger.Op
	for i := 1; i <= 6; i++ {
		seed = append(seed, ledger.Op{Key: state(i), Put: map[string]any{"n": i}})
	}
	for i := 1; i <= 3; i++ {
		seed = append(seed, ledger.Op{Key: ledger.Key{Table: ledger.Releases, PK: fmt.Sprintf("R%d", i)}, Put: map[string]any{"project_id": "p"}})
	}
	must(t, "seed", d.Write(ctx, seed))
	rec.Reset()
	reqs.take()

	var keys []ledger.Key
	for i := range 150 {
		keys = append(keys, state(i), state(i))
	}
	tests := []struct {
		name  string
		step  func() error
		calls []string
		check func(t *testing.T, in []any)
	}{
		{"Get", func() error { _, _, err := d.Get(ctx, state(1)); return err },
			[]string{"dynamodb:GetItem"}, func(t *testing.T, in []any) {
				if !aws.ToBool(in[0].(*dynamodb.GetItemInput).ConsistentRead) {
					t.Error("GetItem: not ConsistentRead")
				}
			}},
		{"BatchGet of 150 keys, each twice, and a release", func() error {
			_, err := d.BatchGet(ctx, append(keys, ledger.Key{Table: ledger.Releases, PK: "R1"}))
			return err
		}, []string{"dynamodb:BatchGetItem", "dynamodb:BatchGetItem"}, func(t *testing.T, in []any) {
			n := 0
			for _, x := range in {
				for table, ka := range x.(*dynamodb.BatchGetItemInput).RequestItems {
					if !aws.ToBool(ka.ConsistentRead) {
						t.Errorf("BatchGetItem of %s: not ConsistentRead", table)
					}
					n += len(ka.Keys)
				}
			}
			if n != 151 {
				t.Errorf("keys asked for: got %d, want 151", n)
			}
		}},
		{"Query, no limit", func() error { _, err := d.Query(ctx, ledger.Query{Table: ledger.State, PK: "p"}); return err },
			[]string{"dynamodb:Query"}, func(t *testing.T, in []any) {
				q := in[0].(*dynamodb.QueryInput)
				if !aws.ToBool(q.ConsistentRead) || q.Limit != nil {
					t.Errorf("Query: ConsistentRead %v, Limit %v; want true, none", aws.ToBool(q.ConsistentRead), q.Limit)
				}
			}},
		// The filter keeps a#4 and a#5: DynamoDB evaluates 2, 2, then 1 items.
		{"Query, a filter and a limit", func() error {
			_, err := d.Query(ctx, ledger.Query{Table: ledger.State, PK: "p", Prefix: "a#", Limit: 2, Filter: &ledger.Cond{Kind: ledger.GreaterOrEqual, Attr: "n", Value: 4}})
			return err
		}, []string{"dynamodb:Query", "dynamodb:Query", "dynamodb:Query"}, func(t *testing.T, in []any) {
			var limits []int32
			for _, x := range in {
				limits = append(limits, aws.ToInt32(x.(*dynamodb.QueryInput).Limit))
			}
			if !slices.Equal(limits, []int32{2, 2, 1}) {
				t.Errorf("limits asked for: got %v, want [2 2 1]", limits)
			}
		}},
		{"Query the index", func() error {
			_, err := d.Query(ctx, ledger.Query{Table: ledger.Releases, Index: ledger.ReleasesIndex, PK: "p", Desc: true, Limit: 2})
			return err
		}, []string{"dynamodb:Query"}, func(t *testing.T, in []any) {
			q := in[0].(*dynamodb.QueryInput)
			if q.ConsistentRead != nil || aws.ToString(q.IndexName) != ReleasesIndex || aws.ToBool(q.ScanIndexForward) || aws.ToInt32(q.Limit) != 2 {
				t.Errorf("Query: ConsistentRead %v, IndexName %q, ScanIndexForward %v, Limit %v; want none, %q, false, 2",
					q.ConsistentRead, aws.ToString(q.IndexName), aws.ToBool(q.ScanIndexForward), aws.ToInt32(q.Limit), ReleasesIndex)
			}
		}},
		{"a put", func() error { return d.Write(ctx, []ledger.Op{{Key: state(7), Put: map[string]any{"n": 7}}}) },
			[]string{"dynamodb:PutItem"}, nil},
		{"a failed put", func() error {
			err := d.Write(ctx, []ledger.Op{{Key: state(7), Put: map[string]any{"n": 7}, If: &ledger.Cond{Kind: ledger.Absent}}})
			if _, ok := err.(*ledger.CondFailed); ok {
				return nil
			}
			return fmt.Errorf("got %v, want *ledger.CondFailed", err)
		}, []string{"dynamodb:PutItem"}, nil},
		{"an update", func() error {
			return d.Write(ctx, []ledger.Op{{Key: state(7), Update: []ledger.Change{{Kind: ledger.Add, Attr: "n", Value: 1}}}})
		}, []string{"dynamodb:UpdateItem"}, nil},
		{"a delete", func() error { return d.Write(ctx, []ledger.Op{{Key: state(7), Delete: true}}) },
			[]string{"dynamodb:DeleteItem"}, nil},
		{"a check", func() error {
			return d.Write(ctx, []ledger.Op{{Key: state(1), Check: true, If: &ledger.Cond{Kind: ledger.Present}}})
		}, []string{"dynamodb:TransactWriteItems"}, nil},
		{"two ops", func() error {
			return d.Write(ctx, []ledger.Op{{Key: state(8), Put: map[string]any{}}, {Key: state(1), Delete: true}})
		}, []string{"dynamodb:TransactWriteItems"}, nil},
		{"too many ops", func() error {
			ops := make([]ledger.Op, maxTransactItems+1)
			for i := range ops {
				ops[i] = ledger.Op{Key: state(100 + i), Put: map[string]any{}}
			}
			if d.Write(ctx, ops) == nil {
				return fmt.Errorf("a write of %d ops: got no error", len(ops))
			}
			return nil
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.Reset()
			reqs.take()
			if err := tt.step(); err != nil {
				t.Fatal(err)
			}
			if got := rec.Calls(); !slices.Equal(got, tt.calls) {
				t.Errorf("calls: got %v, want %v", got, tt.calls)
			}
			if in := reqs.take(); tt.check != nil && len(in) == len(tt.calls) {
				tt.check(t, in)
			}
		})
	}
}

// proxiedDriver returns a Driver on fresh tables of DynamoDB Local whose client goes through a
// scripted proxy, with quick retries.
func proxiedDriver(t *testing.T, script func(op string, body []byte, n int, w http.ResponseWriter) bool) *Driver {
	t.Helper()
	cfg := localaws.SharedDynamoDBLocal(t).Config(context.Background())
	d := newDriver(t, cfg, maxTransactItems)
	srv := newScriptedProxy(t, *cfg.BaseEndpoint, script)
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	proxied := NewDriver(client, d.releases, d.state)
	proxied.unprocessedDelay = time.Millisecond
	return proxied
}

func cancelledBody(codes ...string) map[string]any {
	reasons := make([]map[string]string, len(codes))
	for i, c := range codes {
		reasons[i] = map[string]string{"Code": c}
	}
	return map[string]any{
		"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
		"message":             "Transaction cancelled (secret detail)",
		"CancellationReasons": reasons,
	}
}

// TestDriverErrors has DynamoDB answer each step with an error: the driver maps it as the Store
// does, but for what the port names (a failed condition, ErrBusy), and a deadline is Unavailable.
func TestDriverErrors(t *testing.T) {
	k := ledger.Key{Table: ledger.State, PK: "p", SK: "a"}
	k2 := ledger.Key{Table: ledger.Releases, PK: "R1"}
	steps := map[string]func(ctx context.Context, d *Driver) error{
		"Get":      func(ctx context.Context, d *Driver) error { _, _, err := d.Get(ctx, k); return err },
		"BatchGet": func(ctx context.Context, d *Driver) error { _, err := d.BatchGet(ctx, []ledger.Key{k, k2}); return err },
		"Query": func(ctx context.Context, d *Driver) error {
			_, err := d.Query(ctx, ledger.Query{Table: ledger.State, PK: "p", Limit: 2})
			return err
		},
		"Write one": func(ctx context.Context, d *Driver) error {
			return d.Write(ctx, []ledger.Op{{Key: k, Put: map[string]any{}}})
		},
		"Write two": func(ctx context.Context, d *Driver) error {
			return d.Write(ctx, []ledger.Op{{Key: k, Put: map[string]any{}}, {Key: k2, Delete: true}})
		},
	}
	throttled := map[string]string{
		"__type":  "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
		"message": "slow down (secret detail)",
	}
	tests := []struct {
		name   string
		steps  []string
		status int
		body   any
		delay  time.Duration
		want   shiplog.Kind
		busy   bool
	}{
		{"throttled", []string{"Get", "BatchGet", "Query", "Write one", "Write two"}, http.StatusBadRequest, throttled, 0, shiplog.Unavailable, false},
		{"server fault", []string{"Get", "Query", "Write one", "Write two"}, http.StatusInternalServerError,
			map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "oops"}, 0, shiplog.Unavailable, false},
		{"no such table", []string{"Get", "Query", "Write one", "Write two"}, http.StatusBadRequest,
			map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "no table"}, 0, shiplog.Internal, false},
		{"deadline", []string{"Get", "BatchGet", "Query", "Write one", "Write two"}, 0, nil, time.Second, shiplog.Unavailable, false},
		{"a transaction on the item", []string{"Write one"}, http.StatusBadRequest,
			map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException", "message": "busy"}, 0, shiplog.Conflict, true},
		{"a concurrent transaction", []string{"Write two"}, http.StatusBadRequest, cancelledBody("None", "TransactionConflict"), 0, shiplog.Conflict, true},
		{"a throttled transaction", []string{"Write two"}, http.StatusBadRequest, cancelledBody("ThrottlingError", "None"), 0, shiplog.Unavailable, false},
		{"an invalid transaction", []string{"Write two"}, http.StatusBadRequest, cancelledBody("ValidationError", "None"), 0, shiplog.Internal, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := proxiedDriver(t, func(op string, _ []byte, _ int, w http.ResponseWriter) bool {
				if tt.delay > 0 {
					time.Sleep(tt.delay)
					return false
				}
				writeJSON(w, tt.status, tt.body)
				return true
			})
			for _, step := range tt.steps {
				ctx := t.Context()
				if tt.delay > 0 {
					c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
					defer cancel()
					ctx = c
				}
				err := steps[step](ctx, d)
				if got := shiplog.KindOf(err); got != tt.want {
					t.Errorf("%s: got %v (kind %v), want %v", step, err, got, tt.want)
				}
				if got := errors.Is(err, ledger.ErrBusy); got != tt.busy {
					t.Errorf("%s: errors.Is(err, ErrBusy): got %v, want %v (%v)", step, got, tt.busy, err)
				}
				if msg := shiplog.MessageOf(err); strings.Contains(msg, "secret detail") {
					t.Errorf("%s: message %q shows DynamoDB's error text", step, msg)
				}
			}
		})
	}
}

// TestDriverUnprocessedKeys has BatchGetItem leave every key unprocessed at first: the driver
// asks again for them, and gives up as Unavailable if they never come.
func TestDriverUnprocessedKeys(t *testing.T) {
	for _, tt := range []struct {
		name        string
		unprocessed int
		wantErr     bool
	}{
		{"twice", 2, false},
		{"always", 1000, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			batches := 0
			d := proxiedDriver(t, func(op string, body []byte, n int, w http.ResponseWriter) bool {
				if op != "BatchGetItem" {
					return false
				}
				mu.Lock()
				batches = n
				mu.Unlock()
				if n > tt.unprocessed {
					return false
				}
				var req struct{ RequestItems json.RawMessage }
				_ = json.Unmarshal(body, &req)
				writeJSON(w, http.StatusOK, map[string]any{"Responses": map[string]any{}, "UnprocessedKeys": req.RequestItems})
				return true
			})
			ctx := t.Context()
			k := ledger.Key{Table: ledger.State, PK: "p", SK: "a"}
			must(t, "put", d.Write(ctx, []ledger.Op{{Key: k, Put: map[string]any{"n": 1}}}))
			got, err := d.BatchGet(ctx, []ledger.Key{k, {Table: ledger.Releases, PK: "R1"}})
			mu.Lock()
			defer mu.Unlock()
			if tt.wantErr {
				if kind := shiplog.KindOf(err); kind != shiplog.Unavailable {
					t.Errorf("keys never processed: got %v (kind %v), want Unavailable", err, kind)
				}
				if batches != unprocessedRounds+1 {
					t.Errorf("BatchGetItem calls: got %d, want %d", batches, unprocessedRounds+1)
				}
				return
			}
			must(t, "BatchGet", err)
			if _, ok := got[k]; !ok || len(got) != 1 {
				t.Errorf("got %d items (%s: %v), want %s alone", len(got), k, ok, k)
			}
			if batches != tt.unprocessed+1 {
				t.Errorf("BatchGetItem calls: got %d, want %d", batches, tt.unprocessed+1)
			}
		})
	}
}
