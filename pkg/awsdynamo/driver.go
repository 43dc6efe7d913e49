package awsdynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
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
	caps ledger.Caps
	// unprocessedDelay is the first wait before asking again for keys BatchGetItem left
	// unprocessed; it doubles each round.
	unprocessedDelay time.Duration
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

// table returns the DynamoDB table of a ledger table.
func (d *Driver) table(name string) (string, error) {
	switch name {
	case ledger.Releases:
		return d.releases, nil
	case ledger.State:
		return d.state, nil
	}
	return "", fmt.Errorf("table %q: the DynamoDB driver has only the %s and %s tables", name, ledger.Releases, ledger.State)
}

// key returns an item's DynamoDB key.
func (d *Driver) key(k ledger.Key) (string, item, error) {
	table, err := d.table(k.Table)
	if err != nil {
		return "", nil, err
	}
	if k.Table == ledger.Releases {
		return table, releaseKey(k.PK), nil
	}
	return table, stateKey(k.PK, k.SK), nil
}

// keyOf returns the ledger key of an item read from a ledger table.
func keyOf(table string, m item) ledger.Key {
	s := func(a string) string {
		v, _ := m[a].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	if table == ledger.Releases {
		return ledger.Key{Table: table, PK: s(attrReleaseID)}
	}
	return ledger.Key{Table: table, PK: s(attrPK), SK: s(attrSK)}
}

func newItem(table string, m item) ledger.Item {
	return ledger.NewItem(keyOf(table, m), func(v any) error { return unmarshal(m, v) })
}

// keyAttr is the attribute that every item of a ledger table has: "the item exists" is
// attribute_exists of it.
func keyAttr(table string) string {
	if table == ledger.Releases {
		return attrReleaseID
	}
	return attrPK
}

// Get reads one item with a consistent GetItem.
func (d *Driver) Get(ctx context.Context, k ledger.Key) (ledger.Item, bool, error) {
	table, key, err := d.key(k)
	if err != nil {
		return ledger.Item{}, false, err
	}
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return ledger.Item{}, false, dynamo.Wrap(err, "read %s", k)
	}
	if out.Item == nil {
		return ledger.Item{}, false, nil
	}
	return ledger.NewItem(k, func(v any) error { return unmarshal(out.Item, v) }), true, nil
}

// BatchGet reads the items at keys, each once, with consistent BatchGetItems of up to 100 keys
// (DynamoDB's limit, across tables), asking again only for the keys DynamoDB left unprocessed.
func (d *Driver) BatchGet(ctx context.Context, keys []ledger.Key) (map[ledger.Key]ledger.Item, error) {
	got := make(map[ledger.Key]ledger.Item, len(keys))
	// BatchGetItem refuses a request that names one key twice.
	seen := make(map[ledger.Key]bool, len(keys))
	unique := make([]ledger.Key, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			unique = append(unique, k)
		}
	}
	tables := map[string]string{d.releases: ledger.Releases, d.state: ledger.State}
	for len(unique) > 0 {
		n := min(len(unique), maxBatchGetKeys)
		req := map[string]types.KeysAndAttributes{}
		for _, k := range unique[:n] {
			table, key, err := d.key(k)
			if err != nil {
				return nil, err
			}
			ka := req[table]
			ka.Keys = append(ka.Keys, key)
			ka.ConsistentRead = aws.Bool(true)
			req[table] = ka
		}
		unique = unique[n:]
		items, err := d.batchGet(ctx, req)
		if err != nil {
			return nil, err
		}
		for table, its := range items {
			for _, m := range its {
				it := newItem(tables[table], m)
				got[it.Key] = it
			}
		}
	}
	return got, nil
}

// batchGet runs one BatchGetItem, then asks again for the keys DynamoDB left unprocessed (it
// does so when throttled), waiting unprocessedDelay, doubled each round up to
// maxUnprocessedDelay, for at most unprocessedRounds rounds.
func (d *Driver) batchGet(ctx context.Context, req map[string]types.KeysAndAttributes) (map[string][]item, error) {
	got := map[string][]item{}
	delay := d.unprocessedDelay
	for round := 0; len(req) > 0; round++ {
		if round > 0 {
			if round > unprocessedRounds {
				return nil, shiplog.Errorf(shiplog.Unavailable, "DynamoDB is throttling reads; retry later")
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, dynamo.Wrap(ctx.Err(), "batch read")
			case <-t.C:
			}
			delay = min(2*delay, maxUnprocessedDelay)
		}
		out, err := d.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, dynamo.Wrap(err, "batch read")
		}
		for table, items := range out.Responses {
			got[table] = append(got[table], items...)
		}
		req = out.UnprocessedKeys
	}
	return got, nil
}

// Query reads a partition of the state table (consistently) or of the releases index
// (eventually consistent, as every global secondary index is). With a Limit it asks each call
// for the items it still lacks, and goes on past LastEvaluatedKey (a response cut at 1 MB, or
// items the filter dropped) only until it has them; without one it reads every page.
func (d *Driver) Query(ctx context.Context, q ledger.Query) ([]ledger.Item, error) {
	table, err := d.table(q.Table)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("query %s/%s", q.Table, q.PK)
	e := newExpr()
	in := &dynamodb.QueryInput{TableName: &table, ScanIndexForward: aws.Bool(!q.Desc)}
	var pkAttr, skAttr string
	switch {
	case q.Index != "":
		if q.Table != ledger.Releases || q.Index != ledger.ReleasesIndex {
			return nil, fmt.Errorf("%s: table %s has no index %q", what, q.Table, q.Index)
		}
		in.IndexName = aws.String(ReleasesIndex)
		pkAttr, skAttr = attrProjectID, attrReleaseID
	case q.Table == ledger.Releases:
		pkAttr = attrReleaseID
		in.ConsistentRead = aws.Bool(true)
	default:
		pkAttr, skAttr = attrPK, attrSK
		in.ConsistentRead = aws.Bool(true)
	}
	cond := e.name(pkAttr) + " = " + e.value(str(q.PK))
	if (q.Prefix != "" || q.From != "" || q.To != "") && skAttr == "" {
		return nil, fmt.Errorf("%s: the table has no sort key to narrow", what)
	}
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
		f, err := e.cond(*q.Filter, "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		in.FilterExpression = &f
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.names, e.values
	if a := q.After; a != nil {
		switch {
		case q.Index != "":
			in.ExclusiveStartKey = item{attrReleaseID: str(a.PK), attrProjectID: str(q.PK)}
		case q.Table == ledger.Releases:
			in.ExclusiveStartKey = releaseKey(a.PK)
		default:
			in.ExclusiveStartKey = stateKey(a.PK, a.SK)
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
		got[i] = newItem(q.Table, m)
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
	if d.caps.MaxWriteOps > 0 && len(ops) > d.caps.MaxWriteOps {
		return fmt.Errorf("write %s and %d more: %d ops are more than a transaction takes (%d)", ops[0].Key, len(ops)-1, len(ops), d.caps.MaxWriteOps)
	}
	items := make([]types.TransactWriteItem, len(ops))
	for i, op := range ops {
		it, err := d.transactItem(op)
		if err != nil {
			return err
		}
		items[i] = it
	}
	what := fmt.Sprintf("write %s", ops[0].Key)
	if len(ops) > 1 {
		what = fmt.Sprintf("write %s and %d more", ops[0].Key, len(ops)-1)
	}
	if len(ops) == 1 && !ops[0].Check {
		err := d.writeOne(ctx, items[0])
		if conditionFailed(err) {
			return &ledger.CondFailed{Ops: []int{0}}
		}
		var conflict *types.TransactionConflictException
		if errors.As(err, &conflict) {
			// The item is in another transaction under way: the port's ErrBusy, where the
			// Store said Unavailable.
			return fmt.Errorf("%s: %w: %w", what, ledger.ErrBusy, err)
		}
		if err != nil {
			return dynamo.Wrap(err, "%s", what)
		}
		return nil
	}
	_, err := d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	return transactionFailure(err, what)
}

// writeOne sends one op as the single-item call it stands for.
func (d *Driver) writeOne(ctx context.Context, it types.TransactWriteItem) error {
	var err error
	switch {
	case it.Put != nil:
		p := it.Put
		_, err = d.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
			ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues,
		})
	case it.Update != nil:
		u := it.Update
		_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression, ConditionExpression: u.ConditionExpression,
			ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
		})
	case it.Delete != nil:
		x := it.Delete
		_, err = d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: x.TableName, Key: x.Key, ConditionExpression: x.ConditionExpression,
			ExpressionAttributeNames: x.ExpressionAttributeNames, ExpressionAttributeValues: x.ExpressionAttributeValues,
		})
	}
	return err
}

// transactItem encodes one op as a transaction item.
func (d *Driver) transactItem(op ledger.Op) (types.TransactWriteItem, error) {
	kinds := 0
	for _, b := range []bool{op.Put != nil, len(op.Update) > 0, op.Delete, op.Check} {
		if b {
			kinds++
		}
	}
	if kinds != 1 {
		return types.TransactWriteItem{}, fmt.Errorf("write %s: an op is exactly one of a put, an update, a delete or a check", op.Key)
	}
	table, key, err := d.key(op.Key)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	e := newExpr()
	var cond *string
	if op.If != nil {
		c, err := e.cond(*op.If, keyAttr(op.Key.Table))
		if err != nil {
			return types.TransactWriteItem{}, fmt.Errorf("write %s: %w", op.Key, err)
		}
		cond = &c
	}
	switch {
	case op.Put != nil:
		m, err := marshal(op.Put)
		if err != nil {
			return types.TransactWriteItem{}, fmt.Errorf("write %s: %w", op.Key, err)
		}
		for a, v := range key {
			m[a] = v
		}
		return types.TransactWriteItem{Put: &types.Put{
			TableName: &table, Item: m, ConditionExpression: cond,
			ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
		}}, nil
	case len(op.Update) > 0:
		u, err := e.update(op.Update)
		if err != nil {
			return types.TransactWriteItem{}, fmt.Errorf("write %s: %w", op.Key, err)
		}
		return types.TransactWriteItem{Update: &types.Update{
			TableName: &table, Key: key, UpdateExpression: &u, ConditionExpression: cond,
			ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
		}}, nil
	case op.Delete:
		return types.TransactWriteItem{Delete: &types.Delete{
			TableName: &table, Key: key, ConditionExpression: cond,
			ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
		}}, nil
	}
	if cond == nil {
		return types.TransactWriteItem{}, fmt.Errorf("write %s: a check needs a condition", op.Key)
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: &table, Key: key, ConditionExpression: cond,
		ExpressionAttributeNames: e.names, ExpressionAttributeValues: e.values,
	}}, nil
}

// expr collects the attribute names and values of one request's expressions, as placeholders.
// Its maps stay nil until used: DynamoDB refuses empty ones.
type expr struct {
	names  map[string]string
	values map[string]types.AttributeValue
	named  map[string]string // attribute name -> placeholder
}

func newExpr() *expr { return &expr{} }

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
		e.values = map[string]types.AttributeValue{}
	}
	ph := ":v" + strconv.Itoa(len(e.values))
	e.values[ph] = v
	return ph
}

// encoded returns the placeholder of a Go value, encoded as a record's attribute is.
func (e *expr) encoded(v any) (string, error) {
	av, err := attributevalue.MarshalWithOptions(v, useJSONTags)
	if err != nil {
		return "", fmt.Errorf("encode %v: %w", v, err)
	}
	return e.value(av), nil
}

// cond returns a condition as an expression; itemAttr is the attribute every item has, which
// Absent and Present without an Attr test ("" in a filter, where they mean nothing).
func (e *expr) cond(c ledger.Cond, itemAttr string) (string, error) {
	switch c.Kind {
	case ledger.Absent, ledger.Present:
		attr := c.Attr
		if attr == "" {
			attr = itemAttr
		}
		if attr == "" {
			return "", errors.New("a filter cannot ask whether the item itself exists")
		}
		f := "attribute_not_exists"
		if c.Kind == ledger.Present {
			f = "attribute_exists"
		}
		return f + "(" + e.name(attr) + ")", nil
	case ledger.Equal, ledger.Less, ledger.LessOrEqual, ledger.GreaterOrEqual:
		if c.Attr == "" {
			return "", errors.New("a comparison needs an attribute")
		}
		v, err := e.encoded(c.Value)
		if err != nil {
			return "", err
		}
		op := map[ledger.CondKind]string{ledger.Equal: "=", ledger.Less: "<", ledger.LessOrEqual: "<=", ledger.GreaterOrEqual: ">="}[c.Kind]
		return e.name(c.Attr) + " " + op + " " + v, nil
	case ledger.AllOf, ledger.AnyOf:
		if len(c.Sub) == 0 {
			return "", errors.New("AllOf and AnyOf need at least one condition")
		}
		subs := make([]string, len(c.Sub))
		for i, s := range c.Sub {
			x, err := e.cond(s, itemAttr)
			if err != nil {
				return "", err
			}
			subs[i] = x
		}
		join := " AND "
		if c.Kind == ledger.AnyOf {
			join = " OR "
		}
		return "(" + strings.Join(subs, join) + ")", nil
	}
	return "", fmt.Errorf("unknown condition kind %d", c.Kind)
}

// update returns the changes of an Update as an update expression: SET for Set and Append
// (list_append onto the list or, if absent, an empty one), ADD for Add and AddToSet (a string
// set, as verified_in is), REMOVE for Remove.
func (e *expr) update(changes []ledger.Change) (string, error) {
	var set, add, remove []string
	for _, c := range changes {
		if c.Attr == "" {
			return "", errors.New("a change needs an attribute")
		}
		a := e.name(c.Attr)
		switch c.Kind {
		case ledger.Set:
			v, err := e.encoded(c.Value)
			if err != nil {
				return "", err
			}
			set = append(set, a+" = "+v)
		case ledger.Add:
			v, err := e.encoded(c.Value)
			if err != nil {
				return "", err
			}
			if _, ok := e.values[v].(*types.AttributeValueMemberN); !ok {
				return "", fmt.Errorf("add to %s: %v is not a number", c.Attr, c.Value)
			}
			add = append(add, a+" "+v)
		case ledger.AddToSet:
			s, ok := c.Value.(string)
			if !ok {
				return "", fmt.Errorf("add to set %s: %v is not a string", c.Attr, c.Value)
			}
			add = append(add, a+" "+e.value(&types.AttributeValueMemberSS{Value: []string{s}}))
		case ledger.Append:
			l, err := attributevalue.MarshalListWithOptions([]any{c.Value}, useJSONTags)
			if err != nil {
				return "", fmt.Errorf("append to %s: %w", c.Attr, err)
			}
			empty := e.value(&types.AttributeValueMemberL{Value: []types.AttributeValue{}})
			set = append(set, a+" = list_append(if_not_exists("+a+", "+empty+"), "+e.value(&types.AttributeValueMemberL{Value: l})+")")
		case ledger.Remove:
			remove = append(remove, a)
		default:
			return "", fmt.Errorf("change %s: unknown change kind %d", c.Attr, c.Kind)
		}
	}
	var clauses []string
	if len(set) > 0 {
		clauses = append(clauses, "SET "+strings.Join(set, ", "))
	}
	if len(add) > 0 {
		clauses = append(clauses, "ADD "+strings.Join(add, ", "))
	}
	if len(remove) > 0 {
		clauses = append(clauses, "REMOVE "+strings.Join(remove, ", "))
	}
	return strings.Join(clauses, " "), nil
}
