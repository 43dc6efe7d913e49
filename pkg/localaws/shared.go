package localaws

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// One server of each kind per test binary, started by the first test that asks for it.
var (
	sharedMu        sync.Mutex
	sharedMoto      *Moto
	sharedMotoErr   error
	sharedDDB       *DynamoDBLocal
	sharedDDBErr    error
	motoStarted     bool
	ddbLocalStarted bool
)

// SharedMoto returns the test binary's moto_server, starting it on first use. Tests that share
// it must use names of their own rather than Reset it. Main stops it; without Main it dies with
// the test binary.
func SharedMoto(t testing.TB) *Moto {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !motoStarted {
		motoStarted = true
		sharedMoto, sharedMotoErr = LaunchMoto()
	}
	if sharedMotoErr != nil {
		t.Fatal(sharedMotoErr)
	}
	return sharedMoto
}

// SharedDynamoDBLocal returns the test binary's DynamoDB Local, starting it on first use. Tests
// that share it must use tables of their own. Main stops it; without Main it dies with the test
// binary.
func SharedDynamoDBLocal(t testing.TB) *DynamoDBLocal {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if !ddbLocalStarted {
		ddbLocalStarted = true
		sharedDDB, sharedDDBErr = LaunchDynamoDBLocal()
	}
	if sharedDDBErr != nil {
		t.Fatal(sharedDDBErr)
	}
	return sharedDDB
}

// Main runs the tests and then stops the shared servers; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared servers, if they were started.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedMoto != nil {
		sharedMoto.Close()
	}
	if sharedDDB != nil {
		sharedDDB.Close()
	}
	sharedMoto, sharedDDB = nil, nil
	motoStarted, ddbLocalStarted = false, false
	sharedMotoErr, sharedDDBErr = nil, nil
}

var uniqueSeq atomic.Int64

// UniqueName returns prefix followed by a number no other call in this test binary returns, for
// names of tables, repositories and parameter paths in a shared server (which -count=N reuses).
func UniqueName(prefix string) string {
	return prefix + "-" + strconv.FormatInt(uniqueSeq.Add(1), 10)
}
