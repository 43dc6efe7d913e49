package awsdynamo

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
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
	// emulate is set for dynalite, which has no TransactWriteItems (see dynalite_test.go).
	emulate bool
	// serialize is set for moto, whose threaded server runs an UpdateItem, in a transaction or
	// not, as an unlocked read-modify-write: of 8 concurrent RecordDeployments that all returned
	// success, about one run in 15 kept only 7 appends to the release's deployments. (Its
	// TransactWriteItems also restores whole tables from a copy taken when it began if an item
	// fails, which would undo writes that landed meanwhile.) DynamoDB, and dynalite with its
	// per-item locks, apply each item's write atomically, so the tests send moto one write at a time.
	serialize bool
}

func backends(t *testing.T) []backend {
	t.Helper()
	ctx := context.Background()
	return []backend{
		// moto still enforces the original limit of 25 items per transaction.
		{name: "moto", cfg: localaws.SharedMoto(t).Config(ctx), maxTransact: 25, serialize: true},
		{name: "dynalite", cfg: localaws.SharedDynalite(t).Config(ctx), maxTransact: maxTransactItems, emulate: true},
	}
}

// testStore is a Store on fresh tables of a backend, with the client that built them.
type testStore struct {
	*Store
	admin *dynamodb.Client // no middleware of the test's: for seeding and raw reads
}

// newStore creates fresh tables (unique names: cheaper than resetting a shared server) and a
// Store on them whose client carries extra middleware, if any.
func (b backend) newStore(t *testing.T, extra ...func(*middleware.Stack) error) testStore {
	t.Helper()
	admin := dynamodb.NewFromConfig(b.cfg)
	releases, state := localaws.UniqueName("releases"), localaws.UniqueName("state")
	if err := CreateTables(t.Context(), admin, releases, state); err != nil {
		t.Fatalf("CreateTables on %s: %v", b.name, err)
	}
	client := dynamodb.NewFromConfig(b.cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, extra...)
		if b.emulate {
			o.APIOptions = append(o.APIOptions, newTxEmulator(admin).addTo)
		}
		if b.serialize {
			o.APIOptions = append(o.APIOptions, serializeWrites(&sync.Mutex{}))
		}
	})
	s := New(client, releases, state)
	s.maxTransact = b.maxTransact
	return testStore{Store: s, admin: admin}
}

// serializeWrites makes a client send one write at a time (see backend.serialize).
func serializeWrites(mu *sync.Mutex) func(*middleware.Stack) error {
	writes := map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "TransactWriteItems": true, "BatchWriteItem": true}
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("serializeWrites",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if writes[awsmiddleware.GetOperationName(ctx)] {
					mu.Lock()
					defer mu.Unlock()
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
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
