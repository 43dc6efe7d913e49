package ledger

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// KV is a transactional store of byte keys in named buckets, each in key order: what the
// embedded drivers (bbolt, memory) share. NewKVDriver makes a Driver of one, keeping each item as
// a JSON document and evaluating conditions and changes on it, written once for both.
type KV interface {
	// View runs fn in a read transaction, Update in a write transaction that commits if fn
	// returns nil and changes nothing otherwise.
	View(fn func(KVTx) error) error
	Update(fn func(KVTx) error) error
}

// KVTx is one transaction of a KV. A value it returns is valid only inside the transaction.
type KVTx interface {
	Get(bucket string, key []byte) []byte
	Put(bucket string, key, value []byte) error
	Delete(bucket string, key []byte) error
	// Scan calls fn with each key from lo (inclusive) to hi (exclusive), descending if desc,
	// until fn returns false or an error.
	Scan(bucket string, lo, hi []byte, desc bool, fn func(k, v []byte) (bool, error)) error
}

// KVBuckets are the buckets a KV must have: a table's each, and the releases index's.
var KVBuckets = []string{Releases, State, Params, indexBucket}

const indexBucket = "index:" + ReleasesIndex

// KVDriver is a Driver over a KV.
type KVDriver struct {
	kv   KV
	caps Caps
}

// NewKVDriver returns a driver over kv, which declares caps (an embedded KV takes any number of
// ops in one write, and may hold parameters).
func NewKVDriver(kv KV, caps Caps) *KVDriver { return &KVDriver{kv: kv, caps: caps} }

// Caps returns what the driver was declared to do.
func (d *KVDriver) Caps() Caps { return d.caps }

// kvKey is where k is kept: its table's bucket, and its parts joined by a NUL byte, which no id
// contains, so that a partition's items are one range of keys in sort-key order.
func kvKey(k Key) (string, []byte) {
	if k.Table == Releases {
		return Releases, []byte(k.PK)
	}
	return k.Table, []byte(k.PK + "\x00" + k.SK)
}

func keyOf(table string, raw []byte) Key {
	if table == Releases {
		return Key{Table: Releases, PK: string(raw)}
	}
	pk, sk, _ := strings.Cut(string(raw), "\x00")
	return Key{Table: table, PK: pk, SK: sk}
}

func indexKey(projectID, releaseID string) []byte { return []byte(projectID + "\x00" + releaseID) }

func jsonItem(k Key, v []byte) Item {
	data := bytes.Clone(v)
	return NewItem(k, func(out any) error { return json.Unmarshal(data, out) })
}

// Get reads one item.
func (d *KVDriver) Get(ctx context.Context, k Key) (Item, bool, error) {
	got, err := d.BatchGet(ctx, []Key{k})
	it, ok := got[k]
	return it, ok, err
}

// BatchGet reads the items at keys in one read transaction.
func (d *KVDriver) BatchGet(ctx context.Context, keys []Key) (map[Key]Item, error) {
	out := make(map[Key]Item, len(keys))
	err := d.kv.View(func(tx KVTx) error {
		for _, k := range keys {
			b, raw := kvKey(k)
			if v := tx.Get(b, raw); v != nil {
				out[k] = jsonItem(k, v)
			}
		}
		return nil
	})
	return out, err
}

// Query reads a range of one partition in one read transaction.
func (d *KVDriver) Query(ctx context.Context, q Query) ([]Item, error) {
	bucket := q.Table
	part := q.PK + "\x00"
	if q.Index != "" {
		if q.Table != Releases || q.Index != ReleasesIndex {
			return nil, fmt.Errorf("query: table %s has no index %s", q.Table, q.Index)
		}
		bucket = indexBucket
	}
	lo, hi := []byte(part), prefixEnd([]byte(part))
	switch {
	case q.Prefix != "":
		lo = []byte(part + q.Prefix)
		hi = prefixEnd(lo)
	case q.From != "" || q.To != "":
		lo = []byte(part + q.From)
		if q.To != "" {
			hi = []byte(part + q.To + "\x00") // the least key after To
		}
	}
	if q.After != nil {
		after := []byte(part + q.After.SK)
		if q.Index != "" {
			after = []byte(part + q.After.PK)
		}
		if q.Desc { // a cursor lies in the range read (the ledger checks)
			hi = after
		} else {
			lo = append(after, 0)
		}
	}
	var out []Item
	err := d.kv.View(func(tx KVTx) error {
		return tx.Scan(bucket, lo, hi, q.Desc, func(k, v []byte) (bool, error) {
			key := keyOf(q.Table, k)
			if q.Index != "" {
				key = Key{Table: Releases, PK: string(k[len(part):])}
				if v = tx.Get(Releases, []byte(key.PK)); v == nil {
					return true, nil
				}
			}
			if q.Filter != nil {
				doc, err := decodeDoc(v)
				if err != nil {
					return false, err
				}
				if ok, err := eval(*q.Filter, doc, true); err != nil || !ok {
					return err == nil, err
				}
			}
			out = append(out, jsonItem(key, v))
			return q.Limit == 0 || len(out) < q.Limit, nil
		})
	})
	return out, err
}

// Write applies ops in one write transaction: every condition is evaluated against the items as
// they were before the write, and if any fails nothing is written.
func (d *KVDriver) Write(ctx context.Context, ops []Op) error {
	if err := d.caps.Fits(ops); err != nil {
		return err
	}
	return d.kv.Update(func(tx KVTx) error {
		var failed []int
		for i, op := range ops {
			if op.If == nil {
				continue
			}
			b, raw := kvKey(op.Key)
			doc, err := decodeDoc(tx.Get(b, raw))
			if err != nil {
				return err
			}
			ok, err := eval(*op.If, doc, false)
			if err != nil {
				return fmt.Errorf("op %d on %s: %w", i, op.Key, err)
			}
			if !ok {
				failed = append(failed, i)
			}
		}
		if len(failed) > 0 {
			return &CondFailed{Ops: failed}
		}
		for i, op := range ops {
			if err := apply(tx, op); err != nil {
				return fmt.Errorf("op %d on %s: %w", i, op.Key, err)
			}
		}
		return nil
	})
}

func apply(tx KVTx, op Op) error {
	b, raw := kvKey(op.Key)
	switch {
	case op.Check:
		return nil
	case op.Delete:
		return tx.Delete(b, raw)
	case op.Put != nil:
		data, err := json.Marshal(op.Put)
		if err != nil {
			return err
		}
		if op.Key.Table == Releases {
			var r struct {
				ProjectID string `json:"project_id"`
			}
			if err := json.Unmarshal(data, &r); err != nil {
				return err
			}
			if err := tx.Put(indexBucket, indexKey(r.ProjectID, op.Key.PK), nil); err != nil {
				return err
			}
		}
		return tx.Put(b, raw, data)
	case len(op.Update) > 0:
		doc, err := decodeDoc(tx.Get(b, raw))
		if err != nil {
			return err
		}
		if doc == nil {
			doc = map[string]any{} // an update of an absent item creates it, as DynamoDB's does
		}
		for _, c := range op.Update {
			if err := change(doc, c); err != nil {
				return err
			}
		}
		data, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		return tx.Put(b, raw, data)
	}
	return fmt.Errorf("an op must put, update, delete or check")
}

// decodeDoc decodes a stored item as a document (nil for no item), numbers as json.Number.
func decodeDoc(v []byte) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode stored item: %w", err)
	}
	return doc, nil
}

// docValue is v as a document holds it (through JSON: numbers as json.Number).
func docValue(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok || cur == nil {
			return nil, false
		}
	}
	return cur, true
}

// eval evaluates c on doc (nil: no item). A filter (a Query's) never sees an absent item.
func eval(c Cond, doc map[string]any, filter bool) (bool, error) {
	switch c.Kind {
	case AllOf, AnyOf:
		for _, s := range c.Sub {
			ok, err := eval(s, doc, filter)
			if err != nil {
				return false, err
			}
			if ok == (c.Kind == AnyOf) {
				return ok, nil
			}
		}
		return c.Kind == AllOf, nil
	case Absent, Present:
		exists := doc != nil
		if c.Attr != "" {
			_, exists = lookup(doc, c.Attr)
		}
		return exists == (c.Kind == Present), nil
	}
	got, ok := lookup(doc, c.Attr)
	if !ok {
		return false, nil
	}
	want, err := docValue(c.Value)
	if err != nil {
		return false, err
	}
	switch c.Kind {
	case Equal:
		return reflect.DeepEqual(got, want), nil
	case Contains:
		list, ok := got.([]any)
		return ok && slices.Contains(list, want), nil
	}
	cmp, ok := compare(got, want)
	if !ok {
		return false, nil
	}
	switch c.Kind {
	case Less:
		return cmp < 0, nil
	case LessOrEqual:
		return cmp <= 0, nil
	case GreaterOrEqual:
		return cmp >= 0, nil
	}
	return false, fmt.Errorf("unknown condition kind %d", c.Kind)
}

// compare orders two integers or two strings; ok is false for anything else.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	case json.Number:
		y, ok := b.(json.Number)
		xi, err1 := x.Int64()
		yi, err2 := y.Int64()
		return cmp.Compare(xi, yi), ok && err1 == nil && err2 == nil
	}
	return 0, false
}

func change(doc map[string]any, c Change) error {
	switch c.Kind {
	case Remove:
		delete(doc, c.Attr)
		return nil
	case Add:
		n, ok := c.Value.(int64)
		if !ok {
			return fmt.Errorf("add to %s: %T is not an int64", c.Attr, c.Value)
		}
		var cur int64
		if v, ok := doc[c.Attr].(json.Number); ok {
			var err error
			if cur, err = v.Int64(); err != nil {
				return fmt.Errorf("add to %s: %w", c.Attr, err)
			}
		}
		doc[c.Attr] = json.Number(strconv.FormatInt(cur+n, 10))
		return nil
	}
	v, err := docValue(c.Value)
	if err != nil {
		return err
	}
	switch c.Kind {
	case Set:
		doc[c.Attr] = v
	case AddToSet, Append:
		list, _ := doc[c.Attr].([]any)
		if c.Kind == AddToSet && slices.ContainsFunc(list, func(e any) bool { return reflect.DeepEqual(e, v) }) {
			return nil
		}
		doc[c.Attr] = append(list, v)
	default:
		return fmt.Errorf("unknown change kind %d", c.Kind)
	}
	return nil
}

// prefixEnd is the least key greater than every key that starts with p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // every key
}
