// Package ledgertest is the conformance suite of ledger.Driver: every driver (memory, bbolt,
// DynamoDB) passes the same tests, which assert on what is stored, read back through the driver.
package ledgertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/ledger"
)

// RunDriverTests runs the whole suite; newDriver returns a driver on empty tables of its own.
func RunDriverTests(t *testing.T, newDriver func(t *testing.T) ledger.Driver) {
	runDriverTests(t, newDriver)
	t.Run("Concurrency", func(t *testing.T) { runConcurrencyTests(t, newDriver) })
}

// RunDriverTestsWithoutIsolation runs every test but those of concurrent writes, for an
// implementation of a backend's API that does not isolate them (moto's DynamoDB), on which the
// rest of the suite still says whether a driver builds its requests right.
func RunDriverTestsWithoutIsolation(t *testing.T, newDriver func(t *testing.T) ledger.Driver) {
	runDriverTests(t, newDriver)
}

func runDriverTests(t *testing.T, newDriver func(t *testing.T) ledger.Driver) {
	t.Run("Get", func(t *testing.T) { testGet(t, newDriver(t)) })
	t.Run("BatchGet", func(t *testing.T) { testBatchGet(t, newDriver(t)) })
	t.Run("PutConditions", func(t *testing.T) { testPutConditions(t, newDriver(t)) })
	t.Run("UpdateChanges", func(t *testing.T) { testUpdateChanges(t, newDriver(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newDriver(t)) })
	t.Run("Check", func(t *testing.T) { testCheck(t, newDriver(t)) })
	t.Run("AtomicWrite", func(t *testing.T) { testAtomicWrite(t, newDriver(t)) })
	t.Run("MaxWriteOps", func(t *testing.T) { testMaxWriteOps(t, newDriver(t)) })
	t.Run("Query", func(t *testing.T) { testQuery(t, newDriver(t)) })
	t.Run("QueryIndex", func(t *testing.T) { testQueryIndex(t, newDriver(t)) })
	t.Run("Indexes", func(t *testing.T) { runIndexTests(t, newDriver) })
}

// Records as a ledger stores them: attribute names are json tags.

type env struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type entry struct {
	S  string `json:"s"`
	At int64  `json:"at"`
}

type record struct {
	Name string   `json:"name"`
	N    int64    `json:"n"`
	Tags []string `json:"tags,omitempty"`
	// Set is only ever written by AddToSet: a set of strings.
	Set     []string `json:"set,omitempty"`
	History []entry  `json:"history,omitempty"`
	Env     env      `json:"environment"`
}

// release is a record of the releases table; the index lists it by project.
type release struct {
	ProjectID string `json:"project_id,omitempty"`
	Name      string `json:"name"`
	N         int64  `json:"n"`
}

func stateKey(pk, sk string) ledger.Key { return ledger.Key{Table: ledger.State, PK: pk, SK: sk} }

func releaseKey(id string) ledger.Key { return ledger.Key{Table: ledger.Releases, PK: id} }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, d ledger.Driver, k ledger.Key, v any) {
	t.Helper()
	if err := d.Write(ctx(t), []ledger.Op{{Key: k, Put: v}}); err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
}

// putAll puts items in writes of at most Caps().MaxWriteOps ops.
func putAll(t *testing.T, d ledger.Driver, keys []ledger.Key, v func(i int) any) {
	t.Helper()
	n := d.Caps().MaxWriteOps
	if n <= 0 {
		n = len(keys)
	}
	for start := 0; start < len(keys); start += n {
		var ops []ledger.Op
		for i := start; i < min(start+n, len(keys)); i++ {
			ops = append(ops, ledger.Op{Key: keys[i], Put: v(i)})
		}
		if err := d.Write(ctx(t), ops); err != nil {
			t.Fatalf("put %d items from %s: %v", len(ops), keys[start], err)
		}
	}
}

// get returns the record at k, or nil if there is none.
func get[T any](t *testing.T, d ledger.Driver, k ledger.Key) *T {
	t.Helper()
	it, ok, err := d.Get(ctx(t), k)
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	if !ok {
		return nil
	}
	if it.Key != k {
		t.Errorf("get %s: the item's key is %s", k, it.Key)
	}
	var v T
	if err := it.Decode(&v); err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	return &v
}

// wantStored fails unless the record at k is want (nil: absent).
func wantStored[T any](t *testing.T, d ledger.Driver, k ledger.Key, want *T) {
	t.Helper()
	got := get[T](t, d, k)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored at %s (-want +got):\n%s", k, diff)
	}
}

// wantCondFailed fails unless err is a *ledger.CondFailed naming exactly ops.
func wantCondFailed(t *testing.T, err error, ops ...int) {
	t.Helper()
	var cf *ledger.CondFailed
	if !errors.As(err, &cf) {
		t.Fatalf("got error %v, want *ledger.CondFailed of ops %v", err, ops)
	}
	if !slices.Equal(cf.Ops, ops) {
		t.Errorf("failed ops: got %v, want %v", cf.Ops, ops)
	}
	for _, i := range ops {
		if !cf.Failed(i) {
			t.Errorf("Failed(%d): got false, want true", i)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func testGet(t *testing.T, d ledger.Driver) {
	a := record{Name: "a", N: 1, Tags: []string{"x", "y"}, History: []entry{{S: "s", At: 7}}, Env: env{ID: "prod", Name: "Production"}}
	r := release{ProjectID: "p", Name: "r", N: 2}
	put(t, d, stateKey("p#1", "a"), a)
	put(t, d, releaseKey("R1"), r)
	tests := []struct {
		name string
		key  ledger.Key
		want any
	}{
		{"state item", stateKey("p#1", "a"), &a},
		{"release", releaseKey("R1"), &r},
		{"absent sort key", stateKey("p#1", "b"), (*record)(nil)},
		{"absent partition", stateKey("p#2", "a"), (*record)(nil)},
		{"absent release", releaseKey("R2"), (*release)(nil)},
		{"a sort key that starts with a stored one", stateKey("p#1", "a#"), (*record)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch want := tt.want.(type) {
			case *record:
				wantStored(t, d, tt.key, want)
			case *release:
				wantStored(t, d, tt.key, want)
			}
		})
	}
}

func testBatchGet(t *testing.T, d ledger.Driver) {
	// More keys than one DynamoDB BatchGetItem takes (100).
	var keys []ledger.Key
	for i := range 130 {
		keys = append(keys, stateKey("batch", fmt.Sprintf("k%03d", i)))
	}
	putAll(t, d, keys, func(i int) any { return record{Name: keys[i].SK, N: int64(i)} })
	put(t, d, releaseKey("R1"), release{ProjectID: "p", Name: "R1", N: 1})

	tests := []struct {
		name string
		keys []ledger.Key
		want []ledger.Key // present ones
	}{
		{"none", nil, nil},
		{"absent only", []ledger.Key{stateKey("batch", "nope"), releaseKey("R9")}, nil},
		{
			"both tables, absent keys and a repeated one",
			[]ledger.Key{stateKey("batch", "k001"), releaseKey("R1"), stateKey("batch", "nope"), releaseKey("R9"), stateKey("batch", "k001"), stateKey("other", "k002")},
			[]ledger.Key{stateKey("batch", "k001"), releaseKey("R1")},
		},
		{"every key, twice, with a release", append(append(slices.Clone(keys), releaseKey("R1")), keys...), append(slices.Clone(keys), releaseKey("R1"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.BatchGet(ctx(t), tt.keys)
			if err != nil {
				t.Fatalf("BatchGet: %v", err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d items, want %d", len(got), len(tt.want))
			}
			for _, k := range tt.want {
				it, ok := got[k]
				if !ok {
					t.Errorf("%s: absent from the answer, want it", k)
					continue
				}
				if it.Key != k {
					t.Errorf("%s: the item's key is %s", k, it.Key)
				}
				if k.Table == ledger.Releases {
					var r release
					if err := it.Decode(&r); err != nil || r.Name != k.PK {
						t.Errorf("%s: got %+v (%v), want the release %s", k, r, err, k.PK)
					}
					continue
				}
				var r record
				if err := it.Decode(&r); err != nil || r.Name != k.SK {
					t.Errorf("%s: got %+v (%v), want the record %s", k, r, err, k.SK)
				}
			}
			for k := range got {
				if !slices.Contains(tt.want, k) {
					t.Errorf("%s: in the answer, want it absent", k)
				}
			}
		})
	}
}

func testPutConditions(t *testing.T, d ledger.Driver) {
	old := record{Name: "old", N: 3, Env: env{ID: "prod"}}
	tagged := record{Name: "tagged", N: 3, Tags: []string{"t"}, Env: env{ID: "stage"}}
	tests := []struct {
		name string
		seed *record // the item before the put; nil: none
		cond ledger.Cond
		ok   bool
	}{
		{"NotExists, absent", nil, ledger.NotExists(), true},
		{"NotExists, present", &old, ledger.NotExists(), false},
		{"Exists, absent", nil, ledger.Exists(), false},
		{"Exists, present", &old, ledger.Exists(), true},
		{"AttrAbsent, attribute absent", &old, ledger.AttrAbsent("tags"), true},
		{"AttrAbsent, attribute present", &tagged, ledger.AttrAbsent("tags"), false},
		{"AttrAbsent, item absent", nil, ledger.AttrAbsent("tags"), true},
		{"Eq number, equal", &old, ledger.Eq("n", int64(3)), true},
		{"Eq number, other", &old, ledger.Eq("n", int64(4)), false},
		{"Eq string, equal", &old, ledger.Eq("name", "old"), true},
		{"Eq string, other", &old, ledger.Eq("name", "older"), false},
		{"Eq, item absent", nil, ledger.Eq("n", int64(0)), false},
		{"Lt, less", &old, ledger.Lt("n", int64(4)), true},
		{"Lt, equal", &old, ledger.Lt("n", int64(3)), false},
		{"Lt string in byte order, less", &old, ledger.Lt("name", "older"), true},
		{"Lt string in byte order, greater", &old, ledger.Lt("name", "OLD"), false},
		{"Lt, attribute absent", &old, ledger.Lt("missing", int64(100)), false},
		{"Le, equal", &old, ledger.Le("n", int64(3)), true},
		{"Le, greater", &old, ledger.Le("n", int64(2)), false},
		{"Ge, equal", &old, ledger.Ge("n", int64(3)), true},
		{"Ge, less", &old, ledger.Ge("n", int64(4)), false},
		{"Ge, attribute absent", &old, ledger.Ge("missing", int64(-100)), false},
		{"Has, in the list", &tagged, ledger.Has("tags", "t"), true},
		{"Has, not in the list", &tagged, ledger.Has("tags", "u"), false},
		{"Has, attribute absent", &old, ledger.Has("tags", "t"), false},
		{"Has, item absent", nil, ledger.Has("tags", "t"), false},
		{"Or AttrAbsent Has, attribute absent", &old, ledger.Or(ledger.AttrAbsent("tags"), ledger.Has("tags", "t")), true},
		{"nested Eq, equal", &old, ledger.Eq("environment.id", "prod"), true},
		{"nested Eq, other", &tagged, ledger.Eq("environment.id", "prod"), false},
		{"And, both", &old, ledger.And(ledger.Exists(), ledger.Eq("name", "old")), true},
		{"And, one", &old, ledger.And(ledger.Exists(), ledger.Eq("name", "new")), false},
		{"Or NotExists, absent", nil, ledger.Or(ledger.NotExists(), ledger.Lt("n", int64(5))), true},
		{"Or NotExists, older", &old, ledger.Or(ledger.NotExists(), ledger.Lt("n", int64(5))), true},
		{"Or NotExists, newer", &old, ledger.Or(ledger.NotExists(), ledger.Lt("n", int64(2))), false},
		{"Or of And", &tagged, ledger.Or(ledger.And(ledger.Eq("n", int64(3)), ledger.AttrAbsent("tags")), ledger.Eq("environment.id", "stage")), true},
		{"And of Or", &tagged, ledger.And(ledger.Or(ledger.Eq("n", int64(1)), ledger.Eq("n", int64(2))), ledger.Exists()), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := stateKey("cond", fmt.Sprintf("c%02d", i))
			if tt.seed != nil {
				put(t, d, k, *tt.seed)
			}
			next := record{Name: "next", N: 9, Env: env{ID: "dev"}}
			err := d.Write(ctx(t), []ledger.Op{{Key: k, Put: next, If: &tt.cond}})
			if tt.ok {
				if err != nil {
					t.Fatalf("put: got %v, want it written", err)
				}
				wantStored(t, d, k, &next)
				return
			}
			wantCondFailed(t, err, 0)
			wantStored(t, d, k, tt.seed)
		})
	}
	t.Run("NotExists on the releases table", func(t *testing.T) {
		k := releaseKey("R-cond")
		first := release{ProjectID: "p", Name: "first"}
		if err := d.Write(ctx(t), []ledger.Op{{Key: k, Put: first, If: ptr(ledger.NotExists())}}); err != nil {
			t.Fatalf("first put: %v", err)
		}
		err := d.Write(ctx(t), []ledger.Op{{Key: k, Put: release{ProjectID: "p", Name: "second"}, If: ptr(ledger.NotExists())}})
		wantCondFailed(t, err, 0)
		wantStored(t, d, k, &first)
	})
	t.Run("Has on a set of strings", func(t *testing.T) {
		k := stateKey("cond", "has-set")
		add := func(v string) ledger.Op {
			return ledger.Op{Key: k, Update: []ledger.Change{{Kind: ledger.AddToSet, Attr: "set", Value: v}}}
		}
		if err := d.Write(ctx(t), []ledger.Op{add("a")}); err != nil {
			t.Fatalf("add to set: %v", err)
		}
		if err := d.Write(ctx(t), []ledger.Op{add("b")}); err != nil {
			t.Fatalf("add to set: %v", err)
		}
		if err := d.Write(ctx(t), []ledger.Op{{Key: k, Check: true, If: ptr(ledger.Has("set", "b"))}}); err != nil {
			t.Errorf("check Has of a member: got %v, want it to hold", err)
		}
		err := d.Write(ctx(t), []ledger.Op{{Key: k, Check: true, If: ptr(ledger.Has("set", "c"))}})
		wantCondFailed(t, err, 0)
	})
	t.Run("put replaces every attribute", func(t *testing.T) {
		k := stateKey("cond", "replace")
		put(t, d, k, tagged)
		put(t, d, k, old)
		wantStored(t, d, k, &old)
	})
}

func testUpdateChanges(t *testing.T, d ledger.Driver) {
	base := record{Name: "base", N: 2, Tags: []string{"a"}, History: []entry{{S: "h1", At: 1}}, Env: env{ID: "prod", Name: "Production"}}
	withSet := func(r record, s ...string) record { r.Set = s; return r }
	tests := []struct {
		name    string
		seed    *record
		changes []ledger.Change
		want    record
	}{
		{"Set a string", &base, []ledger.Change{{Kind: ledger.Set, Attr: "name", Value: "renamed"}},
			func() record { r := base; r.Name = "renamed"; return r }()},
		{"Set a map", &base, []ledger.Change{{Kind: ledger.Set, Attr: "environment", Value: env{ID: "stage"}}},
			func() record { r := base; r.Env = env{ID: "stage"}; return r }()},
		{"Add to a present counter", &base, []ledger.Change{{Kind: ledger.Add, Attr: "n", Value: int64(3)}},
			func() record { r := base; r.N = 5; return r }()},
		{"Add to an absent counter of an absent item", nil, []ledger.Change{{Kind: ledger.Add, Attr: "n", Value: int64(1)}},
			record{N: 1}},
		{"AddToSet, absent set", &base, []ledger.Change{{Kind: ledger.AddToSet, Attr: "set", Value: "prod"}},
			withSet(base, "prod")},
		{"Append, absent list", nil, []ledger.Change{{Kind: ledger.Append, Attr: "history", Value: entry{S: "h1", At: 1}}},
			record{History: []entry{{S: "h1", At: 1}}}},
		{"Append, present list", &base, []ledger.Change{{Kind: ledger.Append, Attr: "history", Value: entry{S: "h2", At: 2}}},
			func() record { r := base; r.History = []entry{{S: "h1", At: 1}, {S: "h2", At: 2}}; return r }()},
		{"Remove", &base, []ledger.Change{{Kind: ledger.Remove, Attr: "tags"}},
			func() record { r := base; r.Tags = nil; return r }()},
		{"Remove an absent attribute", &base, []ledger.Change{{Kind: ledger.Remove, Attr: "set"}}, base},
		{"every kind at once", &base, []ledger.Change{
			{Kind: ledger.Set, Attr: "name", Value: "all"},
			{Kind: ledger.Add, Attr: "n", Value: int64(-2)},
			{Kind: ledger.AddToSet, Attr: "set", Value: "stage"},
			{Kind: ledger.Append, Attr: "history", Value: entry{S: "h2", At: 2}},
			{Kind: ledger.Remove, Attr: "tags"},
		}, record{Name: "all", N: 0, Set: []string{"stage"}, History: []entry{{S: "h1", At: 1}, {S: "h2", At: 2}}, Env: base.Env}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := stateKey("update", fmt.Sprintf("u%02d", i))
			if tt.seed != nil {
				put(t, d, k, *tt.seed)
			}
			if err := d.Write(ctx(t), []ledger.Op{{Key: k, Update: tt.changes}}); err != nil {
				t.Fatalf("update: %v", err)
			}
			wantStored(t, d, k, &tt.want)
		})
	}
	t.Run("AddToSet, present set, new and repeated members", func(t *testing.T) {
		k := stateKey("update", "set")
		for _, s := range []string{"stage", "prod", "stage", "prod", "dev"} {
			if err := d.Write(ctx(t), []ledger.Op{{Key: k, Update: []ledger.Change{{Kind: ledger.AddToSet, Attr: "set", Value: s}}}}); err != nil {
				t.Fatalf("add %s: %v", s, err)
			}
		}
		got := get[record](t, d, k)
		if got == nil {
			t.Fatal("absent after updates")
		}
		sort.Strings(got.Set) // a set has no order
		if want := []string{"dev", "prod", "stage"}; !slices.Equal(got.Set, want) {
			t.Errorf("set: got %v, want %v", got.Set, want)
		}
	})
	t.Run("Add twice to a counter", func(t *testing.T) {
		k := stateKey("update", "counter")
		for range 2 {
			if err := d.Write(ctx(t), []ledger.Op{{Key: k, Update: []ledger.Change{{Kind: ledger.Add, Attr: "n", Value: int64(1)}}}}); err != nil {
				t.Fatalf("add: %v", err)
			}
		}
		wantStored(t, d, k, &record{N: 2})
	})
	t.Run("a failed condition changes nothing", func(t *testing.T) {
		k := stateKey("update", "guarded")
		put(t, d, k, base)
		err := d.Write(ctx(t), []ledger.Op{{Key: k, Update: []ledger.Change{{Kind: ledger.Set, Attr: "name", Value: "x"}, {Kind: ledger.Add, Attr: "n", Value: int64(1)}}, If: ptr(ledger.Eq("n", int64(99)))}})
		wantCondFailed(t, err, 0)
		wantStored(t, d, k, &base)
	})
	t.Run("an update of an absent item that must exist", func(t *testing.T) {
		k := stateKey("update", "absent")
		err := d.Write(ctx(t), []ledger.Op{{Key: k, Update: []ledger.Change{{Kind: ledger.Set, Attr: "name", Value: "x"}}, If: ptr(ledger.Exists())}})
		wantCondFailed(t, err, 0)
		wantStored[record](t, d, k, nil)
	})
	t.Run("an update of a release", func(t *testing.T) {
		k := releaseKey("R-upd")
		put(t, d, k, release{ProjectID: "p", Name: "r"})
		err := d.Write(ctx(t), []ledger.Op{{Key: k, Update: []ledger.Change{{Kind: ledger.Add, Attr: "n", Value: int64(1)}}, If: ptr(ledger.And(ledger.Exists(), ledger.Eq("project_id", "p")))}})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		wantStored(t, d, k, &release{ProjectID: "p", Name: "r", N: 1})
	})
}

func testDelete(t *testing.T, d ledger.Driver) {
	a := record{Name: "a", N: 1}
	tests := []struct {
		name string
		seed *record
		cond *ledger.Cond
		ok   bool
	}{
		{"present", &a, nil, true},
		{"absent", nil, nil, true},
		{"Exists, present", &a, ptr(ledger.Exists()), true},
		{"Exists, absent", nil, ptr(ledger.Exists()), false},
		{"Eq, other", &a, ptr(ledger.Eq("n", int64(2))), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := stateKey("delete", fmt.Sprintf("d%02d", i))
			if tt.seed != nil {
				put(t, d, k, *tt.seed)
			}
			err := d.Write(ctx(t), []ledger.Op{{Key: k, Delete: true, If: tt.cond}})
			if tt.ok {
				if err != nil {
					t.Fatalf("delete: %v", err)
				}
				wantStored[record](t, d, k, nil)
				return
			}
			wantCondFailed(t, err, 0)
			wantStored(t, d, k, tt.seed)
		})
	}
	t.Run("a release", func(t *testing.T) {
		k := releaseKey("R-del")
		put(t, d, k, release{ProjectID: "p", Name: "r"})
		if err := d.Write(ctx(t), []ledger.Op{{Key: k, Delete: true}}); err != nil {
			t.Fatalf("delete: %v", err)
		}
		wantStored[release](t, d, k, nil)
	})
}

func testCheck(t *testing.T, d ledger.Driver) {
	a := record{Name: "a", N: 1}
	ka := stateKey("check", "a")
	put(t, d, ka, a)
	tests := []struct {
		name string
		key  ledger.Key
		cond ledger.Cond
		ok   bool
	}{
		{"Exists, present", ka, ledger.Exists(), true},
		{"Exists, absent", stateKey("check", "b"), ledger.Exists(), false},
		{"NotExists, absent", stateKey("check", "b"), ledger.NotExists(), true},
		{"Eq, other", ka, ledger.Eq("n", int64(2)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Write(ctx(t), []ledger.Op{{Key: tt.key, Check: true, If: &tt.cond}})
			if tt.ok {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
			} else {
				wantCondFailed(t, err, 0)
			}
			wantStored(t, d, ka, &a)
			wantStored[record](t, d, stateKey("check", "b"), nil)
		})
	}
	t.Run("a check guards the ops beside it", func(t *testing.T) {
		kc := stateKey("check", "c")
		err := d.Write(ctx(t), []ledger.Op{
			{Key: kc, Put: record{Name: "c"}},
			{Key: ka, Check: true, If: ptr(ledger.Eq("n", int64(2)))},
		})
		wantCondFailed(t, err, 1)
		wantStored[record](t, d, kc, nil)
		if err := d.Write(ctx(t), []ledger.Op{
			{Key: kc, Put: record{Name: "c"}},
			{Key: ka, Check: true, If: ptr(ledger.Eq("n", int64(1)))},
		}); err != nil {
			t.Fatalf("write: %v", err)
		}
		wantStored(t, d, kc, &record{Name: "c"})
		wantStored(t, d, ka, &a)
	})
}

func testAtomicWrite(t *testing.T, d ledger.Driver) {
	b := record{Name: "b", N: 1}
	c := record{Name: "c", N: 5}
	del := record{Name: "del"}
	r := release{ProjectID: "p", Name: "r", N: 1}
	kb, kc, kdel, kr := stateKey("atomic", "b"), stateKey("atomic", "c"), stateKey("other", "del"), releaseKey("R-atomic")
	ka, knew := stateKey("atomic", "a"), releaseKey("R-new")
	put(t, d, kb, b)
	put(t, d, kc, c)
	put(t, d, kdel, del)
	put(t, d, kr, r)

	ops := func(bCond, cCond, rCond ledger.Cond) []ledger.Op {
		return []ledger.Op{
			{Key: ka, Put: record{Name: "a"}, If: ptr(ledger.NotExists())},
			{Key: kb, Put: record{Name: "b2", N: 2}, If: &bCond},
			{Key: kc, Update: []ledger.Change{{Kind: ledger.Add, Attr: "n", Value: int64(1)}, {Kind: ledger.AddToSet, Attr: "set", Value: "prod"}}, If: &cCond},
			{Key: kdel, Delete: true},
			{Key: kr, Update: []ledger.Change{{Kind: ledger.Set, Attr: "name", Value: "r2"}}, If: &rCond},
			{Key: knew, Put: release{ProjectID: "p", Name: "new"}, If: ptr(ledger.NotExists())},
		}
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		wantStored[record](t, d, ka, nil)
		wantStored(t, d, kb, &b)
		wantStored(t, d, kc, &c)
		wantStored(t, d, kdel, &del)
		wantStored(t, d, kr, &r)
		wantStored[release](t, d, knew, nil)
	}
	pass, fail := ledger.Exists(), ledger.Eq("n", int64(100))
	tests := []struct {
		name          string
		b, c, r       ledger.Cond
		wantFailedOps []int
	}{
		{"one op fails", fail, pass, pass, []int{1}},
		{"the last conditional op fails", pass, pass, ledger.Eq("name", "other"), []int{4}},
		{"two ops fail", pass, ledger.Lt("n", int64(5)), ledger.AttrAbsent("name"), []int{2, 4}},
		{"every conditional op but the first fails", ledger.NotExists(), fail, fail, []int{1, 2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := d.Write(ctx(t), ops(tt.b, tt.c, tt.r))
			wantCondFailed(t, err, tt.wantFailedOps...)
			unchanged(t)
		})
	}
	t.Run("every condition holds", func(t *testing.T) {
		if err := d.Write(ctx(t), ops(pass, ledger.Le("n", int64(5)), ledger.Eq("project_id", "p"))); err != nil {
			t.Fatalf("write: %v", err)
		}
		wantStored(t, d, ka, &record{Name: "a"})
		wantStored(t, d, kb, &record{Name: "b2", N: 2})
		wantStored(t, d, kc, &record{Name: "c", N: 6, Set: []string{"prod"}})
		wantStored[record](t, d, kdel, nil)
		wantStored(t, d, kr, &release{ProjectID: "p", Name: "r2", N: 1})
		wantStored(t, d, knew, &release{ProjectID: "p", Name: "new"})
		// The same write again: its NotExists conditions fail now.
		err := d.Write(ctx(t), ops(pass, pass, pass))
		wantCondFailed(t, err, 0, 5)
		wantStored(t, d, kc, &record{Name: "c", N: 6, Set: []string{"prod"}})
	})
}

func testMaxWriteOps(t *testing.T, d ledger.Driver) {
	limit := d.Caps().MaxWriteOps
	n := limit
	if n <= 0 {
		n = 150
	}
	keys := make([]ledger.Key, n+1)
	for i := range keys {
		keys[i] = stateKey("max", fmt.Sprintf("m%03d", i))
	}
	ops := func(keys []ledger.Key) []ledger.Op {
		out := make([]ledger.Op, len(keys))
		for i, k := range keys {
			out[i] = ledger.Op{Key: k, Put: record{Name: k.SK, N: int64(i)}, If: ptr(ledger.NotExists())}
		}
		return out
	}
	if limit > 0 {
		t.Run("more ops than MaxWriteOps", func(t *testing.T) {
			err := d.Write(ctx(t), ops(keys))
			if err == nil {
				t.Fatalf("a write of %d ops: got no error, want a refusal (MaxWriteOps %d)", len(keys), limit)
			}
			var cf *ledger.CondFailed
			if errors.As(err, &cf) {
				t.Errorf("got %v, want a refusal that is not a failed condition", err)
			}
			got, err := d.BatchGet(ctx(t), keys)
			if err != nil {
				t.Fatalf("BatchGet: %v", err)
			}
			if len(got) != 0 {
				t.Errorf("got %d items stored, want none", len(got))
			}
		})
	}
	t.Run(fmt.Sprintf("%d ops", n), func(t *testing.T) {
		if err := d.Write(ctx(t), ops(keys[:n])); err != nil {
			t.Fatalf("a write of %d ops: %v", n, err)
		}
		got, err := d.BatchGet(ctx(t), keys)
		if err != nil {
			t.Fatalf("BatchGet: %v", err)
		}
		if len(got) != n {
			t.Errorf("got %d items stored, want %d", len(got), n)
		}
		if _, ok := got[keys[n]]; ok {
			t.Errorf("%s: stored, want it absent", keys[n])
		}
		wantStored(t, d, keys[n-1], &record{Name: keys[n-1].SK, N: int64(n - 1)})
	})
}

func testQuery(t *testing.T, d ledger.Driver) {
	// Partition q: a#1..a#6 (n = i, environment prod for even i), b#1, b#2; its neighbours
	// share a prefix of its name.
	var keys []ledger.Key
	var recs []record
	for i := 1; i <= 6; i++ {
		e := "stage"
		if i%2 == 0 {
			e = "prod"
		}
		keys = append(keys, stateKey("q", fmt.Sprintf("a#%d", i)))
		recs = append(recs, record{Name: fmt.Sprintf("a%d", i), N: int64(i), Env: env{ID: e}})
	}
	for i := 1; i <= 2; i++ {
		keys = append(keys, stateKey("q", fmt.Sprintf("b#%d", i)))
		recs = append(recs, record{Name: fmt.Sprintf("b%d", i), N: int64(10 + i), Env: env{ID: "prod"}})
	}
	keys = append(keys, stateKey("qq", "a#1"), stateKey("q#", "a#1"))
	recs = append(recs, record{Name: "qq"}, record{Name: "q#"})
	// Put in an order that is not the sort order.
	perm := []int{4, 0, 9, 7, 2, 5, 1, 8, 3, 6}
	shuffled := make([]ledger.Key, len(perm))
	for j, i := range perm {
		shuffled[j] = keys[i]
	}
	putAll(t, d, shuffled, func(j int) any { return recs[perm[j]] })

	after := func(sk string) *ledger.Key { return ptr(stateKey("q", sk)) }
	tests := []struct {
		name string
		q    ledger.Query
		want []string // sort keys
	}{
		{"whole partition", ledger.Query{}, []string{"a#1", "a#2", "a#3", "a#4", "a#5", "a#6", "b#1", "b#2"}},
		{"absent partition", ledger.Query{PK: "nope"}, nil},
		{"prefix", ledger.Query{Prefix: "a#"}, []string{"a#1", "a#2", "a#3", "a#4", "a#5", "a#6"}},
		{"prefix matching nothing", ledger.Query{Prefix: "c#"}, nil},
		{"from and to, inclusive", ledger.Query{From: "a#2", To: "a#4"}, []string{"a#2", "a#3", "a#4"}},
		{"from and to between keys", ledger.Query{From: "a#6~", To: "b#1~"}, []string{"b#1"}},
		{"desc", ledger.Query{Prefix: "a#", Desc: true}, []string{"a#6", "a#5", "a#4", "a#3", "a#2", "a#1"}},
		{"desc from and to", ledger.Query{From: "a#2", To: "a#4", Desc: true}, []string{"a#4", "a#3", "a#2"}},
		{"limit", ledger.Query{Prefix: "a#", Limit: 2}, []string{"a#1", "a#2"}},
		{"limit desc", ledger.Query{Prefix: "a#", Limit: 2, Desc: true}, []string{"a#6", "a#5"}},
		{"limit above the count", ledger.Query{Prefix: "b#", Limit: 5}, []string{"b#1", "b#2"}},
		{"after", ledger.Query{Prefix: "a#", After: after("a#2")}, []string{"a#3", "a#4", "a#5", "a#6"}},
		{"after, limit", ledger.Query{Prefix: "a#", After: after("a#2"), Limit: 2}, []string{"a#3", "a#4"}},
		{"after the last", ledger.Query{Prefix: "a#", After: after("a#6")}, nil},
		{"after desc", ledger.Query{Prefix: "a#", After: after("a#4"), Desc: true}, []string{"a#3", "a#2", "a#1"}},
		{"after desc, limit", ledger.Query{Prefix: "a#", After: after("a#4"), Desc: true, Limit: 2}, []string{"a#3", "a#2"}},
		{"after, whole partition", ledger.Query{After: after("a#6"), Limit: 1}, []string{"b#1"}},
		{"filter", ledger.Query{Filter: ptr(ledger.Ge("n", int64(5)))}, []string{"a#5", "a#6", "b#1", "b#2"}},
		// The filter drops a#1..a#4: a driver that counted them against the limit would answer
		// fewer than 2.
		{"filter does not count against the limit", ledger.Query{Prefix: "a#", Filter: ptr(ledger.Ge("n", int64(4))), Limit: 2}, []string{"a#4", "a#5"}},
		{"filter desc, limit", ledger.Query{Prefix: "a#", Filter: ptr(ledger.Lt("n", int64(3))), Limit: 2, Desc: true}, []string{"a#2", "a#1"}},
		{"filter on a nested attribute", ledger.Query{Prefix: "a#", Filter: ptr(ledger.Eq("environment.id", "prod"))}, []string{"a#2", "a#4", "a#6"}},
		{"filter on a nested attribute, after, limit", ledger.Query{Prefix: "a#", Filter: ptr(ledger.Eq("environment.id", "prod")), After: after("a#2"), Limit: 1}, []string{"a#4"}},
		{"filter matching nothing, limit", ledger.Query{Filter: ptr(ledger.Eq("name", "none")), Limit: 3}, nil},
		{"filter Or", ledger.Query{Filter: ptr(ledger.Or(ledger.Eq("n", int64(1)), ledger.Eq("name", "b2")))}, []string{"a#1", "b#2"}},
		{"filter And", ledger.Query{Prefix: "a#", Filter: ptr(ledger.And(ledger.Eq("environment.id", "stage"), ledger.Le("n", int64(3))))}, []string{"a#1", "a#3"}},
		{"filter AttrAbsent", ledger.Query{Filter: ptr(ledger.AttrAbsent("tags")), Limit: 1}, []string{"a#1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Table = ledger.State
			if q.PK == "" {
				q.PK = "q"
			}
			items, err := d.Query(ctx(t), q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			var got []string
			for _, it := range items {
				if it.Key.Table != ledger.State || it.Key.PK != q.PK {
					t.Errorf("an item's key is %s, want one of %s/%s", it.Key, ledger.State, q.PK)
				}
				got = append(got, it.Key.SK)
				var r record
				if err := it.Decode(&r); err != nil {
					t.Fatalf("decode %s: %v", it.Key, err)
				}
				if want := recs[slices.Index(keys, it.Key)]; !cmp.Equal(r, want) {
					t.Errorf("%s: got %+v, want %+v", it.Key, r, want)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func testQueryIndex(t *testing.T, d ledger.Driver) {
	// Releases R01..R12 of project p1 (and some of p2, and one with no project, which the index
	// leaves out), put out of order.
	var keys []ledger.Key
	var rels []release
	for _, i := range []int{7, 3, 12, 1, 9, 5, 11, 2, 8, 4, 10, 6} {
		keys = append(keys, releaseKey(fmt.Sprintf("R%02d", i)))
		rels = append(rels, release{ProjectID: "p1", Name: fmt.Sprintf("R%02d", i), N: int64(i)})
	}
	for _, id := range []string{"R00", "R13", "R065"} {
		keys = append(keys, releaseKey(id))
		rels = append(rels, release{ProjectID: "p2", Name: id})
	}
	keys = append(keys, releaseKey("R066"))
	rels = append(rels, release{Name: "R066"})
	putAll(t, d, keys, func(i int) any { return rels[i] })

	ids := func(from, to int) []string {
		var out []string
		step := 1
		if from > to {
			step = -1
		}
		for i := from; ; i += step {
			out = append(out, fmt.Sprintf("R%02d", i))
			if i == to {
				return out
			}
		}
	}
	tests := []struct {
		name string
		q    ledger.Query
		want []string
	}{
		{"a project's releases in id order", ledger.Query{PK: "p1"}, ids(1, 12)},
		{"newest first", ledger.Query{PK: "p1", Desc: true}, ids(12, 1)},
		{"newest first, limit", ledger.Query{PK: "p1", Desc: true, Limit: 5}, ids(12, 8)},
		{"newest first, after, limit", ledger.Query{PK: "p1", Desc: true, Limit: 5, After: ptr(releaseKey("R08"))}, ids(7, 3)},
		{"after, ascending", ledger.Query{PK: "p1", After: ptr(releaseKey("R10"))}, ids(11, 12)},
		{"after the oldest, newest first", ledger.Query{PK: "p1", Desc: true, After: ptr(releaseKey("R01"))}, nil},
		{"filter, limit", ledger.Query{PK: "p1", Desc: true, Limit: 2, Filter: ptr(ledger.Le("n", int64(4)))}, ids(4, 3)},
		{"another project", ledger.Query{PK: "p2"}, []string{"R00", "R065", "R13"}},
		{"no such project", ledger.Query{PK: "p3"}, nil},
	}
	// The index may be eventually consistent (DynamoDB's global secondary indexes are): wait
	// until it lists every release written above.
	deadline := time.Now().Add(30 * time.Second)
	for {
		items, err := d.Query(ctx(t), ledger.Query{Table: ledger.Releases, Index: ledger.ReleasesIndex, PK: "p1"})
		if err != nil {
			t.Fatalf("Query the index: %v", err)
		}
		if len(items) == 12 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Table, q.Index = ledger.Releases, ledger.ReleasesIndex
			items, err := d.Query(ctx(t), q)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			var got []string
			for _, it := range items {
				if it.Key.Table != ledger.Releases || it.Key.SK != "" {
					t.Errorf("an item's key is %s, want a release's", it.Key)
				}
				got = append(got, it.Key.PK)
				var r release
				if err := it.Decode(&r); err != nil {
					t.Fatalf("decode %s: %v", it.Key, err)
				}
				if want := rels[slices.Index(keys, it.Key)]; r != want {
					t.Errorf("%s: got %+v, want %+v", it.Key, r, want)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// racers is how many writers each concurrency test starts at once.
const racers = 16

func runConcurrencyTests(t *testing.T, newDriver func(t *testing.T) ledger.Driver) {
	t.Run("NotExists", func(t *testing.T) { testRaceNotExists(t, newDriver(t), false) })
	t.Run("NotExists in a write of two ops", func(t *testing.T) { testRaceNotExists(t, newDriver(t), true) })
	t.Run("Add", func(t *testing.T) { testRaceAdd(t, newDriver(t)) })
}

// testRaceNotExists has racers writers put one key on condition that it does not exist, each
// with a record of its own, alone or (paired) beside a put of an item of its own: exactly one
// must commit, and what is stored must be the winner's alone. A writer told ErrBusy tries again,
// as a ledger does.
func testRaceNotExists(t *testing.T, d ledger.Driver, paired bool) {
	k := stateKey("race", "one")
	side := func(i int) ledger.Key { return stateKey("race", fmt.Sprintf("side%02d", i)) }
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ops := []ledger.Op{{Key: k, Put: record{Name: fmt.Sprint(i), N: int64(i)}, If: ptr(ledger.NotExists())}}
			if paired {
				ops = append(ops, ledger.Op{Key: side(i), Put: record{Name: fmt.Sprint(i)}})
			}
			for attempt := 0; ; attempt++ {
				errs[i] = d.Write(ctx(t), ops)
				if !errors.Is(errs[i], ledger.ErrBusy) || attempt == 50 {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		var cf *ledger.CondFailed
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("writers %d and %d both committed a put of %s on NotExists", winner, i, k)
			}
			winner = i
		case errors.As(err, &cf):
			if !slices.Equal(cf.Ops, []int{0}) {
				t.Errorf("writer %d: failed ops %v, want [0]", i, cf.Ops)
			}
		default:
			t.Errorf("writer %d: got %v, want success or *ledger.CondFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer committed")
	}
	wantStored(t, d, k, &record{Name: fmt.Sprint(winner), N: int64(winner)})
	if paired {
		keys := make([]ledger.Key, racers)
		for i := range keys {
			keys[i] = side(i)
		}
		got, err := d.BatchGet(ctx(t), keys)
		if err != nil {
			t.Fatalf("BatchGet: %v", err)
		}
		if _, ok := got[side(winner)]; !ok || len(got) != 1 {
			t.Errorf("side items stored: got %d (the winner's: %v), want the winner's alone", len(got), ok)
		}
	}
}

// testRaceAdd has racers writers add 1 to one counter at once: none may be lost.
func testRaceAdd(t *testing.T, d ledger.Driver) {
	k := stateKey("race", "counter")
	var wg sync.WaitGroup
	errs := make([]error, racers)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for attempt := 0; ; attempt++ {
				errs[i] = d.Write(ctx(t), []ledger.Op{{Key: k, Update: []ledger.Change{{Kind: ledger.Add, Attr: "n", Value: int64(1)}}}})
				if !errors.Is(errs[i], ledger.ErrBusy) || attempt == 50 {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	wantStored(t, d, k, &record{N: racers})
}
