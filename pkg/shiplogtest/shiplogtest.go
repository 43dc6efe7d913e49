// Package shiplogtest holds the contract suites of shiplog's storage ports, as net/http/httptest
// serves net/http: a store's own test calls RunStoreTests, RunStoreConcurrencyTests or
// RunParameterStoreTests with a function that makes an empty store. The Store suites run on the
// ledger over each of its drivers (memstore, bolt, awsdynamo); the ParameterStore suite on
// memstore, bolt, awsssm and MemoryParameters. (The drivers themselves have their own suite,
// ledgertest.)
//
// Every call of newStore must return an empty store. The suites call it once per subtest and run
// their subtests one after another, so an adapter may reset a shared backend (a moto_server, a
// table) inside newStore.
//
// Decisions the suites hold every store to, beyond the doc comments of the ports:
//   - "Newest first" means descending id order. Release and deployment ids sort by creation
//     time (ULIDs), and two created in the same second must still list in id order, or "the
//     newest release" would be ambiguous; the suites give some records the same created_at.
//   - A page's NextCursor is empty exactly on the last page: a list of 6 in pages of 3 is two
//     pages, never two and an empty third.
//   - A release read back always has a non-nil Deployments slice (JSON "deployments": [], as in
//     the design note's releases table), even if it was created with nil.
//   - EnvironmentState.Pending: nil and empty mean the same ("nothing pending"); a store may
//     return either.
//   - Release ids are unique across projects (the releases table is keyed by release_id alone).
//   - A store may refuse a concurrent WriteEnvironment that records a deployment with Conflict
//     or Unavailable (DynamoDB's transactions are optimistic); the concurrency subtests retry
//     those until the store takes them (for as long as the test may run: see Patience), and
//     then require every deployment to have landed.
package shiplogtest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// cmpOpts compares domain values the way the contract defines equality: Pending nil == empty.
var cmpOpts = cmp.Options{
	cmp.FilterPath(func(p cmp.Path) bool {
		sf, ok := p.Last().(cmp.StructField)
		return ok && sf.Name() == "Pending"
	}, cmpopts.EquateEmpty()),
}

// wantKind fails the test unless err is a shiplog error of kind k.
func wantKind(t *testing.T, what string, err error, k shiplog.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, k)
	}
	if got := shiplog.KindOf(err); got != k {
		t.Fatalf("%s: got error kind %v (%v), want %v", what, got, err, k)
	}
}

// wantErr checks that err is the store's sentinel want (so that the Service, which phrases what
// callers see, says the same whatever the store).
func wantErr(t *testing.T, what string, err error, want *shiplog.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %q (%v)", what, err, want.Message, want.Kind)
	}
}

// mustOK fails the test if err is not nil.
func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// diff fails the test if got and want differ.
func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

// imageURI is a realistic digest-pinned image URI, distinct for each (repository, n).
func imageURI(repository string, n int) string {
	return fmt.Sprintf("760097843905.dkr.ecr.eu-west-1.amazonaws.com/%s@sha256:%064x", repository, n)
}

// Patience is how long a test may wait for what a loaded machine only slows down (deploys taking
// turns, a server coming up): until shortly before the test binary's own -timeout, or an hour
// if it has none. A test asserts that the thing happens and what it leaves, not how fast; a
// deadlock or a lost write still fails it, with the test's own message rather than the binary's
// panic. (make bench measures the speed, with the defaults the functions run with.)
func Patience(t interface{ Deadline() (time.Time, bool) }) time.Duration {
	deadline, ok := t.Deadline()
	if !ok {
		return time.Hour
	}
	left := time.Until(deadline)
	return max(left-min(left/10, time.Minute), 0)
}
