// Package bolt is shiplog's embedded store: the ledger (pkg/ledger) over one bbolt file (pure Go,
// no cgo), which holds the parameters too, for the local stack and for tests.
//
// Each driver operation is one bbolt transaction, so each is atomic and the store is safe for
// concurrent use; bbolt runs one writer at a time and readers alongside it. A deploy writes its
// record, its parameters and its settled state in one write transaction (AtomicParameters).
//
// The file's layout has a version (the meta bucket's "schema"). Version 2 is the ledger's: a
// bucket per table (ledger.KVBuckets), items as JSON documents. A file of version 1 (a bucket per
// record kind, written by shiplog before the ledger) is upgraded in place, in one transaction,
// when it is opened.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is the layout this package writes; it reads version 1 by upgrading it.
const schemaVersion = "2"

var bucketMeta = []byte("meta") // "schema" -> the layout's version

// Store is a shiplog.Store and shiplog.ParameterStore in one bbolt file.
type Store struct {
	*ledger.Ledger
	ledger.Parameters
	db *bbolt.DB
	kv *kv
}

var (
	_ shiplog.ParameterStore = (*Store)(nil)
	_ shiplog.Store          = (*Store)(nil)
)

// AtomicParameters returns the store's write of an environment's state with its parameters
// (wire it as shiplog.Service.Atomic).
func (s *Store) AtomicParameters() shiplog.AtomicParameters { return s.Ledger }

// WriteTransactions is how many write transactions the store has run since it was opened: each
// is one fsync of the file.
func (s *Store) WriteTransactions() int64 { return s.kv.writes.Load() }

// lockTimeout is how long Open waits for another process to let go of the file.
const lockTimeout = time.Second

// Open opens the store at path, creating the file and its directory if need be, and upgrading a
// file of an earlier layout. Only one process can have the file open at a time. A file that is
// not a whole, consistent store (cut short by a full disk or a bad copy, or damaged) is refused
// with one line naming it and what to do: opening it would panic or, worse, start with data
// silently missing. A path that is a directory, a file or directory shiplog may not write, and a
// full disk are said as such: the file is not damaged, and restoring it would not help.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, openFault(path, fmt.Errorf("create its directory: %w", err))
	}
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return nil, openFault(path, &os.PathError{Op: "open", Path: path, Err: syscall.EISDIR})
	} else if err == nil && info.Size() == 0 {
		// bbolt would take an empty file for a new store.
		return nil, corrupt(path, errors.New("it is empty"))
	}
	if _, err := os.Stat(path); err == nil {
		// An existing file is checked read-only first: bbolt then maps its meta pages alone (no
		// freelist), so a file cut short or damaged is refused by verify, and closed, where a
		// read-write open could fault half-way and keep the file's lock.
		db, err := openDB(path, true)
		if err != nil {
			return nil, openError(path, err)
		}
		err = verify(db)
		db.Close()
		if err != nil {
			return nil, corrupt(path, err)
		}
	}
	db, err := openDB(path, false)
	if err != nil {
		return nil, openError(path, err)
	}
	k := &kv{db: db}
	if err := db.Update(func(tx *bbolt.Tx) error { return prepare(tx, k) }); err != nil {
		db.Close()
		if fault(err) != "" {
			return nil, openFault(path, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	l := ledger.New(ledger.NewKVDriver(k, ledger.Caps{Parameters: true}))
	s := &Store{Ledger: l, Parameters: l.Parameters(), db: db, kv: k}
	if err := s.recoverStates(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// prepare makes a new file's buckets, or upgrades a file of version 1, inside tx.
func prepare(tx *bbolt.Tx, k *kv) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	version := string(meta.Get([]byte("schema")))
	switch version {
	case schemaVersion:
		return nil
	case "":
		if tx.Bucket([]byte("projects")) != nil {
			version = "1" // written before the file had a version, as version 1 was
		}
	case "1":
	default:
		return fmt.Errorf("the file has schema version %q; this shiplog reads versions 1 and %s", version, schemaVersion)
	}
	for _, b := range ledger.KVBuckets {
		if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
			return err
		}
	}
	if version == "1" {
		if err := upgrade1(tx, k); err != nil {
			return fmt.Errorf("upgrade the file from schema version 1: %w", err)
		}
	}
	return meta.Put([]byte("schema"), []byte(schemaVersion))
}

// recoverStates runs when the file is opened, before anyone else can write to it: a write lock
// found there was left by a deployment that died (its process held the file), so it is released,
// as the state's next version, leaving the services it had still to write pending for the next
// deploy.
func (s *Store) recoverStates(ctx context.Context) error {
	projects, err := s.ListProjects(ctx)
	if err != nil {
		return err
	}
	for _, p := range projects {
		states, err := s.EnvironmentStates(ctx, p.ID)
		if err != nil {
			return err
		}
		for _, st := range states {
			if st.LockedUntil == 0 {
				continue
			}
			next := st
			next.LockedUntil = 0
			if err := s.WriteEnvironment(ctx, st.Next(next)); err != nil {
				return fmt.Errorf("release the write lock of %s/%s: %w", st.ProjectID, st.Environment.ID, err)
			}
		}
	}
	return nil
}

// fault says what an error of the file system means to whoever runs shiplog, or "" if err is not
// one of those faults: none of them is damage to the file.
func fault(err error) string {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return "the disk is full"
	case errors.Is(err, syscall.EROFS):
		return "the file system is read-only"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied"
	case errors.Is(err, syscall.EISDIR):
		return "it is a directory"
	}
	return ""
}

// openFault says why Open could not open the file at path: a fault of the file system (fault)
// with what to do about it, or else a file that is not a whole store.
func openFault(path string, err error) error {
	why := fault(err)
	switch why {
	case "":
		return corrupt(path, err)
	case "it is a directory":
		return fmt.Errorf("open store %s: it is a directory; give the path of the store's file in it, such as %s (%w)", path, filepath.Join(path, "shiplog.db"), err)
	case "the disk is full":
		return fmt.Errorf("open store %s: the disk is full; free some space on it and start again (%w)", path, err)
	}
	return fmt.Errorf("open store %s: %s: shiplog must be able to read and write the file, and to create files in its directory; give it a path it may write (%w)", path, why, err)
}

// writeFault turns a fault of the file system under a write into Unavailable, saying which: the
// request was fine, and will succeed once someone frees space or lets shiplog write the file.
// Any other error, the domain's included, is left as it is.
func writeFault(err error) error {
	var domain *shiplog.Error
	if err == nil || errors.As(err, &domain) {
		return err
	}
	if why := fault(err); why != "" {
		return shiplog.Wrap(shiplog.Unavailable, err, "the store cannot write its file: %s", why)
	}
	return err
}

func corrupt(path string, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	return fmt.Errorf("open store %s: the file is not a whole shiplog store (%s); restore it from a backup, or move it away to start with an empty store", path, msg)
}

// openDB is bbolt.Open, with a panic or a fault (bbolt's answer to some damaged or cut pages)
// returned as an error.
func openDB(path string, readOnly bool) (db *bbolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("damaged: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout, ReadOnly: readOnly})
}

// openError says why bbolt could not open the file: another process holds it, or a fault of the
// file system (openFault), or damage.
func openError(path string, err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("open store %s: the file is locked by another process; is another shiplog running? (%w)", path, err)
	}
	return openFault(path, err)
}

// verify reads every bucket and key, then runs bbolt's consistency check of the pages, with a
// fault (a page past the end of a file cut short) returned as an error: a store that fails either
// is not started on.
func verify(db *bbolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return db.View(func(tx *bbolt.Tx) error {
		if want := tx.Size(); want > 0 {
			if info, err := os.Stat(db.Path()); err == nil && info.Size() < want {
				return fmt.Errorf("it is cut short: %d bytes of %d", info.Size(), want)
			}
		}
		err := tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error { return nil })
		})
		if err != nil {
			return err
		}
		var problems []string
		for err := range tx.Check() {
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("its consistency check failed: %s", strings.Join(problems[:min(len(problems), 3)], "; "))
		}
		return nil
	})
}

// Close releases the file. The store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// kv is the ledger's KV on the file: a bucket per ledger bucket. Inside prepare, it runs on
// prepare's own transaction (in), so that an upgrade is one transaction.
type kv struct {
	db     *bbolt.DB
	in     *bbolt.Tx
	writes atomic.Int64
}

func (k *kv) View(fn func(ledger.KVTx) error) error {
	if k.in != nil {
		return fn(tx{k.in})
	}
	return k.db.View(func(t *bbolt.Tx) error { return fn(tx{t}) })
}

func (k *kv) Update(fn func(ledger.KVTx) error) error {
	if k.in != nil {
		return fn(tx{k.in})
	}
	k.writes.Add(1)
	return writeFault(k.db.Update(func(t *bbolt.Tx) error { return fn(tx{t}) }))
}

// tx is a transaction of the file, whose buckets prepare made.
type tx struct{ t *bbolt.Tx }

func (t tx) b(name string) *bbolt.Bucket { return t.t.Bucket([]byte(name)) }

func (t tx) Get(bucket string, key []byte) []byte { return t.b(bucket).Get(key) }

func (t tx) Delete(bucket string, key []byte) error { return t.b(bucket).Delete(key) }

func (t tx) Put(bucket string, key, value []byte) error {
	if value == nil {
		value = []byte{} // bbolt refuses nil
	}
	return t.b(bucket).Put(key, value)
}

func (t tx) Scan(bucket string, lo, hi []byte, desc bool, fn func(k, v []byte) (bool, error)) error {
	c := t.b(bucket).Cursor()
	var k, v []byte
	if desc {
		if hi == nil {
			k, v = c.Last()
		} else if k, v = c.Seek(hi); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.Compare(k, lo) >= 0; k, v = c.Prev() {
			if more, err := fn(k, v); err != nil || !more {
				return err
			}
		}
		return nil
	}
	for k, v = c.Seek(lo); k != nil && (hi == nil || bytes.Compare(k, hi) < 0); k, v = c.Next() {
		if more, err := fn(k, v); err != nil || !more {
			return err
		}
	}
	return nil
}
