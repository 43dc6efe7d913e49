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
// read first and rewritten.
func upgrade1(t *bbolt.Tx, k *kv) error {
	var im ledger.Import
	each := func(name string, fn func(k, v []byte) error) error {
		b := t.Bucket([]byte(name))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if err := fn(k, v); err != nil {
				return fmt.Errorf("%s %q: %w", name, k, err)
			}
			return nil
		})
	}
	decode := func(v []byte, out any) error { return json.Unmarshal(v, out) }
	err := each("params", func(k, v []byte) error { im.Parameter(string(k), string(v)); return nil })
	if err == nil {
		err = each("projects", func(_, v []byte) error {
			var p v1Project
			if err := decode(v, &p); err != nil {
				return err
			}
			proj := p.Project
			proj.Manifest = p.Manifest
			im.Project(proj)
			return nil
		})
	}
	if err == nil {
		err = each("pushes", func(_, v []byte) error {
			var rec shiplog.ImageRecord
			err := decode(v, &rec)
			im.Push(rec)
			return err
		})
	}
	if err == nil {
		err = each("releases", func(_, v []byte) error {
			var r shiplog.Release
			err := decode(v, &r)
			im.Release(r)
			return err
		})
	}
	indexed := map[string]bool{}
	if err == nil {
		err = each("rel_deployments", func(_, v []byte) error {
			var d shiplog.DeploymentRecord
			err := decode(v, &d)
			indexed[d.ProjectID+"\x00"+d.ID] = true
			return err
		})
	}
	if err == nil {
		err = each("deployments", func(_, v []byte) error {
			var d shiplog.DeploymentRecord
			err := decode(v, &d)
			im.Deployment(d, indexed[d.ProjectID+"\x00"+d.ID])
			return err
		})
	}
	if err == nil {
		err = each("states", func(_, v []byte) error {
			var st shiplog.EnvironmentState
			if err := decode(v, &st); err != nil {
				return err
			}
			// States written before environments were versioned.
			st.Version = max(st.Version, 1)
			im.State(st)
			return nil
		})
	}
	if err == nil {
		err = each("events", func(_, v []byte) error {
			var ev shiplog.Event
			if err := decode(v, &ev); err != nil {
				return err
			}
			return im.Event(ev)
		})
	}
	if err == nil {
		err = each("release_keys", func(_, v []byte) error {
			var rk shiplog.ReleaseKey
			err := decode(v, &rk)
			im.ReleaseKey(rk)
			return err
		})
	}
	if err != nil {
		return err
	}
	for _, name := range v1Buckets {
		if t.Bucket([]byte(name)) == nil {
			continue
		}
		if err := t.DeleteBucket([]byte(name)); err != nil {
			return err
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
