// Package memstore is shiplog's store in memory: the ledger over maps, with the parameters beside
// it, for the domain's tests and for anyone embedding shiplog in a test. Nothing is kept when the
// process ends.
package memstore

import (
	"maps"
	"slices"
	"strings"
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
	kv := &kv{data: map[string]map[string][]byte{}}
	for _, b := range ledger.KVBuckets {
		kv.data[b] = map[string][]byte{}
	}
	l := ledger.New(ledger.NewKVDriver(kv, ledger.Caps{Parameters: true}))
	return &Store{Ledger: l, Parameters: l.Parameters(), kv: kv}
}

// AtomicParameters returns the store: it holds the parameters, and writes them with an
// environment's state (wire it as shiplog.Service.Atomic).
func (s *Store) AtomicParameters() shiplog.AtomicParameters { return s.Ledger }

// WriteTransactions is how many write transactions the store has run.
func (s *Store) WriteTransactions() int64 { return s.kv.writes.Load() }

// kv is a ledger.KV of maps behind one lock: readers share it, a writer holds it alone. A write
// transaction works on copies of the buckets it changes, which replace the originals if it
// commits, and are dropped if it does not.
type kv struct {
	mu     sync.RWMutex
	data   map[string]map[string][]byte
	writes atomic.Int64
}

func (k *kv) View(fn func(ledger.KVTx) error) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return fn(tx{data: k.data})
}

func (k *kv) Update(fn func(ledger.KVTx) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.writes.Add(1)
	t := tx{data: maps.Clone(k.data), copied: map[string]bool{}}
	if err := fn(t); err != nil {
		return err
	}
	k.data = t.data
	return nil
}

type tx struct {
	data   map[string]map[string][]byte
	copied map[string]bool // buckets this write has copied
}

func (t tx) Get(b string, key []byte) []byte { return t.data[b][string(key)] }

func (t tx) bucket(b string) map[string][]byte {
	if !t.copied[b] {
		t.data[b], t.copied[b] = maps.Clone(t.data[b]), true
	}
	return t.data[b]
}

func (t tx) Put(b string, key, value []byte) error {
	t.bucket(b)[string(key)] = slices.Clone(value)
	return nil
}

func (t tx) Delete(b string, key []byte) error {
	delete(t.bucket(b), string(key))
	return nil
}

func (t tx) Scan(b string, lo, hi []byte, desc bool, fn func(k, v []byte) (bool, error)) error {
	var keys []string
	for k := range t.data[b] {
		if k >= string(lo) && (hi == nil || k < string(hi)) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, strings.Compare)
	if desc {
		slices.Reverse(keys)
	}
	for _, k := range keys {
		if more, err := fn([]byte(k), t.data[b][k]); err != nil || !more {
			return err
		}
	}
	return nil
}
