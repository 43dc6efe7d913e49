// Package memstore is shiplog's store in memory: the ledger over a sorted map, with the
// parameters beside it, for the domain's tests and for anyone embedding shiplog in a test. Nothing
// is kept when the process ends.
package memstore

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Store is a shiplog.Store and shiplog.ParameterStore in memory, which writes an environment's
// state and its parameters in one atomic write (AtomicParameters).
type Store struct {
	*ledger.Ledger
	ledger.Parameters
	kv *kv
}

// New returns an empty store.
func New() *Store {
	kv := &kv{buckets: map[string]*bucket{}}
	for _, b := range ledger.KVBuckets {
		kv.buckets[b] = &bucket{vals: map[string][]byte{}}
	}
	l := ledger.New(ledger.NewKVDriver(kv, ledger.Caps{Parameters: true}))
	return &Store{Ledger: l, Parameters: l.Parameters(), kv: kv}
}

// AtomicParameters returns the store: it holds the parameters, and writes them with an
// environment's state (wire it as shiplog.Service.Atomic).
func (s *Store) AtomicParameters() shiplog.AtomicParameters { return s.Ledger }

// WriteTransactions is how many write transactions the store has run.
func (s *Store) WriteTransactions() int64 { return s.kv.writes.Load() }

// kv is a ledger.KV in memory: one writer at a time, readers beside it.
type kv struct {
	mu      sync.RWMutex
	buckets map[string]*bucket
	writes  atomic.Int64
}

type bucket struct {
	keys []string // sorted
	vals map[string][]byte
}

func (k *kv) View(fn func(ledger.KVTx) error) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return fn(&tx{kv: k})
}

func (k *kv) Update(fn func(ledger.KVTx) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.writes.Add(1)
	t := &tx{kv: k, write: true}
	if err := fn(t); err != nil {
		t.rollback()
		return err
	}
	return nil
}

// tx keeps, in a write transaction, what each key held before, to undo it.
type tx struct {
	kv    *kv
	write bool
	undo  []undo
}

type undo struct {
	bucket, key string
	val         []byte
	had         bool
}

func (t *tx) Get(b string, key []byte) []byte { return t.kv.buckets[b].vals[string(key)] }

func (t *tx) Put(b string, key, value []byte) error {
	bk := t.kv.buckets[b]
	k := string(key)
	old, had := bk.vals[k]
	t.undo = append(t.undo, undo{b, k, old, had})
	if !had {
		i, _ := slices.BinarySearch(bk.keys, k)
		bk.keys = slices.Insert(bk.keys, i, k)
	}
	bk.vals[k] = bytes.Clone(value)
	return nil
}

func (t *tx) Delete(b string, key []byte) error {
	bk := t.kv.buckets[b]
	k := string(key)
	old, had := bk.vals[k]
	if !had {
		return nil
	}
	t.undo = append(t.undo, undo{b, k, old, had})
	i, _ := slices.BinarySearch(bk.keys, k)
	bk.keys = slices.Delete(bk.keys, i, i+1)
	delete(bk.vals, k)
	return nil
}

func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		bk := t.kv.buckets[u.bucket]
		_, has := bk.vals[u.key]
		switch {
		case u.had:
			if !has {
				j, _ := slices.BinarySearch(bk.keys, u.key)
				bk.keys = slices.Insert(bk.keys, j, u.key)
			}
			bk.vals[u.key] = u.val
		case has:
			j, _ := slices.BinarySearch(bk.keys, u.key)
			bk.keys = slices.Delete(bk.keys, j, j+1)
			delete(bk.vals, u.key)
		}
	}
}

func (t *tx) Scan(b string, lo, hi []byte, desc bool, fn func(k, v []byte) (bool, error)) error {
	bk := t.kv.buckets[b]
	start := sort.SearchStrings(bk.keys, string(lo))
	end := len(bk.keys)
	if hi != nil {
		end = sort.SearchStrings(bk.keys, string(hi))
	}
	if start >= end {
		return nil
	}
	keys := slices.Clone(bk.keys[start:end]) // fn may not write, but the slice must not move under it
	if desc {
		slices.Reverse(keys)
	}
	for _, k := range keys {
		more, err := fn([]byte(k), bk.vals[k])
		if err != nil || !more {
			return err
		}
	}
	return nil
}
