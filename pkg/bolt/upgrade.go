package bolt

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/shiplog/shiplog/pkg/ledger"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"go.etcd.io/bbolt"
)

// The buckets of schema version 1, a bucket per record kind, keys joined with NUL bytes, values
// the domain's JSON. upgrade1 reads them, writes the ledger's items, and deletes them.
var v1Buckets = []string{"params", "projects", "repos", "pushes", "releases", "release_ids", "deployments",
	"env_deployments", "rel_deployments", "states", "events", "release_keys"}

// v1Project is a project as version 1 stored it: the manifest as bytes (base64 in JSON).
type v1Project struct {
	shiplog.Project
	Manifest []byte `json:"manifest"`
}

// upgrade1 moves a version 1 file onto the ledger's layout, inside tx (Open's transaction: all of
// it or none). The old buckets that share a name with a ledger bucket ("params", "releases") are
// read before any is rewritten.
func upgrade1(t *bbolt.Tx, k *kv) error {
	var im ledger.Import
	indexed := map[string]bool{} // deployments listed for their releases
	readers := []struct {
		bucket string
		read   func(k, v []byte) error
	}{
		{"params", func(k, v []byte) error { im.Parameter(string(k), string(v)); return nil }},
		{"projects", func(_, v []byte) error {
			var p v1Project
			err := json.Unmarshal(v, &p)
			p.Project.Manifest = p.Manifest
			im.Project(p.Project)
			return err
		}},
		{"pushes", decoded(im.Push)},
		{"releases", decoded(im.Release)},
		{"rel_deployments", decoded(func(d shiplog.DeploymentRecord) { indexed[d.ProjectID+"\x00"+d.ID] = true })},
		{"deployments", decoded(func(d shiplog.DeploymentRecord) { im.Deployment(d, indexed[d.ProjectID+"\x00"+d.ID]) })},
		// States written before environments were versioned get version 1.
		{"states", decoded(func(st shiplog.EnvironmentState) { st.Version = max(st.Version, 1); im.State(st) })},
		{"events", func(_, v []byte) error {
			var ev shiplog.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			return im.Event(ev)
		}},
		{"release_keys", decoded(im.ReleaseKey)},
	}
	for _, r := range readers {
		if b := t.Bucket([]byte(r.bucket)); b != nil {
			if err := b.ForEach(func(k, v []byte) error {
				if err := r.read(k, v); err != nil {
					return fmt.Errorf("%s %q: %w", r.bucket, k, err)
				}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	for _, name := range v1Buckets {
		if t.Bucket([]byte(name)) != nil {
			if err := t.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
	}
	for _, b := range ledger.KVBuckets {
		if _, err := t.CreateBucketIfNotExists([]byte(b)); err != nil {
			return err
		}
	}
	k.in = t
	defer func() { k.in = nil }()
	return im.Write(context.Background(), ledger.NewKVDriver(k, ledger.Caps{Parameters: true}))
}

// decoded returns a reader of a version 1 value that decodes its JSON into a T for add.
func decoded[T any](add func(T)) func(k, v []byte) error {
	return func(_, v []byte) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return err
		}
		add(x)
		return nil
	}
}
