// Package bolt is shiplog's embedded store: one bbolt file (pure Go, no cgo) that implements both
// shiplog.ParameterStore and shiplog.Store, for the local stack and for tests.
//
// Every method is one bbolt transaction, so each is atomic and the store is safe for concurrent
// use; bbolt runs one writer at a time and readers alongside it. Keys join their parts with a NUL
// byte, which no id can contain, so that a prefix scan of "project\x00" sees only that project and
// byte order is id order.
package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is stored in the file, so that a later shiplog can tell which layout it holds.
const schemaVersion = "1"

// Buckets and what their keys are.
var (
	bucketMeta           = []byte("meta")            // "schema" -> schemaVersion
	bucketParams         = []byte("params")          // parameter name -> value
	bucketProjects       = []byte("projects")        // project -> projectRecord
	bucketRepos          = []byte("repos")           // repository, project, service -> ""
	bucketPushes         = []byte("pushes")          // project, service -> ImageRecord
	bucketReleases       = []byte("releases")        // project, release -> Release
	bucketReleaseIDs     = []byte("release_ids")     // release -> project (ids are unique across projects)
	bucketDeployments    = []byte("deployments")     // project, deployment -> DeploymentRecord
	bucketEnvDeployments = []byte("env_deployments") // project, environment, deployment -> DeploymentRecord
	bucketRelDeployments = []byte("rel_deployments") // project, release, deployment -> DeploymentRecord
	bucketStates         = []byte("states")          // project, environment -> EnvironmentState
	bucketEvents         = []byte("events")          // project, event -> Event
	bucketReleaseKeys    = []byte("release_keys")    // project, idempotency key -> ReleaseKey

	allBuckets = [][]byte{bucketMeta, bucketParams, bucketProjects, bucketRepos, bucketPushes, bucketReleases,
		bucketReleaseIDs, bucketDeployments, bucketEnvDeployments, bucketRelDeployments, bucketStates, bucketEvents,
		bucketReleaseKeys}
)

// Store is a shiplog.ParameterStore and shiplog.Store in one bbolt file.
type Store struct {
	db *bbolt.DB
	// writes counts the write transactions, for benchmarks.
	writes atomic.Int64
}

// update runs fn in a write transaction, counted.
func (s *Store) update(fn func(*bbolt.Tx) error) error {
	s.writes.Add(1)
	return s.db.Update(fn)
}

// WriteTransactions is how many write transactions the store has run since it was opened: each
// is one fsync of the file.
func (s *Store) WriteTransactions() int64 { return s.writes.Load() }

var (
	_ shiplog.ParameterStore   = (*Store)(nil)
	_ shiplog.Store            = (*Store)(nil)
	_ shiplog.AtomicParameters = (*Store)(nil)
)

// lockTimeout is how long Open waits for another process to let go of the file.
const lockTimeout = time.Second

// Open opens the store at path, creating the file and its directory if need be. Only one process
// can have the file open at a time. A file that is not a whole, consistent store (cut short by a
// full disk or a bad copy, or damaged) is refused with one line naming it and what to do: opening
// it would panic or, worse, start with data silently missing.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: create directory: %w", err)
	}
	if err := checkFile(path); err != nil {
		return nil, corrupt(path, err)
	}
	db, err := openDB(path)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: the file is locked by another process; is another shiplog running? (%w)", path, err)
	}
	if err != nil {
		return nil, corrupt(path, err)
	}
	if err := verify(db); err != nil {
		db.Close()
		return nil, corrupt(path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get([]byte("schema")); {
		case v == nil:
			return meta.Put([]byte("schema"), []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("the file has schema version %q; this shiplog reads version %s", v, schemaVersion)
		}
		return nil
	})
	if err == nil {
		err = db.Update(recoverStates)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// recoverStates runs when the file is opened, before anyone else can write to it: a write lock
// found there was left by a deployment that died (its process held the file), so it is released,
// leaving the services it had still to write pending for the next deploy. States written before
// environments were versioned get version 1.
func recoverStates(tx *bbolt.Tx) error {
	states := tx.Bucket(bucketStates)
	fixed := map[string]shiplog.EnvironmentState{}
	err := states.ForEach(func(k, v []byte) error {
		var st shiplog.EnvironmentState
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("decode state %q: %w", k, err)
		}
		if st.Version > 0 && st.LockedUntil == 0 {
			return nil
		}
		st.Version = max(st.Version, 1)
		if st.LockedUntil != 0 {
			st.LockedUntil = 0
			st.Version++
		}
		fixed[string(k)] = st
		return nil
	})
	if err != nil {
		return err
	}
	for k, st := range fixed { // bbolt forbids writing a bucket inside its ForEach
		if err := putJSON(states, []byte(k), st); err != nil {
			return err
		}
	}
	return nil
}

func corrupt(path string, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	return fmt.Errorf("open store %s: the file is not a whole shiplog store (%s); restore it from a backup, or move it away to start with an empty store", path, msg)
}

// openDB is bbolt.Open, with a panic (bbolt's answer to some damaged pages) returned as an error.
func openDB(path string) (db *bbolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("damaged: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
}

// bbolt's file layout, for checkFile: each of the first two pages holds a meta record after a
// 16-byte page header; a meta record is magic, version, page size, flags (4 bytes each), the root
// bucket (16), the freelist page, the high-water page id, the transaction id and an FNV-1a
// checksum of what precedes it (8 bytes each).
const (
	pageHeaderSize = 16
	metaMagic      = 0xED0CDAED
	metaVersion    = 2
	metaSumOffset  = 56
)

type metaRecord struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

// checkFile refuses, before bbolt maps the file, an existing file that is empty or shorter than
// its newest valid meta record says it is: bbolt would take an empty file for a new store, and
// fault on the pages past the end of a short one.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := info.Size()
	if size == 0 {
		return errors.New("it is empty")
	}
	m0, ok0 := readMeta(f, 0)
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	m1, ok1 := readMeta(f, pageSize)
	var m metaRecord
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return fmt.Errorf("it has no valid bbolt meta page (%d bytes)", size)
	}
	if want := int64(m.pgid) * int64(m.pageSize); size < want {
		return fmt.Errorf("it is cut short: %d bytes of %d", size, want)
	}
	return nil
}

func readMeta(f *os.File, at int64) (metaRecord, bool) {
	buf := make([]byte, metaSumOffset+8)
	if _, err := f.ReadAt(buf, at+pageHeaderSize); err != nil {
		return metaRecord{}, false
	}
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(buf[:metaSumOffset])
	if le.Uint32(buf[0:]) != metaMagic || le.Uint32(buf[4:]) != metaVersion || le.Uint64(buf[metaSumOffset:]) != h.Sum64() {
		return metaRecord{}, false
	}
	m := metaRecord{pageSize: le.Uint32(buf[8:]), pgid: le.Uint64(buf[40:]), txid: le.Uint64(buf[48:])}
	if m.pageSize < 512 || m.pageSize&(m.pageSize-1) != 0 {
		return metaRecord{}, false
	}
	return m, true
}

// verify reads every bucket and key, then runs bbolt's consistency check of the pages: a store
// that fails either is not started on.
func verify(db *bbolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("damaged: %v", r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return db.View(func(tx *bbolt.Tx) error {
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

// key joins parts with NUL bytes.
func key(parts ...string) []byte {
	return []byte(strings.Join(parts, "\x00"))
}

// prefix is key(parts...) followed by the separator: the start of every key below those parts.
func prefix(parts ...string) []byte {
	return append(key(parts...), 0)
}

func getJSON(b *bbolt.Bucket, k []byte, v any) (bool, error) {
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %q: %w", k, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

// Parameters.

// GetParameter returns a parameter's value; NotFound if there is none.
func (s *Store) GetParameter(ctx context.Context, name string) (string, error) {
	var value string
	found := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketParams).Get([]byte(name)); v != nil {
			value, found = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("get parameter %s: %w", name, err)
	}
	if !found {
		return "", shiplog.Errorf(shiplog.NotFound, "parameter %s does not exist", name)
	}
	return value, nil
}

// GetParameters returns the values of those of names that exist.
func (s *Store) GetParameters(ctx context.Context, names []string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketParams)
		for _, name := range names {
			if v := b.Get([]byte(name)); v != nil {
				out[name] = string(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get parameters: %w", err)
	}
	return out, nil
}

// GetParametersByPath returns the parameters directly under path, as SSM's non-recursive
// GetParametersByPath does; a path without its final "/" gets one, as in SSM.
func (s *Store) GetParametersByPath(ctx context.Context, path string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	p := []byte(path)
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketParams).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); {
			rest := k[len(p):]
			if i := bytes.IndexByte(rest, '/'); i >= 0 {
				// A deeper level: jump past every name under path+segment+"/" at once.
				skip := append(append([]byte{}, k[:len(p)+i]...), '/'+1)
				k, v = c.Seek(skip)
				continue
			}
			out[string(k)] = string(v)
			k, v = c.Next()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get parameters by path %s: %w", path, err)
	}
	return out, nil
}

// PutParameters sets every parameter in one transaction.
func (s *Store) PutParameters(ctx context.Context, params map[string]string) error {
	if len(params) == 0 {
		return nil
	}
	for name := range params {
		if name == "" {
			return shiplog.Errorf(shiplog.Invalid, "parameter name: is required")
		}
	}
	err := s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketParams)
		for name, v := range params {
			if err := b.Put([]byte(name), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put parameters: %w", err)
	}
	return nil
}

// Projects.

// projectRecord stores a project with its manifest as bytes, so that it round-trips exactly
// (as a json.RawMessage it would be re-compacted, and a nil one would come back as "null").
type projectRecord struct {
	shiplog.Project
	Manifest []byte `json:"manifest"`
}

func (r projectRecord) project() shiplog.Project {
	p := r.Project
	p.Manifest = r.Manifest
	return p
}

func getProject(tx *bbolt.Tx, id string) (shiplog.Project, bool, error) {
	var rec projectRecord
	ok, err := getJSON(tx.Bucket(bucketProjects), []byte(id), &rec)
	if err != nil || !ok {
		return shiplog.Project{}, false, err
	}
	return rec.project(), true, nil
}

// PutProject registers p, replacing its repository mappings with those of the new registration,
// and logs ev if that changes the registration.
func (s *Store) PutProject(ctx context.Context, p shiplog.Project, ev shiplog.Event) error {
	if p.ID == "" {
		return shiplog.Errorf(shiplog.Invalid, "project id: is required")
	}
	err := s.update(func(tx *bbolt.Tx) error {
		repos := tx.Bucket(bucketRepos)
		old, ok, err := getProject(tx, p.ID)
		if err != nil {
			return err
		}
		var was *shiplog.Project
		if ok {
			was = &old
		}
		if shiplog.RegistrationChanged(was, p) {
			if err := putEvents(tx, ev); err != nil {
				return err
			}
		}
		if ok {
			for _, r := range old.ImageRepositories {
				for _, svc := range r.Services {
					if err := repos.Delete(key(r.ID, old.ID, svc)); err != nil {
						return err
					}
				}
			}
		}
		for _, r := range p.ImageRepositories {
			for _, svc := range r.Services {
				if err := repos.Put(key(r.ID, p.ID, svc), nil); err != nil {
					return err
				}
			}
		}
		return putJSON(tx.Bucket(bucketProjects), []byte(p.ID), projectRecord{Project: p, Manifest: p.Manifest})
	})
	if err != nil {
		return fmt.Errorf("put project %s: %w", p.ID, err)
	}
	return nil
}

// GetProject returns a registered project; NotFound if there is none.
func (s *Store) GetProject(ctx context.Context, id string) (shiplog.Project, error) {
	var p shiplog.Project
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		p, found, err = getProject(tx, id)
		return err
	})
	if err != nil {
		return shiplog.Project{}, fmt.Errorf("get project %s: %w", id, err)
	}
	if !found {
		return shiplog.Project{}, shiplog.ErrProjectNotFound
	}
	return p, nil
}

// ListProjects returns every registered project, sorted by id.
func (s *Store) ListProjects(ctx context.Context) ([]shiplog.Project, error) {
	out := []shiplog.Project{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketProjects).ForEach(func(k, v []byte) error {
			var rec projectRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode project %q: %w", k, err)
			}
			out = append(out, rec.project())
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// RepositoryServices returns the services fed by a repository, sorted by project then service.
func (s *Store) RepositoryServices(ctx context.Context, repository string) ([]shiplog.ServiceRef, error) {
	out := []shiplog.ServiceRef{}
	p := prefix(repository)
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketRepos).Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			project, service, ok := strings.Cut(string(k[len(p):]), "\x00")
			if !ok {
				return fmt.Errorf("malformed repository key %q", k)
			}
			out = append(out, shiplog.ServiceRef{ProjectID: project, ServiceID: service})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("services of repository %s: %w", repository, err)
	}
	return out, nil
}

// Pushes.

// RecordPush stores rec, and logs ev, unless a newer push, or another image pushed at the same
// time, is stored; the same push again is the record, and logged once.
func (s *Store) RecordPush(ctx context.Context, rec shiplog.ImageRecord, ev shiplog.Event) (bool, error) {
	applied := false
	err := s.update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPushes)
		k := key(rec.ProjectID, rec.ServiceID)
		var cur shiplog.ImageRecord
		ok, err := getJSON(b, k, &cur)
		if err != nil {
			return err
		}
		switch {
		case ok && cur.PushedAt == rec.PushedAt && cur.URI == rec.URI:
			applied = true
			return nil
		case ok && cur.PushedAt >= rec.PushedAt:
			return nil
		}
		applied = true
		if err := putEvents(tx, ev); err != nil {
			return err
		}
		return putJSON(b, k, rec)
	})
	if err != nil {
		return false, fmt.Errorf("record push for %s/%s: %w", rec.ProjectID, rec.ServiceID, err)
	}
	return applied, nil
}

// LatestImage returns the newest push recorded for a service; NotFound if there is none.
func (s *Store) LatestImage(ctx context.Context, projectID, serviceID string) (shiplog.ImageRecord, error) {
	var rec shiplog.ImageRecord
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		found, err = getJSON(tx.Bucket(bucketPushes), key(projectID, serviceID), &rec)
		return err
	})
	if err != nil {
		return shiplog.ImageRecord{}, fmt.Errorf("latest image of %s/%s: %w", projectID, serviceID, err)
	}
	if !found {
		return shiplog.ImageRecord{}, shiplog.ErrImageNotFound
	}
	return rec, nil
}

// LatestImages returns the newest push recorded for each of the services that has one, in one
// read transaction.
func (s *Store) LatestImages(ctx context.Context, projectID string, serviceIDs []string) (map[string]shiplog.ImageRecord, error) {
	out := make(map[string]shiplog.ImageRecord, len(serviceIDs))
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPushes)
		for _, svc := range serviceIDs {
			var rec shiplog.ImageRecord
			found, err := getJSON(b, key(projectID, svc), &rec)
			if err != nil {
				return err
			}
			if found {
				out[svc] = rec
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("latest images of %s: %w", projectID, err)
	}
	return out, nil
}

// ReleaseContext reads the project and its services' newest pushes in one read transaction. A
// registration is one write transaction here, so none is ever unfinished.
func (s *Store) ReleaseContext(ctx context.Context, projectID string, serviceIDs []string, k string) (shiplog.ReleaseContext, error) {
	rc := shiplog.ReleaseContext{Pushes: make(map[string]shiplog.ImageRecord, len(serviceIDs))}
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		if rc.Project, found, err = getProject(tx, projectID); err != nil || !found {
			return err
		}
		if k != "" {
			var rk shiplog.ReleaseKey
			ok, err := getJSON(tx.Bucket(bucketReleaseKeys), key(projectID, k), &rk)
			if err != nil {
				return err
			}
			if ok {
				rc.Key = &rk
			}
		}
		b := tx.Bucket(bucketPushes)
		for _, svc := range serviceIDs {
			var rec shiplog.ImageRecord
			ok, err := getJSON(b, key(projectID, svc), &rec)
			if err != nil {
				return err
			}
			if ok {
				rc.Pushes[svc] = rec
			}
		}
		return nil
	})
	if err != nil {
		return shiplog.ReleaseContext{}, fmt.Errorf("release context of %s: %w", projectID, err)
	}
	if !found {
		return shiplog.ReleaseContext{}, shiplog.ErrProjectNotFound
	}
	return rc, nil
}

// Releases.

func getRelease(tx *bbolt.Tx, projectID, releaseID string) (shiplog.Release, bool, error) {
	var r shiplog.Release
	ok, err := getJSON(tx.Bucket(bucketReleases), key(projectID, releaseID), &r)
	if err != nil || !ok {
		return shiplog.Release{}, false, err
	}
	normalizeRelease(&r)
	return r, true, nil
}

// normalizeRelease makes a release read back list "deployments": [] rather than null.
func normalizeRelease(r *shiplog.Release) {
	if r.Deployments == nil {
		r.Deployments = []shiplog.Deployment{}
	}
}

// CreateRelease stores a new release and logs its event, and records its idempotency key if it has
// one; Conflict if its id exists, in any project; ErrReleaseKeyExists if the project has the key
// recorded and not expired. Recording a key drops the project's expired ones.
func (s *Store) CreateRelease(ctx context.Context, w shiplog.ReleaseWrite) error {
	r := w.Release
	if r.ID == "" || r.ProjectID == "" {
		return shiplog.Errorf(shiplog.Invalid, "release: release_id and project_id are required")
	}
	if w.Key != nil && (w.Key.Key == "" || w.Key.ProjectID != r.ProjectID || w.Key.ReleaseID != r.ID) {
		return shiplog.Errorf(shiplog.Invalid, "release %s: its idempotency key needs a key, and the release's project and id", r.ID)
	}
	normalizeRelease(&r)
	var refused error
	err := s.update(func(tx *bbolt.Tx) error {
		ids := tx.Bucket(bucketReleaseIDs)
		if ids.Get([]byte(r.ID)) != nil {
			refused = shiplog.Errorf(shiplog.Conflict, "release %s already exists", r.ID)
			return nil
		}
		if w.Key != nil {
			live, err := recordReleaseKey(tx, *w.Key)
			if err != nil || live {
				refused = shiplog.ErrReleaseKeyExists
				return err
			}
		}
		if err := ids.Put([]byte(r.ID), []byte(r.ProjectID)); err != nil {
			return err
		}
		if err := putEvents(tx, w.Event); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketReleases), key(r.ProjectID, r.ID), r)
	})
	if err != nil {
		return fmt.Errorf("create release %s: %w", r.ID, err)
	}
	return refused
}

// recordReleaseKey puts k unless the project has a live record of its key (live is then true,
// and nothing is written), and deletes the project's expired keys. A key recorded at or before
// k.At-KeyTTL is expired.
func recordReleaseKey(tx *bbolt.Tx, k shiplog.ReleaseKey) (live bool, err error) {
	b := tx.Bucket(bucketReleaseKeys)
	var expired [][]byte
	p := prefix(k.ProjectID)
	c := b.Cursor()
	for ck, v := c.Seek(p); ck != nil && bytes.HasPrefix(ck, p); ck, v = c.Next() {
		var old shiplog.ReleaseKey
		if err := json.Unmarshal(v, &old); err != nil {
			return false, fmt.Errorf("decode idempotency key %q: %w", ck, err)
		}
		switch {
		case old.ExpiresAt() <= k.At:
			expired = append(expired, slices.Clone(ck))
		case old.Key == k.Key:
			return true, nil
		}
	}
	for _, ek := range expired { // bbolt forbids writing a bucket while its cursor walks it
		if err := b.Delete(ek); err != nil {
			return false, err
		}
	}
	return false, putJSON(b, key(k.ProjectID, k.Key), k)
}

// GetReleaseKey returns a project's idempotency key as recorded; ErrReleaseKeyNotFound if none.
func (s *Store) GetReleaseKey(ctx context.Context, projectID, k string) (shiplog.ReleaseKey, error) {
	var rk shiplog.ReleaseKey
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		found, err = getJSON(tx.Bucket(bucketReleaseKeys), key(projectID, k), &rk)
		return err
	})
	if err != nil {
		return shiplog.ReleaseKey{}, fmt.Errorf("get idempotency key %q of %s: %w", k, projectID, err)
	}
	if !found {
		return shiplog.ReleaseKey{}, shiplog.ErrReleaseKeyNotFound
	}
	return rk, nil
}

// GetRelease returns a project's release; NotFound if the project has no release with that id.
func (s *Store) GetRelease(ctx context.Context, projectID, releaseID string) (shiplog.Release, error) {
	var r shiplog.Release
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		r, found, err = getRelease(tx, projectID, releaseID)
		return err
	})
	if err != nil {
		return shiplog.Release{}, fmt.Errorf("get release %s: %w", releaseID, err)
	}
	if !found {
		return shiplog.Release{}, shiplog.ErrReleaseNotFound
	}
	return r, nil
}

// ListReleases returns a project's releases, newest (highest id) first.
func (s *Store) ListReleases(ctx context.Context, projectID string, page shiplog.PageRequest) (shiplog.Page[shiplog.Release], error) {
	out, err := listNewest(s.db, bucketReleases, prefix(projectID), nil, page, func(r *shiplog.Release) { normalizeRelease(r) }, nil)
	if err != nil {
		return out, fmt.Errorf("list releases of %s: %w", projectID, err)
	}
	return out, nil
}

// LatestRelease returns the project's release with the greatest id.
func (s *Store) LatestRelease(ctx context.Context, projectID string) (shiplog.Release, error) {
	var r shiplog.Release
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		r, found, err = latestRelease(tx, projectID)
		return err
	})
	if err != nil {
		return shiplog.Release{}, fmt.Errorf("latest release of %s: %w", projectID, err)
	}
	if !found {
		return shiplog.Release{}, shiplog.ErrReleaseNotFound
	}
	return r, nil
}

// latestRelease reads the project's release with the greatest id: the last key under the
// project's prefix.
func latestRelease(tx *bbolt.Tx, projectID string) (shiplog.Release, bool, error) {
	p := prefix(projectID)
	// Every key under p sorts before p+0xff: ids never contain that byte.
	k, v := seekBefore(tx.Bucket(bucketReleases).Cursor(), append(append([]byte{}, p...), 0xff))
	if k == nil || !bytes.HasPrefix(k, p) {
		return shiplog.Release{}, false, nil
	}
	var r shiplog.Release
	if err := json.Unmarshal(v, &r); err != nil {
		return shiplog.Release{}, false, fmt.Errorf("decode %q: %w", k, err)
	}
	normalizeRelease(&r)
	return r, true, nil
}

// Deployments.

// DeployContext reads the project, the release and the environment's state in one transaction;
// "latest" is the newest release as of that transaction.
func (s *Store) DeployContext(ctx context.Context, projectID, releaseID, environmentID string) (shiplog.DeployContext, error) {
	var dc shiplog.DeployContext
	var missing error
	err := s.db.View(func(tx *bbolt.Tx) error {
		p, ok, err := getProject(tx, projectID)
		if err != nil {
			return err
		}
		if !ok {
			missing = shiplog.ErrProjectNotFound
			return nil
		}
		var r shiplog.Release
		if releaseID == shiplog.LatestRelease {
			r, ok, err = latestRelease(tx, projectID)
		} else {
			r, ok, err = getRelease(tx, projectID, releaseID)
		}
		if err != nil {
			return err
		}
		if !ok {
			missing = shiplog.ErrReleaseNotFound
			return nil
		}
		var st shiplog.EnvironmentState
		ok, err = getJSON(tx.Bucket(bucketStates), key(projectID, environmentID), &st)
		if err != nil {
			return err
		}
		dc = shiplog.DeployContext{Project: p, Release: r}
		if ok {
			dc.Current = &st
		}
		return nil
	})
	if err != nil {
		return shiplog.DeployContext{}, fmt.Errorf("deploy context of %s/%s: %w", projectID, releaseID, err)
	}
	if missing != nil {
		return shiplog.DeployContext{}, missing
	}
	return dc, nil
}

// WriteEnvironment replaces an environment's state in one transaction, with the deployment it
// records if there is one (its three listing entries, and the release's last_date_deployed and
// deployment_count), the status updates it carries and its events.
func (s *Store) WriteEnvironment(ctx context.Context, w shiplog.EnvironmentWrite) error {
	return s.writeEnvironment(w, nil)
}

// WriteEnvironmentAndParameters is WriteEnvironment that also sets params, in the same
// transaction: a deploy on the embedded store is one write.
func (s *Store) WriteEnvironmentAndParameters(ctx context.Context, w shiplog.EnvironmentWrite, params map[string]string) error {
	for name := range params {
		if name == "" {
			return shiplog.Errorf(shiplog.Invalid, "parameter name: is required")
		}
	}
	return s.writeEnvironment(w, params)
}

func (s *Store) writeEnvironment(w shiplog.EnvironmentWrite, params map[string]string) error {
	projectID, envID := w.State.ProjectID, w.State.Environment.ID
	if projectID == "" || envID == "" || w.State.Version != w.Expect+1 {
		return shiplog.Errorf(shiplog.Invalid, "environment write: project and environment ids are required, and the version must follow %d", w.Expect)
	}
	var refused error
	err := s.update(func(tx *bbolt.Tx) error {
		states := tx.Bucket(bucketStates)
		var cur shiplog.EnvironmentState
		if _, err := getJSON(states, key(projectID, envID), &cur); err != nil {
			return err
		}
		if cur.Version != w.Expect {
			refused = shiplog.ErrVersionConflict
			return nil
		}
		if w.Deployment != nil {
			var err error
			if refused, err = recordDeployment(tx, *w.Deployment); refused != nil || err != nil {
				return err
			}
		}
		for _, u := range w.Statuses {
			var err error
			if refused, err = updateStatus(tx, u); err != nil {
				return err
			}
			if refused != nil {
				return errRollback
			}
		}
		if err := putEvents(tx, w.Events...); err != nil {
			return err
		}
		b := tx.Bucket(bucketParams)
		for name, v := range params {
			if err := b.Put([]byte(name), []byte(v)); err != nil {
				return err
			}
		}
		return putJSON(states, key(projectID, envID), w.State)
	})
	if errors.Is(err, errRollback) && refused != nil {
		return refused
	}
	if err != nil {
		return fmt.Errorf("write environment %s/%s: %w", projectID, envID, err)
	}
	return refused
}

// errRollback makes bbolt roll back a transaction that has written part of what a store refused.
var errRollback = errors.New("rolled back")

// recordDeployment lists a deployment for its project, environment and release, and counts it in
// the release, inside tx. It returns the store's refusal, having written nothing, or the error
// that must roll tx back.
func recordDeployment(tx *bbolt.Tx, rec shiplog.DeploymentRecord) (refused, err error) {
	projectID, depID := rec.ProjectID, rec.ID
	r, ok, err := getRelease(tx, projectID, rec.ReleaseID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return shiplog.ErrReleaseNotFound, nil
	}
	deployments := tx.Bucket(bucketDeployments)
	if deployments.Get(key(projectID, depID)) != nil {
		return shiplog.ErrDeploymentExists, nil
	}
	r.LastDateDeployed = rec.CreatedAt
	r.DeploymentCount++
	if err := putJSON(tx.Bucket(bucketReleases), key(projectID, r.ID), r); err != nil {
		return nil, err
	}
	return nil, putDeployment(tx, rec, true)
}

// putDeployment writes a deployment's listing entries: for its project and its environment, and,
// if indexed, for its release.
func putDeployment(tx *bbolt.Tx, rec shiplog.DeploymentRecord, indexed bool) error {
	projectID, depID := rec.ProjectID, rec.ID
	if err := putJSON(tx.Bucket(bucketDeployments), key(projectID, depID), rec); err != nil {
		return err
	}
	if err := putJSON(tx.Bucket(bucketEnvDeployments), key(projectID, rec.Environment.ID, depID), rec); err != nil {
		return err
	}
	if !indexed {
		return nil
	}
	return putJSON(tx.Bucket(bucketRelDeployments), key(projectID, rec.ReleaseID, depID), rec)
}

// updateStatus applies one status update inside tx: the deployment's status and history in
// each of its entries, and, when verified, its environment in the release's verified_in.
func updateStatus(tx *bbolt.Tx, u shiplog.StatusUpdate) (refused, err error) {
	var rec shiplog.DeploymentRecord
	ok, err := getJSON(tx.Bucket(bucketDeployments), key(u.ProjectID, u.DeploymentID), &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return shiplog.ErrDeploymentNotFound, nil
	}
	rec.Status = u.Entry.Status
	rec.StatusHistory = append(rec.StatusHistory, u.Entry)
	if err := putDeployment(tx, rec, !u.Unindexed); err != nil {
		return nil, err
	}
	if u.Entry.Status != shiplog.StatusVerified {
		return nil, nil
	}
	r, ok, err := getRelease(tx, u.ProjectID, rec.ReleaseID)
	if err != nil || !ok || slices.Contains(r.VerifiedIn, rec.Environment.ID) {
		return nil, err // a release deleted meanwhile has no gates to pass
	}
	r.VerifiedIn = append(r.VerifiedIn, rec.Environment.ID)
	return nil, putJSON(tx.Bucket(bucketReleases), key(u.ProjectID, r.ID), r)
}

// GetDeployment returns one of a project's deployments.
func (s *Store) GetDeployment(ctx context.Context, projectID, deploymentID string) (shiplog.DeploymentRecord, error) {
	var rec shiplog.DeploymentRecord
	var found bool
	err := s.db.View(func(tx *bbolt.Tx) (err error) {
		found, err = getJSON(tx.Bucket(bucketDeployments), key(projectID, deploymentID), &rec)
		return err
	})
	if err != nil {
		return shiplog.DeploymentRecord{}, fmt.Errorf("get deployment %s: %w", deploymentID, err)
	}
	if !found {
		return shiplog.DeploymentRecord{}, shiplog.ErrDeploymentNotFound
	}
	return rec, nil
}

// ListDeployments returns a project's deployments newest (highest id) first, narrowed by the
// filter: one environment's listing, one release's, or the release's filtered to an environment.
func (s *Store) ListDeployments(ctx context.Context, projectID string, f shiplog.DeploymentFilter, page shiplog.PageRequest) (shiplog.Page[shiplog.DeploymentRecord], error) {
	bucket, p := bucketDeployments, prefix(projectID)
	var keep func(*shiplog.DeploymentRecord) bool
	switch {
	case f.Release != "":
		bucket, p = bucketRelDeployments, prefix(projectID, f.Release)
		if f.Environment != "" {
			keep = func(d *shiplog.DeploymentRecord) bool { return d.Environment.ID == f.Environment }
		}
	case f.Environment != "":
		bucket, p = bucketEnvDeployments, prefix(projectID, f.Environment)
	}
	out, err := listNewest(s.db, bucket, p, nil, page, nil, keep)
	if err != nil {
		return out, fmt.Errorf("list deployments of %s: %w", projectID, err)
	}
	return out, nil
}

// EnvironmentStates returns the state of each environment ever deployed to, sorted by id.
func (s *Store) EnvironmentStates(ctx context.Context, projectID string) ([]shiplog.EnvironmentState, error) {
	out := []shiplog.EnvironmentState{}
	p := prefix(projectID)
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketStates).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			var st shiplog.EnvironmentState
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("decode state %q: %w", k, err)
			}
			out = append(out, st)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("environment states of %s: %w", projectID, err)
	}
	return out, nil
}

// Events.

// putEvents appends events to their projects' logs inside tx.
func putEvents(tx *bbolt.Tx, evs ...shiplog.Event) error {
	b := tx.Bucket(bucketEvents)
	for _, ev := range evs {
		if ev.ID == "" || ev.ProjectID == "" {
			return fmt.Errorf("event %q of project %q: an event needs an id and a project", ev.ID, ev.ProjectID)
		}
		if err := putJSON(b, key(ev.ProjectID, ev.ID), ev); err != nil {
			return err
		}
	}
	return nil
}

// ListEvents returns a project's events newest (highest id) first, narrowed by the filter; a
// since stops the walk at its EventIDFloor.
func (s *Store) ListEvents(ctx context.Context, projectID string, f shiplog.EventFilter, page shiplog.PageRequest) (shiplog.Page[shiplog.Event], error) {
	p := prefix(projectID)
	var floor []byte
	if id := shiplog.EventIDFloor(f.Since); id != "" {
		floor = append(append([]byte{}, p...), id...)
	}
	var keep func(*shiplog.Event) bool
	if f != (shiplog.EventFilter{}) {
		keep = func(ev *shiplog.Event) bool { return f.Keep(*ev) }
	}
	out, err := listNewest(s.db, bucketEvents, p, floor, page, nil, keep)
	if err != nil {
		return out, fmt.Errorf("list events of %s: %w", projectID, err)
	}
	return out, nil
}

// Pagination.

// listNewest returns one page of the values under prefix p, in descending key order, down to
// floor (nil: the first key under p). The cursor is the base64url of the last key returned; it
// must lie under p, so a cursor of another list is refused rather than silently misread.
func listNewest[T any](db *bbolt.DB, bucket, p, floor []byte, page shiplog.PageRequest, fix func(*T), keep func(*T) bool) (shiplog.Page[T], error) {
	limit := page.Limit
	switch {
	case limit <= 0:
		limit = shiplog.DefaultPageLimit
	case limit > shiplog.MaxPageLimit:
		limit = shiplog.MaxPageLimit
	}
	// Every key under p sorts before p+0xff: ids never contain that byte.
	start := append(append([]byte{}, p...), 0xff)
	if page.Cursor != "" {
		k, err := decodeCursor(page.Cursor, p)
		if err != nil {
			return shiplog.Page[T]{}, err
		}
		start = k
	}
	out := shiplog.Page[T]{Items: []T{}}
	err := db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		var last []byte
		for k, v := seekBefore(c, start); k != nil && bytes.HasPrefix(k, p) && bytes.Compare(k, floor) >= 0; k, v = c.Prev() {
			var item T
			if err := json.Unmarshal(v, &item); err != nil {
				return fmt.Errorf("decode %s %q: %w", bucket, k, err)
			}
			if fix != nil {
				fix(&item)
			}
			if keep != nil && !keep(&item) {
				continue
			}
			// A next page exists only if another item is kept: the last page has no cursor.
			if len(out.Items) == limit {
				out.NextCursor = base64.RawURLEncoding.EncodeToString(last)
				break
			}
			last = k
			out.Items = append(out.Items, item)
		}
		return nil
	})
	if err != nil {
		return shiplog.Page[T]{}, err
	}
	return out, nil
}

// seekBefore moves c to the last key strictly before k.
func seekBefore(c *bbolt.Cursor, k []byte) ([]byte, []byte) {
	if found, _ := c.Seek(k); found == nil {
		return c.Last()
	}
	return c.Prev()
}

func decodeCursor(cursor string, p []byte) ([]byte, error) {
	k, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !bytes.HasPrefix(k, p) || len(k) == len(p) || bytes.IndexByte(k[len(p):], 0) >= 0 {
		return nil, shiplog.Errorf(shiplog.Invalid, "cursor: is not a cursor this service returned")
	}
	return k, nil
}
