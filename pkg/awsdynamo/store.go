package awsdynamo

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Actions lists the IAM actions that the Store's calls need, and no others (see the package
// comment: TransactWriteItems is authorized per item, BatchGetItem and Query as themselves).
var Actions = []string{
	"dynamodb:BatchGetItem",
	"dynamodb:ConditionCheckItem",
	"dynamodb:DeleteItem",
	"dynamodb:GetItem",
	"dynamodb:PutItem",
	"dynamodb:Query",
	"dynamodb:UpdateItem",
}

// EventPrefix starts the sort key of every event item, and of nothing else: the publisher's
// stream filter selects event items by it.
const EventPrefix = ledger.EventPrefix

// AttrExpiresAt is the state table's TTL attribute (Unix seconds): DynamoDB deletes an item some
// time after it passes. Only idempotency keys carry it.
const AttrExpiresAt = ledger.AttrExpiresAt

// Store is a shiplog.Store on two DynamoDB tables: the ledger over the DynamoDB driver. It is
// safe for concurrent use.
type Store struct {
	*ledger.Ledger
	driver *Driver
}

var _ shiplog.Store = (*Store)(nil)

// New returns a Store on the releases table and the state table, which must be distinct tables
// created as TableDefinitions describes them.
func New(client *dynamodb.Client, releasesTable, stateTable string) *Store {
	return newStore(NewDriver(client, releasesTable, stateTable))
}

func newStore(d *Driver) *Store { return &Store{Ledger: ledger.New(d), driver: d} }
