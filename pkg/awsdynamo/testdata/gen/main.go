// Command gen wrote main-a468552.json: the items of both tables after a small, realistic history
// recorded through shiplog.Service on the Store of main at a468552 (awsdynamo.New, store.go),
// on DynamoDB Local. The fixture is what tables written by that main hold, so that the storage
// that replaces the Store can be shown to read them. It is a record of that main: do not run it
// again once awsdynamo.New writes through anything else, since it would then dump the new shapes.
//
// From the module root (npm ci first, for DynamoDB Local's jar):
//
//	go run ./pkg/awsdynamo/testdata/gen > pkg/awsdynamo/testdata/main-a468552.json
//
// The history: a project with two services in two repositories and two environments (prod
// requires stage), pushes of both, a release, a second push of one service, a second release
// with an idempotency key, a deploy of the first release to stage, its status set to verified, a
// deploy of it to prod, a deploy of the second release to stage with an idempotency key, a lock of
// prod and a freeze of prod. The clock and the ids are fixed, so a run gives the same items.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/shiplogtest"
)

// The tables' names in the fixture.
const (
	releasesTable = "releases"
	stateTable    = "state"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	ddb, err := localaws.LaunchDynamoDBLocal()
	if err != nil {
		return err
	}
	defer ddb.Close()
	client := dynamodb.NewFromConfig(ddb.Config(ctx))
	if err := awsdynamo.CreateTables(ctx, client, releasesTable, stateTable); err != nil {
		return err
	}
	if err := record(ctx, awsdynamo.New(client, releasesTable, stateTable)); err != nil {
		return err
	}
	dump := map[string][]map[string]any{}
	for _, table := range []string{releasesTable, stateTable} {
		items, err := scan(ctx, client, table)
		if err != nil {
			return err
		}
		dump[table] = items
	}
	out, err := json.MarshalIndent(dump, "", "  ")
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(out, '\n'))
	return err
}

// record writes the history through the Service, on a clock that moves only when told.
func record(ctx context.Context, store *awsdynamo.Store) error {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) { now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Add(d) }
	entropy := ulid.Monotonic(rand.NewChaCha8([32]byte{'s', 'h', 'i', 'p', 'l', 'o', 'g'}), 0)
	svc := shiplog.NewService(shiplogtest.NewMemoryParameters(), store, nil, nil)
	svc.Now = func() time.Time { return now }
	svc.NewID = func() string { return ulid.MustNew(ulid.Timestamp(now), entropy).String() }
	svc.NewEventID = svc.NewID

	alice := shiplog.Person{ID: "alice", Name: "Alice"}
	bob := shiplog.Person{ID: "bob", Name: "Bob"}
	manifest, _ := json.Marshal(map[string]any{
		"id": "billing", "name": "Billing",
		"environments":       []map[string]any{{"id": "stage", "name": "Staging"}, {"id": "prod", "name": "Production", "requires": []string{"stage"}}},
		"image_repositories": []map[string]any{{"id": "platform/billing-api", "services": []string{"api"}}, {"id": "platform/billing-worker", "services": []string{"worker"}}},
	})
	p := shiplog.Project{
		ID: "billing", Name: "Billing",
		Environments: []shiplog.Environment{{ID: "stage", Name: "Staging"}, {ID: "prod", Name: "Production", Requires: []string{"stage"}}},
		ImageRepositories: []shiplog.ImageRepository{
			{ID: "platform/billing-api", Services: []string{"api"}},
			{ID: "platform/billing-worker", Services: []string{"worker"}},
		},
		Manifest: manifest,
	}
	push := func(repo string, n int) error {
		_, err := svc.RecordPush(ctx, shiplog.ImagePush{
			Account: "760097843905", Region: "eu-west-1", Repository: repo,
			Digest: fmt.Sprintf("sha256:%064x", n), Tag: "latest", Action: "PUSH", Result: "SUCCESS", Time: now,
		})
		return err
	}

	at(0)
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: []shiplog.Project{p}, By: alice}); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	at(time.Minute)
	if err := push("platform/billing-api", 1); err != nil {
		return fmt.Errorf("push api: %w", err)
	}
	at(2 * time.Minute)
	if err := push("platform/billing-worker", 2); err != nil {
		return fmt.Errorf("push worker: %w", err)
	}
	at(5 * time.Minute)
	r1, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "billing", Description: "first release", RequestedBy: alice})
	if err != nil {
		return fmt.Errorf("create release 1: %w", err)
	}
	at(10 * time.Minute)
	if err := push("platform/billing-api", 3); err != nil {
		return fmt.Errorf("push api again: %w", err)
	}
	at(12 * time.Minute)
	r2, err := svc.CreateRelease(ctx, shiplog.CreateReleaseInput{
		ProjectID: "billing", Label: "latest", Description: "api fix", RequestedBy: alice, IdempotencyKey: "ci-run-42",
	})
	if err != nil {
		return fmt.Errorf("create release 2: %w", err)
	}
	at(15 * time.Minute)
	d1, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "billing", ReleaseID: r1.ID, Environment: "stage", Description: "first to stage", RequestedBy: bob})
	if err != nil {
		return fmt.Errorf("deploy release 1 to stage: %w", err)
	}
	at(20 * time.Minute)
	if _, err := svc.ReportStatus(ctx, shiplog.ReportInput{ProjectID: "billing", DeploymentID: d1.Deployment.ID, Status: shiplog.StatusVerified, Detail: "smoke tests passed", By: bob}); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	at(25 * time.Minute)
	if _, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "billing", ReleaseID: r1.ID, Environment: "prod", Description: "first to prod", RequestedBy: bob}); err != nil {
		return fmt.Errorf("deploy release 1 to prod: %w", err)
	}
	at(30 * time.Minute)
	if _, err := svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "billing", ReleaseID: r2.ID, Environment: "stage", Description: "api fix to stage", RequestedBy: bob, IdempotencyKey: "deploy-77"}); err != nil {
		return fmt.Errorf("deploy release 2 to stage: %w", err)
	}
	at(35 * time.Minute)
	if _, err := svc.Lock(ctx, shiplog.LockInput{ProjectID: "billing", Environment: "prod", Reason: "incident 123", RequestedBy: alice}); err != nil {
		return fmt.Errorf("lock prod: %w", err)
	}
	at(40 * time.Minute)
	if _, err := svc.PutFreeze(ctx, shiplog.FreezeInput{
		ProjectID: "billing", ID: "year-end", Environments: []string{"prod"},
		StartsAt: now.Add(24 * time.Hour).Unix(), EndsAt: now.Add(72 * time.Hour).Unix(), Reason: "year-end close", RequestedBy: alice,
	}); err != nil {
		return fmt.Errorf("freeze prod: %w", err)
	}
	return nil
}

// scan reads every item of a table, in key order, as DynamoDB's JSON wire shape.
func scan(ctx context.Context, client *dynamodb.Client, table string) ([]map[string]any, error) {
	var out []map[string]any
	var keys []string
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range page.Items {
			m := make(map[string]any, len(it))
			for a, v := range it {
				m[a] = wire(v)
			}
			out = append(out, m)
			keys = append(keys, sortKey(table, it))
		}
	}
	sort.Sort(byKey{out, keys})
	return out, nil
}

// sortKey is an item's key in its table, for sorting.
func sortKey(table string, it map[string]types.AttributeValue) string {
	s := func(a string) string {
		v, _ := it[a].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	if table == releasesTable {
		return s("release_id")
	}
	return s("pk") + "\x00" + s("sk")
}

type byKey struct {
	items []map[string]any
	keys  []string
}

func (b byKey) Len() int           { return len(b.items) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.items[i], b.items[j] = b.items[j], b.items[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

// wire returns an attribute value in DynamoDB's JSON wire shape ({"S": "..."}, {"N": "1"},
// {"M": {...}}), sets sorted.
func wire(v types.AttributeValue) map[string]any {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}
	case *types.AttributeValueMemberB:
		return map[string]any{"B": base64.StdEncoding.EncodeToString(v.Value)}
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": true}
	case *types.AttributeValueMemberSS:
		ss := append([]string{}, v.Value...)
		sort.Strings(ss)
		return map[string]any{"SS": ss}
	case *types.AttributeValueMemberNS:
		ns := append([]string{}, v.Value...)
		sort.Strings(ns)
		return map[string]any{"NS": ns}
	case *types.AttributeValueMemberBS:
		bs := make([]string, len(v.Value))
		for i, b := range v.Value {
			bs[i] = base64.StdEncoding.EncodeToString(b)
		}
		sort.Strings(bs)
		return map[string]any{"BS": bs}
	case *types.AttributeValueMemberL:
		l := make([]any, len(v.Value))
		for i, x := range v.Value {
			l[i] = wire(x)
		}
		return map[string]any{"L": l}
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(v.Value))
		for k, x := range v.Value {
			m[k] = wire(x)
		}
		return map[string]any{"M": m}
	}
	panic(fmt.Sprintf("unknown attribute value %T", v))
}
