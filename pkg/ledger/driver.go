package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The ledger's tables. Releases is keyed by the release id alone (Key.PK; Key.SK is empty) and
// has one index, ReleasesIndex; State is keyed by a partition key and a sort key; Params holds
// parameters, keyed by name (Key.PK), in drivers that hold them (Caps.Parameters).
const (
	Releases = "releases"
	State    = "state"
	Params   = "params"
)

// ReleasesIndex lists a project's releases: partition project_id, sorted by release_id.
const ReleasesIndex = "project_id-release_id"

// Key names one item.
type Key struct {
	Table string
	PK    string
	SK    string
}

func (k Key) String() string { return k.Table + "/" + k.PK + "/" + k.SK }

// Item is a stored item as a driver returns it: its key and a way to decode its attributes into
// a record struct (whose json tags are the attribute names).
type Item struct {
	Key    Key
	decode func(v any) error
}

// NewItem is for drivers: an item whose attributes decode into a record with decode.
func NewItem(k Key, decode func(v any) error) Item { return Item{Key: k, decode: decode} }

// Decode decodes the item's attributes into v, a pointer to a record struct.
func (it Item) Decode(v any) error {
	if err := it.decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", it.Key, err)
	}
	return nil
}

// CondKind is a kind of condition.
type CondKind int

// The condition forms a ledger uses. Attr names an attribute, or a nested one with dots
// ("environment.id"); "" with Absent or Present means the item itself.
const (
	Absent CondKind = iota + 1
	Present
	Equal       // Attr = Value
	Less        // Attr < Value (numbers, or strings in byte order)
	LessOrEqual // Attr <= Value
	GreaterOrEqual
	Contains // Attr (a set or a list of strings) holds Value (a string)
	AllOf    // every Sub
	AnyOf    // at least one Sub
)

// Cond is a condition on an item, evaluated inside a driver's atomic write (or, as a Query's
// filter, on each item read). An attribute that is absent satisfies no comparison.
type Cond struct {
	Kind  CondKind
	Attr  string
	Value any
	Sub   []Cond
}

// Condition constructors.
func NotExists() Cond             { return Cond{Kind: Absent} }
func Exists() Cond                { return Cond{Kind: Present} }
func AttrAbsent(attr string) Cond { return Cond{Kind: Absent, Attr: attr} }
func Eq(attr string, v any) Cond  { return Cond{Kind: Equal, Attr: attr, Value: v} }
func Lt(attr string, v any) Cond  { return Cond{Kind: Less, Attr: attr, Value: v} }
func Le(attr string, v any) Cond  { return Cond{Kind: LessOrEqual, Attr: attr, Value: v} }
func Ge(attr string, v any) Cond  { return Cond{Kind: GreaterOrEqual, Attr: attr, Value: v} }
func Has(attr, v string) Cond     { return Cond{Kind: Contains, Attr: attr, Value: v} }
func And(cs ...Cond) Cond         { return Cond{Kind: AllOf, Sub: cs} }
func Or(cs ...Cond) Cond          { return Cond{Kind: AnyOf, Sub: cs} }
func condPtr(c Cond) *Cond        { return &c } // for Op.If and Query.Filter

// ChangeKind is a kind of change an Update makes to one attribute.
type ChangeKind int

// The changes a ledger makes in place.
const (
	Set      ChangeKind = iota + 1 // Attr = Value
	Add                            // Attr += Value (an int64; an absent Attr counts as 0)
	AddToSet                       // Attr (a set of strings) gains Value (a string)
	Append                         // Attr (a list; absent: empty) gains Value at its end
	Remove                         // Attr is removed
)

// Change is one change of an Update.
type Change struct {
	Kind  ChangeKind
	Attr  string
	Value any
}

// Op is one write of an atomic batch: exactly one of Put (the item's attributes, as a record
// struct: the driver adds the key), Update, Delete or Check (a condition alone), on the item at
// Key, if If holds.
type Op struct {
	Key    Key
	Put    any
	Update []Change
	Delete bool
	Check  bool
	If     *Cond
}

// Query reads the items of one partition in sort-key order.
type Query struct {
	Table string
	// Index, if set, reads the table's index (ReleasesIndex) rather than the table: PK is then
	// the index's partition (a project id) and items come in release id order.
	Index string
	PK    string
	// Prefix narrows the items to sort keys that start with it; or From and To (inclusive) bound
	// them. Neither: the whole partition.
	Prefix   string
	From, To string
	// Desc reads from the greatest sort key down.
	Desc bool
	// Limit is how many items to return (0: every one); After, if set, is the key of the item
	// just before the first to return (a cursor), in the direction read.
	Limit int
	After *Key
	// Filter, if set, keeps only the items that satisfy it; items it drops do not count against
	// Limit.
	Filter *Cond
}

// Caps is what a driver can do, declared when it is built.
type Caps struct {
	// MaxWriteOps bounds the ops of one Write (DynamoDB: 100); 0 is no bound.
	MaxWriteOps int
	// Parameters says the driver holds parameters in the Params table too, in the same atomic
	// writes as everything else: a deploy then writes its parameters with its record.
	Parameters bool
	// TurnClaims says that writers contending for one environment should claim a turn (a
	// conditional put of a small item) before their atomic write: worth it where a lost
	// transaction costs far more than a lost put (DynamoDB bills a transaction twice per item and
	// serializes contenders behind item locks).
	TurnClaims bool
	// ExpiresAttr, if set, is an attribute holding a Unix time after which the driver deletes
	// the item some time later (DynamoDB's TTL); readers compare it with the time themselves.
	ExpiresAttr string
}

// Fits refuses a write of more ops than MaxWriteOps: drivers check every Write with it.
func (c Caps) Fits(ops []Op) error {
	if c.MaxWriteOps > 0 && len(ops) > c.MaxWriteOps {
		return fmt.Errorf("write %s and %d more: %d items are more than one atomic write takes (%d)", ops[0].Key, len(ops)-1, len(ops), c.MaxWriteOps)
	}
	return nil
}

// Driver is a store of items in tables: the few operations the ledger builds every rule on.
//
// What every driver does alike (the driver suite, ledgertest, holds them to it): an Update of an
// absent item creates it (as DynamoDB's UpdateItem does); a comparison of an attribute with a
// value of another type is false; Query with From alone reads to the partition's end, with To
// alone from its start, and Prefix wins over both. A Write names each item at most once
// (DynamoDB refuses two ops on one item). An index may lag its table (DynamoDB's global
// secondary indexes do): the ledger never reads its own writes through one.
type Driver interface {
	Caps() Caps
	// Get reads one item; ok is false if there is none.
	Get(ctx context.Context, k Key) (it Item, ok bool, err error)
	// BatchGet reads the items at keys (which may repeat, and span tables), each consistently;
	// absent ones are absent from the answer.
	BatchGet(ctx context.Context, keys []Key) (map[Key]Item, error)
	// Query reads items of one partition.
	Query(ctx context.Context, q Query) ([]Item, error)
	// Write applies ops atomically: all of them, or, if any op's condition fails, none
	// (*CondFailed names which). A write that met a concurrent one on the same items, and
	// neither failed a condition nor took effect, answers ErrBusy.
	Write(ctx context.Context, ops []Op) error
}

// CondFailed says which ops of a Write had conditions that failed (at least one, ascending); the
// write changed nothing.
type CondFailed struct {
	Ops []int
}

func (e *CondFailed) Error() string { return fmt.Sprintf("the conditions of ops %v failed", e.Ops) }

// Failed reports whether op i's condition failed.
func (e *CondFailed) Failed(i int) bool {
	for _, j := range e.Ops {
		if j == i {
			return true
		}
	}
	return false
}

// condFailed returns err's CondFailed, if it is one.
func condFailed(err error) (*CondFailed, bool) {
	var cf *CondFailed
	ok := errors.As(err, &cf)
	return cf, ok
}

// ErrBusy says a write met a concurrent write of some of the same items and took no effect;
// trying again may succeed at once.
var ErrBusy = shiplog.Errorf(shiplog.Conflict, "a concurrent write held some of the same items; retry")
