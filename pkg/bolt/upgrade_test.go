package bolt_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// TestUpgradeFromSchema1 opens a copy of a file that the embedded store of commit a468552 wrote
// (schema version 1, testdata/gen_schema1.go) and checks that every read answers what that store
// answered, that the parameters are there, and that the upgraded store takes writes and upgrades
// only once.
func TestUpgradeFromSchema1(t *testing.T) {
	ctx := t.Context()
	data, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shiplog.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var want shiplogtest.History
	golden, err := os.ReadFile("testdata/schema1.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(golden, &want); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second open finds the file upgraded already
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatalf("open %d: %v", round, err)
		}
		got, err := shiplogtest.ReadHistory(ctx, s)
		if err != nil {
			t.Fatalf("open %d: ReadHistory: %v", round, err)
		}
		// The file held stage's write lock of a deployment that died: opening releases it, as
		// the state's next version (as version 1 did).
		if round == 0 {
			for i, st := range want.States["bugfarm"] {
				if st.LockedUntil != 0 {
					want.States["bugfarm"][i].LockedUntil = 0
					want.States["bugfarm"][i].Version++
				}
			}
			if want.DeployContext.Current.LockedUntil != 0 {
				want.DeployContext.Current.LockedUntil = 0
				want.DeployContext.Current.Version++
			}
		}
		// Through JSON, as the golden file was written, so that raw manifests compare alike.
		if b, err := json.MarshalIndent(got, "", "  "); err != nil {
			t.Fatal(err)
		} else if got = (shiplogtest.History{}); json.Unmarshal(b, &got) != nil {
			t.Fatal("decode the history read")
		}
		// A lock-only state read "images": null from version 1, and reads {} now, as it always did
		// from DynamoDB: the one difference allowed.
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("open %d: read after the upgrade (-schema 1 +now):\n%s", round, d)
		}
		params, err := s.GetParametersByPath(ctx, "/bugfarm/images/stage/")
		if err != nil || len(params) != 1 || params["/bugfarm/images/stage/api"] == "" {
			t.Errorf("open %d: parameters under stage: got %v, %v", round, params, err)
		}
		if _, err := s.GetParameter(ctx, "/bugfarm/images/latest/web"); err != nil {
			t.Errorf("open %d: GetParameter: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// The upgraded store takes a new release, after the old ones.
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := want.Latest["bugfarm"]
	r.ID, r.DeploymentCount, r.LastDateDeployed, r.VerifiedIn = "01HREL99999999999999999999", 0, 0, nil
	ev := shiplog.Event{ID: "01HEVT99999999999999999999", Type: shiplog.EventReleaseCreated, At: r.CreatedAt, ProjectID: "bugfarm"}
	if err := s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: ev}); err != nil {
		t.Fatal(err)
	}
	latest, err := s.LatestRelease(ctx, "bugfarm")
	if err != nil || latest.ID != r.ID {
		t.Errorf("LatestRelease after a new release: got %s, %v, want %s", latest.ID, err, r.ID)
	}
}
