package awsdynamo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

var updateReads = flag.Bool("update", false, "rewrite testdata/main-a468552.reads.json from what the store reads now")

// fixtureMain is the items of both tables as the Store of main at a468552 wrote them
// (testdata/gen), and fixtureReads what that main's Service answered when reading them.
const (
	fixtureMain  = "testdata/main-a468552.json"
	fixtureReads = "testdata/main-a468552.reads.json"
)

// loadFixture puts the items of a dump written by testdata/gen into the releases and state
// tables.
func loadFixture(t *testing.T, client *dynamodb.Client, releases, state, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, "read "+path, err)
	var dump map[string][]map[string]json.RawMessage
	must(t, "decode "+path, json.Unmarshal(b, &dump))
	for name, table := range map[string]string{"releases": releases, "state": state} {
		if len(dump[name]) == 0 {
			t.Fatalf("%s: no items of table %s", path, name)
		}
		for _, raw := range dump[name] {
			it := item{}
			for a, v := range raw {
				av, err := fromWire(v)
				must(t, fmt.Sprintf("%s: attribute %s", path, a), err)
				it[a] = av
			}
			_, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
			must(t, "put a fixture item", err)
		}
	}
}

// fromWire decodes an attribute value in DynamoDB's JSON wire shape.
func fromWire(raw json.RawMessage) (types.AttributeValue, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(raw, &v); err != nil || len(v) != 1 {
		return nil, fmt.Errorf("not an attribute value: %s", raw)
	}
	for kind, x := range v {
		switch kind {
		case "S", "N", "B":
			var s string
			if err := json.Unmarshal(x, &s); err != nil {
				return nil, err
			}
			switch kind {
			case "S":
				return &types.AttributeValueMemberS{Value: s}, nil
			case "N":
				return &types.AttributeValueMemberN{Value: s}, nil
			}
			b, err := base64.StdEncoding.DecodeString(s)
			return &types.AttributeValueMemberB{Value: b}, err
		case "BOOL":
			var b bool
			err := json.Unmarshal(x, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "SS", "NS", "BS":
			var ss []string
			if err := json.Unmarshal(x, &ss); err != nil {
				return nil, err
			}
			switch kind {
			case "SS":
				return &types.AttributeValueMemberSS{Value: ss}, nil
			case "NS":
				return &types.AttributeValueMemberNS{Value: ss}, nil
			}
			bs := make([][]byte, len(ss))
			for i, s := range ss {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, err
				}
				bs[i] = b
			}
			return &types.AttributeValueMemberBS{Value: bs}, nil
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(x, &l); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(l))
			for i, e := range l {
				av, err := fromWire(e)
				if err != nil {
					return nil, err
				}
				out[i] = av
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		case "M":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(x, &m); err != nil {
				return nil, err
			}
			out := make(map[string]types.AttributeValue, len(m))
			for k, e := range m {
				av, err := fromWire(e)
				if err != nil {
					return nil, err
				}
				out[k] = av
			}
			return &types.AttributeValueMemberM{Value: out}, nil
		}
		return nil, fmt.Errorf("unknown attribute type %q", kind)
	}
	panic("unreachable")
}

// TestReadsTablesOfMainA468552 loads the items main at a468552 wrote (testdata/gen) into fresh
// tables and reads all of them through the Service: projects, pushes, releases and the latest
// pointer, deployments by each list, environments with their lock and freeze, events, and both
// kinds of idempotency key, replayed. The answers must be those of that main
// (testdata/main-a468552.reads.json, written by -update while the Store was that main's): a
// storage layer that replaces the Store passes this test unchanged on tables that main wrote.
// Regenerate the reads only for a change of what the Service answers, and read the diff.
func TestReadsTablesOfMainA468552(t *testing.T) {
	b := backends(t)[0]
	s := b.newStore(t)
	loadFixture(t, s.admin, s.releases, s.state, fixtureMain)
	ctx := t.Context()
	svc := shiplog.NewService(shiplogtest.NewMemoryParameters(), s.Store, nil, nil)
	// 20 minutes after the last write: the release key (a day) is live, the freeze to come.
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc.Now = func() time.Time { return now }
	const project, r1, r2 = "billing", "01KJPWPBK0KBHZATPBFM192D98", "01KJPX35R08GJJT8GAV157AVEH"
	const d1, d3 = "01KJPX8NH06Q3FE23C52VGVZB5", "01KJPY44E01GZPR61CEMRWBJP4"
	reads := map[string]any{}
	read := func(name string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reads[name] = v
	}
	all := shiplog.PageRequest{Limit: shiplog.MaxPageLimit}

	projects, err := svc.Projects(ctx)
	read("projects", projects, err)
	p, err := svc.Project(ctx, project)
	read("project", p, err)
	images, err := svc.Images(ctx, project, "latest")
	read("images latest", images, err)
	releases, err := svc.Releases(ctx, project, all)
	read("releases", releases, err)
	// Pages of one: what a cursor holds is the store's business, so only whether there is one
	// is recorded.
	type paged struct {
		Items []shiplog.Release `json:"items"`
		More  bool              `json:"more"`
	}
	page, err := svc.Releases(ctx, project, shiplog.PageRequest{Limit: 1})
	read("releases, first page of 1", paged{page.Items, page.NextCursor != ""}, err)
	page, err = svc.Releases(ctx, project, shiplog.PageRequest{Limit: 1, Cursor: page.NextCursor})
	read("releases, second page of 1", paged{page.Items, page.NextCursor != ""}, err)
	for _, id := range []string{r1, r2, shiplog.LatestRelease} {
		r, err := svc.Release(ctx, project, id)
		read("release "+id, r, err)
	}
	deps, err := svc.Deployments(ctx, project, shiplog.DeploymentFilter{}, all)
	read("deployments", deps, err)
	for _, f := range []shiplog.DeploymentFilter{{Environment: "stage"}, {Environment: "prod"}, {Release: r1}, {Release: r1, Environment: "prod"}, {Release: r2}} {
		deps, err := svc.Deployments(ctx, project, f, all)
		read(fmt.Sprintf("deployments of environment %q, release %q", f.Environment, f.Release), deps, err)
	}
	dep, err := svc.Deployment(ctx, project, d1)
	read("deployment "+d1, dep, err)
	envs, err := svc.Environments(ctx, project)
	read("environments", envs, err)
	freezes, err := svc.Freezes(ctx, project)
	read("freezes", freezes, err)
	events, err := svc.Events(ctx, project, shiplog.EventFilter{}, all)
	read("events", events, err)
	pushes, err := svc.Events(ctx, project, shiplog.EventFilter{Type: shiplog.EventImageRecorded}, all)
	read("events of pushes", pushes, err)

	// The idempotency keys, replayed as their requests were made: each answers what it made.
	again, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{
		ProjectID: project, Label: "latest", Description: "api fix", RequestedBy: shiplog.Person{ID: "alice", Name: "Alice"}, IdempotencyKey: "ci-run-42",
	})
	read("create release ci-run-42 again", again, err)
	if again.ID != r2 {
		t.Errorf("create release with key ci-run-42 again: got release %s, want %s", again.ID, r2)
	}
	redeploy, err := svc.Deploy(ctx, shiplog.DeployInput{
		ProjectID: project, ReleaseID: r2, Environment: "stage", Description: "api fix to stage", RequestedBy: shiplog.Person{ID: "bob", Name: "Bob"}, IdempotencyKey: "deploy-77",
	})
	read("deploy deploy-77 again", redeploy, err)
	if redeploy.Deployment.ID != d3 {
		t.Errorf("deploy with key deploy-77 again: got deployment %s, want %s", redeploy.Deployment.ID, d3)
	}
	after, err := svc.Releases(ctx, project, all)
	if err != nil || len(after.Items) != 2 {
		t.Errorf("releases after the replays: got %d (%v), want the 2 of the fixture", len(after.Items), err)
	}
	// The lock and the freeze the fixture holds still refuse a deploy to prod.
	if _, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: project, ReleaseID: r2, Environment: "prod", Description: "x", RequestedBy: shiplog.Person{ID: "bob", Name: "Bob"}}); !shiplog.IsKind(err, shiplog.Conflict) {
		t.Errorf("deploy to the locked prod: got %v, want Conflict", err)
	}

	got, err := json.MarshalIndent(reads, "", "  ")
	must(t, "encode the reads", err)
	got = append(got, '\n')
	if *updateReads {
		must(t, "write "+fixtureReads, os.WriteFile(fixtureReads, got, 0o644))
		return
	}
	want, err := os.ReadFile(fixtureReads)
	must(t, "read "+fixtureReads, err)
	if !bytes.Equal(got, want) {
		var g, w any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(want, &w)
		t.Errorf("reads of the tables main a468552 wrote (-want +got):\n%s", cmp.Diff(w, g))
	}
}
