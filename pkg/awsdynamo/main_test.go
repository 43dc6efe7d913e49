package awsdynamo

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// backend is a DynamoDB implementation the tests run against.
type backend struct {
	name string
	cfg  aws.Config
	// maxTransact is the most items the backend takes in one TransactWriteItems.
	maxTransact int
}

// backends returns AWS's DynamoDB Local, on which the tests run every write as it comes,
// concurrent ones included: it applies each TransactWriteItems in isolation and each item's
// update atomically, as DynamoDB does (pkg/localaws's tests hold it to that). moto does neither
// (two conditional transactions on one key both commit, concurrent list_appends get lost), and
// dynalite has no transactions, so neither runs this package's tests.
func backends(t testing.TB) []backend {
	t.Helper()
	return []backend{
		{name: "dynamodb-local", cfg: localaws.SharedDynamoDBLocal(t).Config(context.Background()), maxTransact: maxTransactItems},
	}
}

// testStore is a Store on fresh tables of a backend, with the client that built them.
type testStore struct {
	*Store
	admin           *dynamodb.Client // no middleware of the test's: for seeding and raw reads
	releases, state string
}

// newStore creates fresh tables (unique names: cheaper than resetting a shared server) and a
// Store on them whose client carries extra middleware, if any.
func (b backend) newStore(t testing.TB, extra ...func(*middleware.Stack) error) testStore {
	t.Helper()
	admin := dynamodb.NewFromConfig(b.cfg)
	releases, state := localaws.UniqueName("releases"), localaws.UniqueName("state")
	if err := CreateTables(t.Context(), admin, releases, state); err != nil {
		t.Fatalf("CreateTables on %s: %v", b.name, err)
	}
	client := dynamodb.NewFromConfig(b.cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, extra...)
		o.Retryer = testRetryer()
	})
	return testStore{Store: newTestStore(client, releases, state, b.maxTransact, 0), admin: admin, releases: releases, state: state}
}

// testRetryer is the SDK's standard retryer without its client-side retry quota and with more
// attempts. One client here carries every concurrent caller of a test (64 deploys at once), where
// on AWS each Lambda instance has a client and a quota of its own; and DynamoDB Local, on a
// starved CPU (make test on two loaded cores), answers a transaction that waited too long for an
// item's lock with a 500, "This action timed out because it too long waiting for a lock. This
// request will succeed in actual DynamoDB API". With one quota for all 64, those retries emptied
// it ("retry quota exceeded") and a deploy failed as Unavailable.
func testRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.RateLimiter = ratelimit.None
		o.MaxAttempts = 8
	})
}

func TestReleaseStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			shiplogtest.RunStoreTests(t, func(t *testing.T) shiplog.Store {
				return b.newStore(t).Store
			})
		})
	}
}

// TestStoreConcurrency races conditional writes of one environment (16 writers of one version,
// 64 deploys through the Service) on DynamoDB Local, which isolates them as DynamoDB does.
func TestStoreConcurrency(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			shiplogtest.RunStoreConcurrencyTests(t, func(t *testing.T) shiplog.Store {
				return b.newStore(t).Store
			})
		})
	}
}

// BenchmarkConcurrentDeploys: 64 deploys at once to one environment, on DynamoDB Local.
func BenchmarkConcurrentDeploys(b *testing.B) {
	be := backends(b)[0]
	shiplogtest.BenchmarkConcurrentDeploys(b, func(tb testing.TB) shiplog.Store { return be.newStore(tb).Store })
}

// testEvents makes the events the tests' writes carry, with ULID ids as the Service makes them.
var testEvents = shiplog.NewULIDGenerator(time.Now)

func registered(p shiplog.Project) shiplog.Event {
	return shiplog.Event{ID: testEvents(), Type: shiplog.EventProjectRegistered, At: 1_800_000_000, By: shiplog.AnonymousPerson, ProjectID: p.ID}
}

func created(r shiplog.Release) shiplog.Event {
	return shiplog.Event{ID: testEvents(), Type: shiplog.EventReleaseCreated, At: r.CreatedAt, By: r.RequestedBy, ProjectID: r.ProjectID, ReleaseID: r.ID}
}

func pushed(rec shiplog.ImageRecord) shiplog.Event {
	return shiplog.Event{ID: testEvents(), Type: shiplog.EventImageRecorded, At: rec.PushedAt, By: shiplog.AnonymousPerson, ProjectID: rec.ProjectID, Service: rec.ServiceID}
}

// newTestStore is New with the backend's transaction limit and, if unprocessed is set, a quicker
// first wait for keys a batch read left unprocessed.
func newTestStore(client *dynamodb.Client, releases, state string, maxTransact int, unprocessed time.Duration) *Store {
	d := NewDriver(client, releases, state)
	d.caps.MaxWriteOps = maxTransact
	if unprocessed > 0 {
		d.unprocessedDelay = unprocessed
	}
	return newStore(d)
}
