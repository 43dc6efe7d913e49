package awsdynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Fixtures, in the shapes the Service makes them.

func project(id string, repos ...string) shiplog.Project {
	p := shiplog.Project{
		ID:           id,
		Name:         "Project " + id,
		Environments: []shiplog.Environment{{ID: "stage", Name: "Staging"}, {ID: "prod", Name: "Production"}},
	}
	if len(repos) == 0 {
		repos = []string{"team/" + id + "-api"}
	}
	for _, r := range repos {
		p.ImageRepositories = append(p.ImageRepositories, shiplog.ImageRepository{ID: r, Services: []string{r[strings.LastIndex(r, "/")+1:]}})
	}
	p.Manifest, _ = json.Marshal(map[string]any{"name": p.Name})
	return p
}

func ulid(prefix string, n int) string { return fmt.Sprintf("01%s%020d", prefix, n) }

func release(p shiplog.Project, n int) shiplog.Release {
	images := map[string]string{}
	for _, svc := range p.Services() {
		images[svc] = fmt.Sprintf("760097843905.dkr.ecr.eu-west-1.amazonaws.com/%s@sha256:%064x", svc, n)
	}
	return shiplog.Release{
		ID: ulid("REL", n), ProjectID: p.ID, ProjectName: p.Name, CreatedAt: 1_800_000_000 + int64(n),
		Manifest: string(p.Manifest), RequestedBy: shiplog.Person{ID: "alice", Name: "Alice"},
		Images: images, Label: "latest", Description: fmt.Sprintf("release %d", n), Deployments: []shiplog.Deployment{},
	}
}

func deployment(p shiplog.Project, r shiplog.Release, env string, n int, expect int64) shiplog.EnvironmentWrite {
	e, _ := p.Environment(env)
	d := shiplog.Deployment{
		ID: ulid("DEP", n), Environment: e, CreatedAt: r.CreatedAt + int64(n),
		RequestedBy: shiplog.Person{ID: "bob", Name: "Bob"}, Description: fmt.Sprintf("deployment %d", n),
	}
	return shiplog.EnvironmentWrite{
		Expect:     expect,
		Deployment: &shiplog.DeploymentRecord{Deployment: d, ProjectID: p.ID, ReleaseID: r.ID},
		State: shiplog.EnvironmentState{
			ProjectID: p.ID, Environment: e, ReleaseID: r.ID, DeploymentID: d.ID, DeployedAt: d.CreatedAt,
			RequestedBy: d.RequestedBy, Description: d.Description, Images: r.Images,
			Pending: []string{"api"}, LockedUntil: d.CreatedAt + 120, Version: expect + 1,
		},
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantKind(t *testing.T, what string, err error, k shiplog.Kind) {
	t.Helper()
	if got := shiplog.KindOf(err); err == nil || got != k {
		t.Fatalf("%s: got %v (kind %v), want kind %v", what, err, got, k)
	}
}

// shape describes an attribute value's type, recursing into maps and lists, e.g. "M{id:S,name:S}".
func shape(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberM:
		return "M{" + shapes(v.Value) + "}"
	case *types.AttributeValueMemberL:
		seen := map[string]bool{}
		var elems []string
		for _, e := range v.Value {
			if s := shape(e); !seen[s] {
				seen[s] = true
				elems = append(elems, s)
			}
		}
		return "L[" + strings.Join(elems, "|") + "]"
	}
	return fmt.Sprintf("%T", av)
}

func shapes(m map[string]types.AttributeValue) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + shape(m[k])
	}
	return strings.Join(parts, ",")
}

func (s testStore) rawGet(t *testing.T, table string, key item) item {
	t.Helper()
	out, err := s.admin.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
	must(t, "GetItem", err)
	return out.Item
}

// TestItemShapes holds the stored items to the design: the releases table keeps exactly the
// note's attributes with the note's types, and the state items have the documented keys.
func TestItemShapes(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s := b.newStore(t)
			p := project("storage", "team/api", "team/web")
			must(t, "PutProject", s.PutProject(ctx, p, registered(p)))
			r := release(p, 1)
			must(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: created(r)}))

			person := "M{id:S,name:S}"
			created := "created_at:N,deployment_count:N,deployments:L[],description:S,images:M{api:S,web:S},label:S,project_id:S," +
				"project_name:S,release_id:S,release_manifest:S,requested_by:" + person
			if got := shapes(s.rawGet(t, s.releases, releaseKey(r.ID))); got != created {
				t.Errorf("release item before any deployment:\ngot  %s\nwant %s", got, created)
			}

			c := deployment(p, r, "stage", 1, 0)
			must(t, "WriteEnvironment", s.WriteEnvironment(ctx, c))
			// The deployment is not in the release item, which stays the same size however often the
			// release is deployed: it is counted there, and listed in the state table.
			deployed := "created_at:N,deployment_count:N,deployments:L[],description:S,images:M{api:S,web:S},label:S,last_date_deployed:N,project_id:S," +
				"project_name:S,release_id:S,release_manifest:S,requested_by:" + person
			it := s.rawGet(t, s.releases, releaseKey(r.ID))
			if got := shapes(it); got != deployed {
				t.Errorf("release item after a deployment:\ngot  %s\nwant %s", got, deployed)
			}
			if n, _ := it[attrLastDeploy].(*types.AttributeValueMemberN); n == nil || n.Value != fmt.Sprint(c.Deployment.CreatedAt) {
				t.Errorf("last_date_deployed: got %v, want %d", it[attrLastDeploy], c.Deployment.CreatedAt)
			}
			if m, _ := it["release_manifest"].(*types.AttributeValueMemberS); m == nil || m.Value != string(p.Manifest) {
				t.Errorf("release_manifest: got %v, want the JSON string %s", it["release_manifest"], p.Manifest)
			}

			stateItems := []struct {
				name string
				key  item
				want string
			}{
				{"project", projectKey("storage"), "environment_ids:SS,environments:L[" + person + "],events_typed:BOOL,image_repositories:L[M{id:S,services:L[S]}]," +
					"manifest:S,mapped_repositories:L[S],name:S,pk:S,project_id:S,sk:S,tag_deployed_images:BOOL,version:N"},
				{"repository", repoKey("team/web", "storage"), "pk:S,project_id:S,repository:S,services:L[S],sk:S"},
				{"environment", envKey("storage", "stage"), "deployed_at:N,deployment_id:S,description:S,environment:" + person +
					",images:M{api:S,web:S},locked_until:N,pending:L[S],pk:S,project_id:S,release_id:S,requested_by:" + person + ",sk:S,version:N"},
				{"deployment", stateKey("project#storage", "deploy#"+c.Deployment.ID), "created_at:N,deployment_id:S,description:S," +
					"environment:" + person + ",pk:S,project_id:S,release_id:S,requested_by:" + person + ",sk:S"},
				{"environment's deployment", stateKey("project#storage", "envdeploy#stage#"+c.Deployment.ID), "created_at:N," +
					"deployment_id:S,description:S,environment:" + person + ",pk:S,project_id:S,release_id:S,requested_by:" + person + ",sk:S"},
				{"release's deployment", stateKey("project#storage", "reldeploy#"+r.ID+"#"+c.Deployment.ID), "created_at:N," +
					"deployment_id:S,description:S,environment:" + person + ",pk:S,project_id:S,release_id:S,requested_by:" + person + ",sk:S"},
			}
			for _, si := range stateItems {
				if got := shapes(s.rawGet(t, s.state, si.key)); got != si.want {
					t.Errorf("%s item:\ngot  %s\nwant %s", si.name, got, si.want)
				}
			}

			next := c.State
			next.Pending, next.LockedUntil = nil, 0
			must(t, "WriteEnvironment settled", s.WriteEnvironment(ctx, c.State.Next(next)))
			settled := s.rawGet(t, s.state, envKey("storage", "stage"))
			for _, gone := range []string{attrPending, attrLocked} {
				if _, ok := settled[gone]; ok {
					t.Errorf("environment item after settling: got %s = %v, want it removed", gone, settled[gone])
				}
			}
		})
	}
}

func repoNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s/repo-%03d", prefix, i)
	}
	return out
}

// TestPutProjectManyRepositories registers projects too big for one transaction and checks that
// re-registering removes every stale repo# item.
func TestPutProjectManyRepositories(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			rec := newActionRecorder()
			s := b.newStore(t, rec.addTo)
			first, second := repoNames("old", 130), repoNames("new", 120)

			must(t, "PutProject", s.PutProject(ctx, project("big", first...), registered(project("big", first...))))
			wantMapped(t, s, "big", first)
			if n := rec.count("dynamodb:TransactWriteItems"); n < 2 {
				t.Errorf("TransactWriteItems for 130 repositories: got %d calls, want several (the limit is %d)", n, s.driver.caps.MaxWriteOps)
			}

			keep := append([]string{first[0]}, second...)
			must(t, "PutProject again", s.PutProject(ctx, project("big", keep...), registered(project("big", keep...))))
			wantMapped(t, s, "big", keep)
			got, err := s.GetProject(ctx, "big")
			must(t, "GetProject", err)
			if diff := cmp.Diff(project("big", keep...), got); diff != "" {
				t.Errorf("GetProject after re-registering (-want +got):\n%s", diff)
			}
		})
	}
}

// wantMapped checks that exactly the repositories want have repo# items for the project, and
// that the project item records exactly them. The test scans the state table to see every
// repo# item; the store never scans.
func wantMapped(t *testing.T, s testStore, projectID string, want []string) {
	t.Helper()
	var got []string
	pages := dynamodb.NewScanPaginator(s.admin, &dynamodb.ScanInput{TableName: &s.state, ConsistentRead: aws.Bool(true)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(t.Context())
		must(t, "Scan", err)
		for _, it := range out.Items {
			pk, sk := it[attrPK].(*types.AttributeValueMemberS).Value, it[attrSK].(*types.AttributeValueMemberS).Value
			if repo, ok := strings.CutPrefix(pk, "repo#"); ok && sk == projectID {
				got = append(got, repo)
			}
		}
	}
	sort.Strings(got)
	if diff := cmp.Diff(sortedUnique(want), got); diff != "" {
		t.Errorf("repositories with repo# items (-want +got):\n%s", diff)
	}
	// And the store reads them: the first and the last.
	for _, r := range []string{want[0], want[len(want)-1]} {
		refs, err := s.RepositoryServices(t.Context(), r)
		must(t, "RepositoryServices "+r, err)
		wantRefs := []shiplog.ServiceRef{{ProjectID: projectID, ServiceID: r[strings.LastIndex(r, "/")+1:]}}
		if diff := cmp.Diff(wantRefs, refs); diff != "" {
			t.Errorf("RepositoryServices %s (-want +got):\n%s", r, diff)
		}
	}
	_, rec, err := decodeProject(s.rawGet(t, s.state, projectKey(projectID)))
	must(t, "decode project", err)
	if diff := cmp.Diff(sortedUnique(want), rec.MappedRepositories); diff != "" {
		t.Errorf("mapped_repositories (-want +got):\n%s", diff)
	}
}

// TestPutProjectInterrupted breaks a registration that needs several transactions after its
// first one, and checks that the next registration still removes every stale repo# item.
func TestPutProjectInterrupted(t *testing.T) {
	ctx := t.Context()
	b := backends(t)[0]
	var mu sync.Mutex
	calls, failAt := 0, 0
	failer := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("failNthTransaction",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
					mu.Lock()
					calls++
					fail := calls == failAt
					mu.Unlock()
					if fail {
						return middleware.InitializeOutput{}, middleware.Metadata{}, fmt.Errorf("connection reset (simulated)")
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
	s := b.newStore(t, failer)
	// 60 repositories fit one transaction; replacing them by 60 others takes 120 writes, two.
	var first, second []string
	for i := range 60 {
		first = append(first, fmt.Sprintf("old/r-%02d", i))
		second = append(second, fmt.Sprintf("new/r-%02d", i))
	}
	must(t, "PutProject", s.PutProject(ctx, project("p", first...), registered(project("p", first...))))

	mu.Lock()
	calls, failAt = 0, 2
	mu.Unlock()
	if err := s.PutProject(ctx, project("p", second...), registered(project("p", second...))); err == nil {
		t.Fatalf("PutProject with its second transaction failing: got no error")
	}
	_, rec, err := decodeProject(s.rawGet(t, s.state, projectKey("p")))
	must(t, "decode project", err)
	if len(rec.MappedRepositories) != len(first)+len(second) {
		t.Errorf("mapped_repositories after an interrupted registration: got %d, want all %d old and new", len(rec.MappedRepositories), len(first)+len(second))
	}

	wantUnfinished(t, s, "p", true)
	wantFinishedByRead(t, s, "p", second)

	// A first registration of 120 repositories has nothing stale, so mapped_repositories alone
	// cannot tell it was interrupted: the unfinished mark does.
	var many []string
	for i := range 120 {
		many = append(many, fmt.Sprintf("fresh/r-%03d", i))
	}
	mu.Lock()
	calls, failAt = 0, 2
	mu.Unlock()
	if err := s.PutProject(ctx, project("f", many...), registered(project("f", many...))); err == nil {
		t.Fatalf("PutProject of f with its second transaction failing: got no error")
	}
	wantUnfinished(t, s, "f", true)

	mu.Lock()
	failAt = 0
	mu.Unlock()
	must(t, "PutProject once more", s.PutProject(ctx, project("p", second[:5]...), registered(project("p", second[:5]...))))
	wantMapped(t, s, "p", second[:5])
	wantUnfinished(t, s, "p", false)
	wantFinishedByRead(t, s, "f", many)
}

// wantUnfinished checks what the project's item says of its registration: interrupted (true), or
// whole.
func wantUnfinished(t *testing.T, s testStore, projectID string, want bool) {
	t.Helper()
	_, rec, err := decodeProject(s.rawGet(t, s.state, projectKey(projectID)))
	must(t, "decode project", err)
	if rec.Unfinished != want {
		t.Errorf("project %s: got unfinished %v, want %v", projectID, rec.Unfinished, want)
	}
}

// wantFinishedByRead checks that the read of a release's context (a CI run creating a release
// again) finishes an interrupted registration: its stale repository items gone, its item whole.
func wantFinishedByRead(t *testing.T, s testStore, projectID string, repos []string) {
	t.Helper()
	_, err := s.ReleaseContext(t.Context(), projectID, nil, "")
	must(t, "ReleaseContext "+projectID, err)
	wantMapped(t, s, projectID, repos)
	wantUnfinished(t, s, projectID, false)
	_, rec, err := decodeProject(s.rawGet(t, s.state, projectKey(projectID)))
	must(t, "decode project", err)
	if diff := cmp.Diff(sortedUnique(repos), rec.MappedRepositories); diff != "" {
		t.Errorf("mapped_repositories once finished (-want +got):\n%s", diff)
	}
}

// TestDeployContextIsOneCall counts the calls a deploy's read makes.
func TestDeployContextIsOneCall(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			rec := localaws.NewCallRecorder()
			s := b.newStore(t, rec.AddTo)
			p := project("p")
			r := release(p, 1)
			must(t, "PutProject", s.PutProject(ctx, p, registered(p)))
			must(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: created(r)}))
			c := deployment(p, r, "stage", 1, 0)
			must(t, "WriteEnvironment", s.WriteEnvironment(ctx, c))

			rec.Reset()
			dc, err := s.DeployContext(ctx, "p", r.ID, "stage")
			must(t, "DeployContext", err)
			if diff := cmp.Diff(map[string]int{"dynamodb:BatchGetItem": 1}, rec.Counts()); diff != "" {
				t.Errorf("calls of DeployContext (-want +got):\n%s", diff)
			}
			if dc.Current == nil || dc.Current.DeploymentID != c.Deployment.ID || dc.Project.ID != "p" || dc.Release.ID != r.ID {
				t.Errorf("DeployContext: got %+v, want project p, release %s, current deployment %s", dc, r.ID, c.Deployment.ID)
			}
		})
	}
}

// TestCursorsStayInTheirList feeds each list the cursors of other lists: all are Invalid.
func TestCursorsStayInTheirList(t *testing.T) {
	ctx := t.Context()
	s := backends(t)[0].newStore(t)
	p, q := project("p"), project("q")
	var prev = map[string]int64{}
	for _, pr := range []shiplog.Project{p, q} {
		must(t, "PutProject", s.PutProject(ctx, pr, registered(pr)))
		for n := range 3 {
			r := release(pr, n+len(prev)*10)
			must(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: created(r)}))
			for _, env := range []string{"stage", "prod"} {
				c := deployment(pr, r, env, len(prev)*100+n*10+len(env), prev[pr.ID+env])
				must(t, "WriteEnvironment", s.WriteEnvironment(ctx, c))
				prev[pr.ID+env] = c.State.Version
			}
		}
	}
	one := shiplog.PageRequest{Limit: 1}
	cursor := func(page string, err error) string {
		t.Helper()
		must(t, "list", err)
		if page == "" {
			t.Fatalf("first page of 3 or more with limit 1: got no cursor")
		}
		return page
	}
	relP, err := s.ListReleases(ctx, "p", one)
	releasesP := cursor(relP.NextCursor, err)
	depP, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{}, one)
	deploysP := cursor(depP.NextCursor, err)
	stageP, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{Environment: "stage"}, one)
	stageCursor := cursor(stageP.NextCursor, err)

	tests := []struct {
		name   string
		list   func(cursor string) error
		cursor string
	}{
		{"p's releases cursor on q's releases", func(c string) error {
			_, err := s.ListReleases(ctx, "q", shiplog.PageRequest{Limit: 1, Cursor: c})
			return err
		}, releasesP},
		{"p's deployments cursor on q's deployments", func(c string) error {
			_, err := s.ListDeployments(ctx, "q", shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: 1, Cursor: c})
			return err
		}, deploysP},
		{"p's deployments cursor on p's stage deployments", func(c string) error {
			_, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 1, Cursor: c})
			return err
		}, deploysP},
		{"p's stage cursor on p's prod deployments", func(c string) error {
			_, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{Environment: "prod"}, shiplog.PageRequest{Limit: 1, Cursor: c})
			return err
		}, stageCursor},
		{"p's stage cursor on p's deployments", func(c string) error {
			_, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: 1, Cursor: c})
			return err
		}, stageCursor},
		{"a releases cursor on deployments", func(c string) error {
			_, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{}, shiplog.PageRequest{Limit: 1, Cursor: c})
			return err
		}, releasesP},
		{"a deployments cursor on releases", func(c string) error {
			_, err := s.ListReleases(ctx, "p", shiplog.PageRequest{Limit: 1, Cursor: c})
			return err
		}, deploysP},
	}
	for _, tt := range tests {
		wantKind(t, tt.name, tt.list(tt.cursor), shiplog.Invalid)
	}
	// And each cursor works where it belongs.
	if _, err := s.ListDeployments(ctx, "p", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 1, Cursor: stageCursor}); err != nil {
		t.Errorf("stage cursor on its own list: %v", err)
	}
}

// TestReleaseKeyItem holds an idempotency key's item to the design: pk project#{project}, sk
// relkey#{key}, its time and its TTL attribute KeyTTL later, on a table whose TTL is on.
func TestReleaseKeyItem(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s := b.newStore(t)
			p := project("storage", "team/api")
			must(t, "PutProject", s.PutProject(ctx, p, registered(p)))
			r := release(p, 1)
			k := shiplog.ReleaseKey{ProjectID: "storage", Key: "ci-7", Hash: "h", ReleaseID: r.ID, At: r.CreatedAt}
			must(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: created(r), Key: &k}))
			it := s.rawGet(t, s.state, stateKey("project#storage", "relkey#ci-7"))
			if got, want := shapes(it), "at:N,expires_at:N,hash:S,key:S,pk:S,project_id:S,release_id:S,sk:S"; got != want {
				t.Errorf("key item:\ngot  %s\nwant %s", got, want)
			}
			if n, _ := it[AttrExpiresAt].(*types.AttributeValueMemberN); n == nil || n.Value != fmt.Sprint(r.CreatedAt+86400) {
				t.Errorf("expires_at: got %v, want %d (24 hours after the key's time)", it[AttrExpiresAt], r.CreatedAt+86400)
			}
			out, err := s.admin.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &s.state})
			must(t, "DescribeTimeToLive", err)
			d := out.TimeToLiveDescription
			if d == nil || aws.ToString(d.AttributeName) != AttrExpiresAt || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
				t.Errorf("state table TTL: got %+v, want enabled on %s", d, AttrExpiresAt)
			}
		})
	}
}

// TestClaimedTurn: a contended record (one whose deploy waited or lost a race already, and so
// names its claimant) claims its turn before its transaction. While another claimant holds the
// turn for the same version, it is refused with ErrVersionConflict and writes nothing; a claim
// whose holder died lapses; a claimant may take its own claim again. An uncontended record claims
// nothing: the version condition alone decides it, as it decides every record.
func TestClaimedTurn(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s := b.newStore(t)
			// The claims' clock is the test's: on a loaded machine a real 500 ms lapsed while
			// DynamoDB Local still answered the write the claim was to refuse. It moves only
			// where the test says a claim lapses.
			now := time.Now()
			s.Now = func() time.Time { return now }
			s.ClaimTTL = time.Minute
			p := project("p")
			r := release(p, 1)
			must(t, "PutProject", s.PutProject(ctx, p, registered(p)))
			must(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: created(r)}))

			// A record of version 0 that died after claiming its turn.
			dead := deployment(p, r, "stage", 1, 0)
			dead.Retry = "deploy-1"
			if err := s.ClaimTurn(ctx, dead); err != nil {
				t.Fatalf("claimTurn: %v", err)
			}
			second := deployment(p, r, "stage", 2, 0)
			second.Retry = "deploy-2"
			if err := s.WriteEnvironment(ctx, second); !errors.Is(err, shiplog.ErrVersionConflict) {
				t.Fatalf("record while another one holds the turn: got %v, want ErrVersionConflict", err)
			}
			if it := s.rawGet(t, s.state, envKey("p", "stage")); it != nil {
				t.Errorf("state after a refused record: got %s, want none", shapes(it))
			}
			if _, err := s.GetDeployment(ctx, "p", second.Deployment.ID); !errors.Is(err, shiplog.ErrDeploymentNotFound) {
				t.Errorf("deployment of a refused record: got %v, want ErrDeploymentNotFound", err)
			}
			now = now.Add(s.ClaimTTL + time.Millisecond)
			must(t, "record once the dead claim expired", s.WriteEnvironment(ctx, second))

			// A record whose transaction fails (its release is gone) keeps its claim until it
			// lapses, against others; its own next attempt takes it again at once; a claim of
			// the next version passes an older one.
			gone := release(p, 9)
			failing := deployment(p, gone, "stage", 3, 1)
			failing.Retry = "deploy-3"
			if err := s.WriteEnvironment(ctx, failing); !errors.Is(err, shiplog.ErrReleaseNotFound) {
				t.Fatalf("record of a release not stored: got %v, want ErrReleaseNotFound", err)
			}
			other := deployment(p, r, "stage", 4, 1)
			other.Retry = "deploy-4"
			if err := s.WriteEnvironment(ctx, other); !errors.Is(err, shiplog.ErrVersionConflict) {
				t.Fatalf("record of the version another claimant holds: got %v, want ErrVersionConflict until the claim lapses", err)
			}
			again := deployment(p, r, "stage", 5, 1)
			again.Retry = "deploy-3"
			must(t, "the failed record's claimant, again", s.WriteEnvironment(ctx, again))
			next := deployment(p, r, "stage", 7, 2)
			next.Retry = "deploy-7"
			must(t, "record of the next version over the old claim", s.WriteEnvironment(ctx, next))

			// A claim held does not stop an uncontended record: it claims nothing.
			held := deployment(p, r, "stage", 8, 3)
			held.Retry = "deploy-8"
			if err := s.ClaimTurn(ctx, held); err != nil {
				t.Fatalf("claimTurn: %v", err)
			}
			must(t, "uncontended record while a claim is held", s.WriteEnvironment(ctx, deployment(p, r, "stage", 9, 3)))
		})
	}
}
