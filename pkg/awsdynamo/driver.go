package awsdynamo

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/backoff"
	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// DynamoDB's limits on the items of one TransactWriteItems and the keys of one BatchGetItem.
const (
	maxTransactItems = 100
	maxBatchGetKeys  = 100
)

// unprocessedRounds bounds how often a batch read asks again for keys DynamoDB left unprocessed
// (it does so when throttled), after backoff's waits from Driver.unprocessedDelay up to
// maxUnprocessedDelay: from 50 ms, they add up to at most about 2.5 seconds.
const (
	unprocessedRounds   = 8
	maxUnprocessedDelay = 2 * time.Second
)

// The key attributes of the two tables (TableDefinitions).
const (
	attrReleaseID = "release_id"
	attrProjectID = "project_id"
	attrPK        = "pk"
	attrSK        = "sk"
)

// Driver is a ledger.Driver on the releases table and the state table. It makes the calls the
// Store makes for the same step: GetItem, BatchGetItem (100 keys a call, again only for
// UnprocessedKeys), Query (continued past LastEvaluatedKey only until it has Limit items), and a
// single-item PutItem, UpdateItem or DeleteItem for a write of one op, one TransactWriteItems for
// more. It is safe for concurrent use.
type Driver struct {
	client   *dynamodb.Client
	releases string
	state    string
	// caps.MaxWriteOps is DynamoDB's limit on the items of a transaction, lowered in tests for
	// moto, which still enforces the old limit of 25.
	caps             ledger.Caps
	unprocessedDelay time.Duration // the first wait before asking again for unprocessed keys
}

var _ ledger.Driver = (*Driver)(nil)

// NewDriver returns a Driver on the releases table and the state table, which must be distinct
// tables created as TableDefinitions describes them.
func NewDriver(client *dynamodb.Client, releasesTable, stateTable string) *Driver {
	return &Driver{
		client: client, releases: releasesTable, state: stateTable,
		caps:             ledger.Caps{MaxWriteOps: maxTransactItems, TurnClaims: true, ExpiresAttr: AttrExpiresAt},
		unprocessedDelay: 50 * time.Millisecond,
	}
}

// Caps says what the driver does: transactions of up to 100 items, turn claims (a lost
// transaction costs DynamoDB far more than a lost PutItem) and TTL on expires_at. It holds no
// parameters: they are in SSM, outside its transactions.
func (d *Driver) Caps() ledger.Caps { return d.caps }

type item = map[string]types.AttributeValue

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func stateKey(pk, sk string) item { return item{attrPK: str(pk), attrSK: str(sk)} }

func releaseKey(releaseID string) item { return item{attrReleaseID: str(releaseID)} }

// key returns the table and the key of a ledger item, and the attribute that every item of the
// table has ("the item exists" is attribute_exists of it). A ledger asks for no table but these
// two: the driver holds no parameters.
func (d *Driver) key(k ledger.Key) (table string, key item, keyAttr string) {
	if k.Table == ledger.Releases {
		return d.releases, releaseKey(k.PK), attrReleaseID
	}
	return d.state, stateKey(k.PK, k.SK), attrPK
}

// keyOf returns the ledger key of an item read from a ledger table; the table's definition makes
// its key attributes strings.
func keyOf(table string, m item) ledger.Key {
	s := func(a string) string { return m[a].(*types.AttributeValueMemberS).Value }
	if table == ledger.Releases {
		return ledger.Key{Table: table, PK: s(attrReleaseID)}
	}
	return ledger.Key{Table: table, PK: s(attrPK), SK: s(attrSK)}
}

// Records are encoded and decoded by their json tags, which are their attribute names.
func useJSONTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }

func marshal(v any) (item, error) {
	m, err := attributevalue.MarshalMapWithOptions(v, useJSONTags)
	if err != nil {
		return nil, fmt.Errorf("encode item: %w", err)
	}
	return m, nil
}

func unmarshal(m item, v any) error {
	if err := attributevalue.UnmarshalMapWithOptions(m, v, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	return nil
}

func newItem(k ledger.Key, m item) ledger.Item {
	return ledger.NewItem(k, func(v any) error { return unmarshal(m, v) })
}

// Get reads one item with a consistent GetItem.
func (d *Driver) Get(ctx context.Context, k ledger.Key) (ledger.Item, bool, error) {
	table, key, _ := d.key(k)
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return ledger.Item{}, false, dynamo.Wrap(err, "read %s", k)
	}
	return newItem(k, out.Item), true, nil
}

// BatchGet reads the items at keys, each once, with consistent BatchGetItems of up to 100 keys
// (DynamoDB's limit, across tables), asking again only for the keys DynamoDB left unprocessed, at
// most unprocessedRounds times.
func (d *Driver) BatchGet(ctx context.Context, keys []ledger.Key) (map[ledger.Key]ledger.Item, error) {
	// BatchGetItem refuses a request that names one key twice.
	seen := make(map[ledger.Key]bool, len(keys))
	keys = slices.DeleteFunc(slices.Clone(keys), func(k ledger.Key) bool { dup := seen[k]; seen[k] = true; return dup })
	tables := map[string]string{d.releases: ledger.Releases, d.state: ledger.State}
	got := make(map[ledger.Key]ledger.Item, len(keys))
	for chunk := range slices.Chunk(keys, maxBatchGetKeys) {
		req := map[string]types.KeysAndAttributes{}
		for _, k := range chunk {
			table, key, _ := d.key(k)
			ka := req[table]
			ka.Keys, ka.ConsistentRead = append(ka.Keys, key), aws.Bool(true)
			req[table] = ka
		}
		waits := backoff.Policy{First: d.unprocessedDelay, Max: maxUnprocessedDelay}.Waits(nil)
		for round := 0; len(req) > 0; round++ {
			if round > unprocessedRounds {
				return nil, shiplog.Errorf(shiplog.Unavailable, "DynamoDB is throttling reads; retry later")
			}
			if round > 0 {
				if err := waits.Wait(ctx); err != nil {
					return nil, dynamo.Wrap(err, "batch read")
				}
			}
			out, err := d.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, dynamo.Wrap(err, "batch read")
			}
			for table, items := range out.Responses {
				for _, m := range items {
					k := keyOf(tables[table], m)
					got[k] = newItem(k, m)
				}
			}
			req = out.UnprocessedKeys
		}
	}
	return got, nil
}

// Query reads a partition of the state table (consistently) or of the releases index
// (eventually consistent, as every global secondary index is). With a Limit it asks each call
// for the items it still lacks, and goes on past LastEvaluatedKey (a response cut at 1 MB, or
// items the filter dropped) only until it has them; without one it reads every page.
func (d *Driver) Query(ctx context.Context, q ledger.Query) ([]ledger.Item, error) {
	what := fmt.Sprintf("query %s/%s", q.Table, q.PK)
	table, _, keyAttr := d.key(ledger.Key{Table: q.Table})
	in := &dynamodb.QueryInput{TableName: &table, ScanIndexForward: aws.Bool(!q.Desc), ConsistentRead: aws.Bool(true)}
	pkAttr, skAttr := keyAttr, attrSK
	if q.Index != "" {
		in.IndexName, in.ConsistentRead = aws.String(ReleasesIndex), nil
		pkAttr, skAttr = attrProjectID, attrReleaseID
	}
	e := &expr{}
	cond := e.name(pkAttr) + " = " + e.value(str(q.PK))
	switch {
	case q.Prefix != "":
		cond += " AND begins_with(" + e.name(skAttr) + ", " + e.value(str(q.Prefix)) + ")"
	case q.From != "" && q.To != "":
		cond += " AND " + e.name(skAttr) + " BETWEEN " + e.value(str(q.From)) + " AND " + e.value(str(q.To))
	case q.From != "":
		cond += " AND " + e.name(skAttr) + " >= " + e.value(str(q.From))
	case q.To != "":
		cond += " AND " + e.name(skAttr) + " <= " + e.value(str(q.To))
	}
	in.KeyConditionExpression = &cond
	if q.Filter != nil {
		in.FilterExpression = aws.String(e.cond(*q.Filter, keyAttr))
	}
	if e.err != nil {
		return nil, fmt.Errorf("%s: %w", what, e.err)
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.names, e.values
	if q.After != nil {
		_, in.ExclusiveStartKey, _ = d.key(ledger.Key{Table: q.Table, PK: q.After.PK, SK: q.After.SK})
		if q.Index != "" {
			in.ExclusiveStartKey[attrProjectID] = str(q.PK)
		}
	}
	var items []item
	for {
		if q.Limit > 0 {
			in.Limit = aws.Int32(int32(q.Limit - len(items)))
		}
		out, err := d.client.Query(ctx, in)
		if err != nil {
			return nil, dynamo.Wrap(err, "%s", what)
		}
		items = append(items, out.Items...)
		if (q.Limit > 0 && len(items) >= q.Limit) || out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	got := make([]ledger.Item, len(items))
	for i, m := range items {
		got[i] = newItem(keyOf(q.Table, m), m)
	}
	return got, nil
}

// Write applies ops: one op as its own PutItem, UpdateItem or DeleteItem (a condition alone as a
// TransactWriteItems of one ConditionCheck, which is the only call that checks without
// writing), more as one TransactWriteItems.
func (d *Driver) Write(ctx context.Context, ops []ledger.Op) error {
	if len(ops) == 0 {
		return nil
	}
	what := fmt.Sprintf("write %s", ops[0].Key)
	if len(ops) > 1 {
		what += fmt.Sprintf(" and %d more", len(ops)-1)
	}
	if err := d.caps.Fits(ops); err != nil {
		return err
	}
	items := make([]types.TransactWriteItem, len(ops))
	for i, op := range ops {
		var err error
		if items[i], err = d.transactItem(op); err != nil {
			return fmt.Errorf("write %s: %w", op.Key, err)
		}
	}
	var err error
	if len(ops) == 1 && !ops[0].Check {
		err = d.writeOne(ctx, items[0])
	} else {
		_, err = d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	}
	return writeFailure(err, what)
}

// writeOne sends a transaction item of one op as the single-item call it stands for.
func (d *Driver) writeOne(ctx context.Context, it types.TransactWriteItem) (err error) {
	switch p, u, x := it.Put, it.Update, it.Delete; {
	case p != nil:
		_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
			ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues})
	case u != nil:
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: u.TableName, Key: u.Key,
			UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
			ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues})
	case x != nil:
		_, err = d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: x.TableName, Key: x.Key, ConditionExpression: x.ConditionExpression,
			ExpressionAttributeNames: x.ExpressionAttributeNames, ExpressionAttributeValues: x.ExpressionAttributeValues})
	}
	return err
}

// transactItem encodes one op, which is exactly one of a put, an update, a delete or a check
// (ledger.Op), as a transaction item.
func (d *Driver) transactItem(op ledger.Op) (types.TransactWriteItem, error) {
	table, key, keyAttr := d.key(op.Key)
	e := &expr{}
	var put item
	if op.Put != nil {
		put, e.err = marshal(op.Put)
		maps.Copy(put, key)
	}
	var cond, update *string
	if op.If != nil {
		cond = aws.String(e.cond(*op.If, keyAttr))
	}
	if len(op.Update) > 0 {
		update = aws.String(e.update(op.Update))
	}
	if e.err != nil {
		return types.TransactWriteItem{}, e.err
	}
	n, v := e.names, e.values
	switch {
	case op.Put != nil:
		return types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: put, ConditionExpression: cond,
			ExpressionAttributeNames: n, ExpressionAttributeValues: v}}, nil
	case update != nil:
		return types.TransactWriteItem{Update: &types.Update{TableName: &table, Key: key, UpdateExpression: update,
			ConditionExpression: cond, ExpressionAttributeNames: n, ExpressionAttributeValues: v}}, nil
	case op.Delete:
		return types.TransactWriteItem{Delete: &types.Delete{TableName: &table, Key: key, ConditionExpression: cond,
			ExpressionAttributeNames: n, ExpressionAttributeValues: v}}, nil
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: &table, Key: key, ConditionExpression: cond,
		ExpressionAttributeNames: n, ExpressionAttributeValues: v}}, nil
}

// expr collects the attribute names and values of one request's expressions, as placeholders,
// and the first error met encoding a value. Its maps stay nil until used: DynamoDB refuses empty
// ones.
type expr struct {
	names  map[string]string
	values item
	named  map[string]string // attribute name -> placeholder
	err    error
}

// name returns the placeholder of an attribute, or of a nested one ("environment.id" is
// #n0.#n1).
func (e *expr) name(path string) string {
	parts := strings.Split(path, ".")
	for i, a := range parts {
		ph, ok := e.named[a]
		if !ok {
			if e.names == nil {
				e.names, e.named = map[string]string{}, map[string]string{}
			}
			ph = "#n" + strconv.Itoa(len(e.names))
			e.names[ph], e.named[a] = a, ph
		}
		parts[i] = ph
	}
	return strings.Join(parts, ".")
}

// value returns the placeholder of a new value.
func (e *expr) value(v types.AttributeValue) string {
	if e.values == nil {
		e.values = item{}
	}
	ph := ":v" + strconv.Itoa(len(e.values))
	e.values[ph] = v
	return ph
}

// encoded returns the placeholder of a Go value, encoded as a record's attribute is.
func (e *expr) encoded(v any) string {
	av, err := attributevalue.MarshalWithOptions(v, useJSONTags)
	if err != nil {
		e.err = cmp.Or(e.err, fmt.Errorf("encode %v: %w", v, err))
	}
	return e.value(av)
}

// operators are DynamoDB's operators for the ledger's comparisons, and the joins of AllOf's and
// AnyOf's conditions.
var operators = map[ledger.CondKind]string{
	ledger.Equal: "=", ledger.Less: "<", ledger.LessOrEqual: "<=", ledger.GreaterOrEqual: ">=",
	ledger.AllOf: " AND ", ledger.AnyOf: " OR ",
}

// cond returns a condition as an expression; keyAttr is the attribute every item of the table
// has, which Absent and Present without an Attr test. (In a filter that is always there: the item
// read exists.)
func (e *expr) cond(c ledger.Cond, keyAttr string) string {
	switch c.Kind {
	case ledger.Absent:
		return "attribute_not_exists(" + e.name(cmp.Or(c.Attr, keyAttr)) + ")"
	case ledger.Present:
		return "attribute_exists(" + e.name(cmp.Or(c.Attr, keyAttr)) + ")"
	case ledger.Contains:
		return "contains(" + e.name(c.Attr) + ", " + e.encoded(c.Value) + ")"
	case ledger.AllOf, ledger.AnyOf:
		subs := make([]string, len(c.Sub))
		for i, s := range c.Sub {
			subs[i] = e.cond(s, keyAttr)
		}
		return "(" + strings.Join(subs, operators[c.Kind]) + ")"
	}
	return e.name(c.Attr) + " " + operators[c.Kind] + " " + e.encoded(c.Value)
}

// update returns the changes of an Update as an update expression: SET for Set and Append
// (list_append onto the list or, if absent, an empty one), ADD for Add and AddToSet (a string
// set, as verified_in is), REMOVE for Remove.
func (e *expr) update(changes []ledger.Change) string {
	clauses := map[string][]string{}
	for _, c := range changes {
		a := e.name(c.Attr)
		switch c.Kind {
		case ledger.Set:
			clauses["SET"] = append(clauses["SET"], a+" = "+e.encoded(c.Value))
		case ledger.Add:
			clauses["ADD"] = append(clauses["ADD"], a+" "+e.encoded(c.Value))
		case ledger.AddToSet:
			s, ok := c.Value.(string)
			if !ok {
				e.err = cmp.Or(e.err, fmt.Errorf("add to set %s: %v is not a string", c.Attr, c.Value))
			}
			clauses["ADD"] = append(clauses["ADD"], a+" "+e.value(&types.AttributeValueMemberSS{Value: []string{s}}))
		case ledger.Append:
			empty := e.value(&types.AttributeValueMemberL{Value: []types.AttributeValue{}})
			clauses["SET"] = append(clauses["SET"], a+" = list_append(if_not_exists("+a+", "+empty+"), "+e.encoded([]any{c.Value})+")")
		case ledger.Remove:
			clauses["REMOVE"] = append(clauses["REMOVE"], a)
		default:
			e.err = cmp.Or(e.err, fmt.Errorf("change %s: unknown change kind %d", c.Attr, c.Kind))
		}
	}
	var expr []string
	for _, verb := range []string{"SET", "ADD", "REMOVE"} {
		if len(clauses[verb]) > 0 {
			expr = append(expr, verb+" "+strings.Join(clauses[verb], ", "))
		}
	}
	return strings.Join(expr, " ")
}
