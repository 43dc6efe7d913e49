// Package awsdynamo is shiplog's storage on Amazon DynamoDB (aws-sdk-go-v2): the ledger
// (pkg/ledger) over a DynamoDB driver. New returns that Store. The record kinds, their keys and
// attributes, and every storage rule (conditions, counters, listings, cursors, page limits) are
// the ledger's: see pkg/ledger's keys.go and records.go, not this package.
//
// # Tables
//
// Two tables, both on-demand. TableDefinitions is the one definition of their keys, index and
// stream: the tests create tables from it, CreateTables (for tests and local stacks) too, and
// template.yaml is checked against it. The releases table is keyed by release_id, with the
// global secondary index project_id-release_id (ReleasesIndex); the state table by pk and sk,
// with a stream of new images. TimeToLive names the state table's TTL attribute, expires_at,
// which only idempotency keys carry; DynamoDB deletes an expired key some time later, so the
// ledger compares expires_at with the time itself.
//
// # The driver
//
// Driver makes one DynamoDB call, or a bounded few, per ledger.Driver operation:
//
//	Get       GetItem, consistent
//	BatchGet  BatchGetItem of up to 100 keys a call (repeated keys sent once), consistent;
//	          UnprocessedKeys asked for again after jittered waits (pkg/backoff) growing by
//	          half from 50 ms, 8 rounds (about 2.5 s) at most, then Unavailable
//	Query     Query of a state table partition (consistent) or of the releases index
//	          (eventually consistent, as every index is); with a limit, each call asks for the
//	          items still lacking and a response cut at 1 MB (or thinned by the filter) is
//	          continued only until the limit is met; without one, every page
//	Write     one op: PutItem, UpdateItem or DeleteItem (a check alone: a TransactWriteItems of
//	          one ConditionCheck); more: one TransactWriteItems
//
// A failed condition is ledger.CondFailed, naming the ops whose cancellation reason is
// ConditionalCheckFailed; a TransactionConflict (a concurrent transaction held some of the items)
// is ledger.ErrBusy, for the ledger to try again; the rest maps as every AWS adapter's does
// (pkg/awserr): throttling, server faults, failed connections and a caller's deadline, once the
// SDK's retries are spent, are Unavailable; anything else is Internal, with its cause for logs. The SDK gives each TransactWriteItems a
// ClientRequestToken, so its own retry of one whose answer was lost does not apply it twice.
//
// Caps declares transactions of up to 100 items, turn claims (a lost transaction costs DynamoDB
// far more than a lost PutItem) and TTL on expires_at. It holds no parameters: those are in SSM,
// outside its transactions, so a deploy on AWS records, writes its parameters, then settles.
//
// # Events
//
// Every change's events are items of the state table (sort keys starting with EventPrefix),
// written in the change's own transaction. The stream carries them to the events function, which
// decodes them with package eventitems, apart from this one so as not to link the DynamoDB client.
//
// # IAM
//
// Actions lists the IAM actions the driver's calls need. TransactWriteItems is not an action of
// its own: each Put, Update, Delete and ConditionCheck in it needs PutItem, UpdateItem,
// DeleteItem or ConditionCheckItem on its table. Querying the releases index needs dynamodb:Query
// on the index's ARN (table/{releases}/index/project_id-release_id).
//
// # Tests
//
// The contract suites (shiplogtest.RunStoreTests, RunStoreConcurrencyTests) and the driver suite
// (ledgertest.RunDriverTests) run on AWS's DynamoDB Local (pkg/localaws), each store on tables of
// its own, with concurrent writes sent as they come: DynamoDB Local isolates transactions as
// DynamoDB does. moto does not, so it runs only the driver suite's tests without concurrent
// writes (RunDriverTestsWithoutIsolation). TestDriverCalls holds each operation to the calls
// above, and TestReadsTablesOfMainA468552 reads tables that the first DynamoDB store wrote.
package awsdynamo
