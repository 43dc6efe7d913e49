package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestApproveCommand: approve by a short id, again (nothing changes), as someone not allowed
// (refused), list, deploy once enough others approved, and withdraw.
func TestApproveCommand(t *testing.T) {
	l := newLocal(t)
	data, err := os.ReadFile(filepath.Join("testdata", "wellcome_project.json"))
	if err != nil {
		t.Fatal(err)
	}
	entry := strings.Replace(string(data), `{"id": "prod", "name": "Production"}`,
		`{"id": "prod", "name": "Production", "approvals": {"required": 2, "from": ["bob", "carol", "dave"]}}`, 1)
	if entry == string(data) {
		t.Fatal("the test manifest no longer has the prod this test adds approvals to")
	}
	file := filepath.Join(t.TempDir(), "wellcome_project.json")
	if err := os.WriteFile(file, []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	l.run(t, "project", "register", "-f", file).want(t, 0, "registered storage")
	for i, repo := range storageRepos() {
		l.push(t, repo, i+1, clock.Add(-time.Hour))
	}
	l.run(t, "release", "create", "storage").want(t, 0, "created release")
	rels, err := l.svc.Releases(context.Background(), "storage", shiplog.PageRequest{})
	if err != nil || len(rels.Items) != 1 {
		t.Fatalf("releases: %v %v", rels.Items, err)
	}
	id := rels.Items[0].ID
	short := shortID(id)
	as := func(user string, args ...string) result {
		return l.run(t, append([]string{"--user", user}, args...)...)
	}

	as("bob", "approve", "storage", "prod", short).want(t, 0, "approved release "+id+" for storage/prod", "approvals: 1 of 2 counted, not enough yet", "who may approve: bob, carol, dave")
	r := as("bob", "approve", "storage", "prod", short)
	r.want(t, 0, "you had approved release "+id+" for storage/prod already; nothing changed")
	columnsAligned(t, r.stdout, []string{"APPROVED BY", "AT", "COUNTS"}, []string{"bob", "2026-11-20 10:00", "yes"})
	as("mallory", "approve", "storage", "prod", short).wantErr(t, exitUnauthorized, "mallory may not approve deploys to storage/prod")
	as("bob", "approve", "storage", "stage", short).wantErr(t, exitConflict, "needs no approvals")
	as("bob", "approve", "storage", "prod", "ZZZZZZZZ").wantErr(t, exitNotFound, "no release of storage")

	// One approval is not enough: the deploy's plan says so and nothing is deployed.
	r = as("erin", "deploy", "storage", "prod", short, "--yes")
	r.want(t, exitConflict)
	columnsAligned(t, r.stdout, []string{"GATE", "DECISION"}, []string{"approvals", "refused"})
	if !strings.Contains(r.stdout+r.stderr, "has 1 of the 2 approvals prod requires") {
		t.Errorf("refused deploy: stdout %s stderr %s, want the approvals gate's message", r.stdout, r.stderr)
	}
	as("carol", "approve", "storage", "prod", "latest").want(t, 0, "approved release "+id, "approvals: 2 of 2 counted, enough")
	as("erin", "approvals", "storage", "prod", short).want(t, 0, "release "+id+" for storage/prod", "2 of 2 counted")
	as("erin", "deploy", "storage", "prod", short, "--yes", "--no-wait").want(t, 0)
	if got := l.deployments(t, "prod"); len(got) != 1 {
		t.Fatalf("prod deployments after two approvals: %d, want 1", len(got))
	}

	as("carol", "approve", "--withdraw", "storage", "prod", short).want(t, 0, "withdrew your approval of release "+id, "1 of 2 counted")
	as("carol", "approve", "--withdraw", "storage", "prod", short).want(t, 0, "you had not approved release "+id)
	if got, want := as("erin", "-o", "json", "approvals", "storage", "prod", id).stdout, l.get(t, "/projects/storage/releases/"+id+"/approvals?environment=prod"); got != want {
		t.Errorf("-o json approvals: got %s, want the API's %s", got, want)
	}
}
