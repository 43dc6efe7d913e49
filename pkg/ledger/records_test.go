package ledger

import (
	"maps"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestStateRecordKeepsEveryField: stateRecord is no longer a Go conversion of EnvironmentState
// (its push times are one attribute), so the build no longer catches a field added to one and not
// copied by the other. States filled at random, every field set, must come back whole from
// newStateRecord and state().
func TestStateRecordKeepsEveryField(t *testing.T) {
	r := rand.New(rand.NewSource(18))
	for i := range 50 {
		v, ok := quick.Value(reflect.TypeFor[shiplog.EnvironmentState](), r)
		if !ok {
			t.Fatal("quick.Value cannot make an EnvironmentState")
		}
		st := v.Interface().(shiplog.EnvironmentState)
		// What a state holds: images, pending services, push times not zero (0 is "not known"),
		// and the newest push time of a service never below the one it runs.
		if st.Images == nil {
			st.Images = map[string]string{}
		}
		if len(st.Pending) == 0 {
			st.Pending = []string{"api"}
		}
		st.PushedAt = map[string]int64{"api": 10 + int64(i), "web": 20}
		st.PushedTracked = i%2 == 0
		st.Pushed = nil
		if st.PushedTracked {
			st.Pushed = maps.Clone(st.PushedAt)
			st.Pushed["api"] += 5   // rolled back
			st.Pushed["worker"] = 7 // ran here once, runs no more
		}
		got := newStateRecord(st).state()
		if diff := cmp.Diff(st, got); diff != "" {
			t.Fatalf("state %d through its record (-want +got):\n%s", i, diff)
		}
	}
}
