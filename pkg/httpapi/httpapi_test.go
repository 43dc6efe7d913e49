package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shiplog/shiplog/pkg/bolt"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// fallback is the identity LocalIdentity uses when a request has no X-Shiplog-User header.
var fallback = shiplog.Person{ID: "os-user", Name: "OS User"}

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// storageImages are the "latest" images of the example manifest's storage project.
var storageImages = map[string]string{
	"archivist":                     image("uk.ac.wellcome/archivist", 1),
	"bag-register":                  image("uk.ac.wellcome/bag-register", 2),
	"bag_verifier_pre_replication":  image("uk.ac.wellcome/bag_verifier", 3),
	"bag_verifier_post_replication": image("uk.ac.wellcome/bag_verifier", 3),
	"notifier":                      image("uk.ac.wellcome/notifier", 4),
}

func image(repo string, n int) string {
	return fmt.Sprintf("123456789012.dkr.ecr.eu-west-1.amazonaws.com/%s@sha256:%064x", repo, n)
}

// testEnv is a Service on a real store, registered from the example manifest, with the storage
// project's latest images pushed, and the API handler over it.
type testEnv struct {
	svc    *shiplog.Service
	params shiplog.ParameterStore
	store  shiplog.Store
	api    *httpapi.Handler
	h      http.Handler // api behind LocalIdentity
	logs   *syncBuffer
	imageN int // for deployNewRelease
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newStores opens an empty embedded store, the one the local stack runs on.
func newStores(t *testing.T) (shiplog.ParameterStore, shiplog.Store) {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "shiplog.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	params, store := newStores(t)
	return newTestEnvOn(t, params, store)
}

func newTestEnvOn(t *testing.T, params shiplog.ParameterStore, store shiplog.Store) *testEnv {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	svc := shiplog.NewService(params, store, nil, log)
	svc.Now = func() time.Time { return now }
	svc.NewID = shiplog.NewULIDGenerator(svc.Now)
	data, err := os.ReadFile("testdata/wellcome_project.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	projects, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RegisterProjects(ctx, shiplog.RegisterInput{Projects: projects}); err != nil {
		t.Fatalf("register manifest: %v", err)
	}
	latest := map[string]string{}
	for svcID, uri := range storageImages {
		latest[shiplog.ParameterName("storage", "latest", svcID)] = uri
	}
	// A parameter shaped like an unregistered project's, as another tool could leave in the account.
	latest[shiplog.ParameterName("ghost", "latest", "web")] = storageImages["archivist"]
	if err := params.PutParameters(ctx, latest); err != nil {
		t.Fatalf("put images: %v", err)
	}
	api := httpapi.NewHandler(svc, log)
	return &testEnv{svc: svc, params: params, store: store, api: api, h: httpapi.LocalIdentity(api, fallback), logs: logs}
}

// seedRelease creates a storage release and deploys it to stage, through the service.
func (e *testEnv) seedRelease(t *testing.T) shiplog.Release {
	t.Helper()
	ctx := context.Background()
	seeder := shiplog.Person{ID: "seeder", Name: "Seeder"}
	r, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage", RequestedBy: seeder})
	if err != nil {
		t.Fatalf("seed release: %v", err)
	}
	res, err := e.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage", RequestedBy: seeder})
	if err != nil {
		t.Fatalf("seed deploy: %v", err)
	}
	return res.Release
}

func (e *testEnv) do(t *testing.T, method, target, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return serve(t, e.h, method, target, body, header)
}

func serve(t *testing.T, h http.Handler, method, target, body string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("%s %s: Content-Type: got %q, want application/json", method, target, got)
	}
	if b := rec.Body.String(); !strings.HasSuffix(b, "}\n") {
		t.Errorf("%s %s: body does not end in a JSON object and a newline: %q", method, target, b)
	}
	return rec
}

// decode decodes a response body into T, refusing fields T does not have.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, rec.Body, err)
	}
	return v
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status: got %d, want %d; body %s", rec.Code, status, rec.Body)
	}
}

func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty(), storeOnly); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// storeOnly leaves out of a comparison what the store keeps for the DORA metrics (a deployment's
// Leads, a state's Pushed), which an answer of the API does not carry.
var storeOnly = cmp.Options{
	cmpopts.IgnoreFields(shiplog.Deployment{}, "Leads"),
	cmpopts.IgnoreFields(shiplog.EnvironmentState{}, "Pushed", "PushedTracked"),
}

// state is everything the store holds that the API can change.
type state struct {
	Projects    []shiplog.Project
	Releases    map[string][]shiplog.Release
	Deployments map[string][]shiplog.DeploymentRecord
	Envs        map[string][]shiplog.EnvironmentState
	Params      map[string]string
	// Events are each project's event log: a refused request adds none.
	Events map[string][]shiplog.Event
}

func (e *testEnv) snapshot(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	s := state{Releases: map[string][]shiplog.Release{}, Deployments: map[string][]shiplog.DeploymentRecord{},
		Envs: map[string][]shiplog.EnvironmentState{}, Params: map[string]string{}, Events: map[string][]shiplog.Event{}}
	var err error
	if s.Projects, err = e.store.ListProjects(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Projects {
		for page := (shiplog.PageRequest{Limit: shiplog.MaxPageLimit}); ; {
			got, err := e.store.ListReleases(ctx, p.ID, page)
			if err != nil {
				t.Fatal(err)
			}
			s.Releases[p.ID] = append(s.Releases[p.ID], got.Items...)
			if page.Cursor = got.NextCursor; page.Cursor == "" {
				break
			}
		}
		for page := (shiplog.PageRequest{Limit: shiplog.MaxPageLimit}); ; {
			got, err := e.store.ListDeployments(ctx, p.ID, shiplog.DeploymentFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			s.Deployments[p.ID] = append(s.Deployments[p.ID], got.Items...)
			if page.Cursor = got.NextCursor; page.Cursor == "" {
				break
			}
		}
		if s.Envs[p.ID], err = e.store.EnvironmentStates(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		for page := (shiplog.PageRequest{Limit: shiplog.MaxPageLimit}); ; {
			got, err := e.store.ListEvents(ctx, p.ID, shiplog.EventFilter{}, page)
			if err != nil {
				t.Fatal(err)
			}
			s.Events[p.ID] = append(s.Events[p.ID], got.Items...)
			if page.Cursor = got.NextCursor; page.Cursor == "" {
				break
			}
		}
		for _, label := range append([]string{"latest", "stable"}, p.EnvironmentIDs()...) {
			got, err := e.params.GetParametersByPath(ctx, shiplog.ParameterPath(p.ID, label))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range got {
				s.Params[k] = v
			}
		}
	}
	return s
}

const newEntry = `{
  "name": "New project",
  "environments": [{"id": "stage", "name": "Staging"}],
  "image_repositories": [{"id": "new/web", "services": ["web"]}],
  "role_arn": "arn:aws:iam::123456789012:role/platform-ci"
}`

func TestHappyPaths(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	alice := map[string]string{"X-Shiplog-User": "alice", "X-Shiplog-User-Name": "Alice Smith"}
	bob := map[string]string{"X-Shiplog-User": "bob"}

	t.Run("list projects", func(t *testing.T) {
		rec := e.do(t, "GET", "/projects", "", nil)
		wantStatus(t, rec, http.StatusOK)
		got := decode[httpapi.ItemsBody[shiplog.Project]](t, rec)
		want, _ := e.store.ListProjects(ctx)
		diff(t, "projects", got.Items, want)
		var ids []string
		for _, p := range got.Items {
			ids = append(ids, p.ID)
		}
		diff(t, "project ids", ids, []string{"bugfarm_73649", "catalogue_pipeline", "storage"})
		// Paged like every list: two pages of 2 and 1, the second from the first's cursor.
		rec = e.do(t, "GET", "/projects?limit=2", "", nil)
		wantStatus(t, rec, http.StatusOK)
		first := decode[shiplog.Page[shiplog.Project]](t, rec)
		if len(first.Items) != 2 || first.NextCursor == "" {
			t.Fatalf("first page of 2: got %d projects, cursor %q", len(first.Items), first.NextCursor)
		}
		rec = e.do(t, "GET", "/projects?limit=2&cursor="+first.NextCursor, "", nil)
		wantStatus(t, rec, http.StatusOK)
		second := decode[shiplog.Page[shiplog.Project]](t, rec)
		ids = nil
		for _, p := range append(first.Items, second.Items...) {
			ids = append(ids, p.ID)
		}
		diff(t, "project ids over two pages", ids, []string{"bugfarm_73649", "catalogue_pipeline", "storage"})
		if second.NextCursor != "" {
			t.Errorf("the last page: got cursor %q, want none", second.NextCursor)
		}
	})

	t.Run("get project", func(t *testing.T) {
		rec := e.do(t, "GET", "/projects/storage", "", nil)
		wantStatus(t, rec, http.StatusOK)
		got := decode[shiplog.Project](t, rec)
		want, _ := e.store.GetProject(ctx, "storage")
		diff(t, "project", got, want)
		diff(t, "environments", got.EnvironmentIDs(), []string{"stage", "prod"})
	})

	t.Run("put project", func(t *testing.T) {
		rec := e.do(t, "PUT", "/projects/newproj", newEntry, alice)
		wantStatus(t, rec, http.StatusCreated) // a new project
		if loc := rec.Header().Get("Location"); loc != "/projects/newproj" {
			t.Errorf("Location of a new project: got %q, want /projects/newproj", loc)
		}
		got := decode[shiplog.Project](t, rec)
		again := e.do(t, "PUT", "/projects/newproj", newEntry, alice)
		wantStatus(t, again, http.StatusOK) // the same project registered again
		if loc := again.Header().Get("Location"); loc != "" {
			t.Errorf("Location of a re-registration: got %q, want none", loc)
		}
		stored, err := e.store.GetProject(ctx, "newproj")
		if err != nil {
			t.Fatalf("stored project: %v", err)
		}
		diff(t, "response vs stored", got, stored)
		diff(t, "services", stored.Services(), []string{"web"})
		if !strings.Contains(string(stored.Manifest), `"role_arn":"arn:aws:iam::123456789012:role/platform-ci"`) {
			t.Errorf("stored manifest: got %s, want the entry as it was sent", stored.Manifest)
		}

		// Registering again replaces the registration.
		changed := strings.Replace(newEntry, `[{"id": "stage", "name": "Staging"}]`, `[{"id": "stage"}, {"id": "prod"}]`, 1)
		rec = e.do(t, "PUT", "/projects/newproj", changed, alice)
		wantStatus(t, rec, http.StatusOK)
		stored, _ = e.store.GetProject(ctx, "newproj")
		// The project's role places each environment in its account.
		platform := shiplog.Placement{AccountID: "123456789012", RoleARN: "arn:aws:iam::123456789012:role/platform-ci"}
		diff(t, "environments after update", stored.Environments, []shiplog.Environment{{ID: "stage", Name: "stage", Placement: platform}, {ID: "prod", Name: "prod", Placement: platform}})
	})

	t.Run("images", func(t *testing.T) {
		rec := e.do(t, "GET", "/projects/storage/images/latest", "", nil)
		wantStatus(t, rec, http.StatusOK)
		diff(t, "images", decode[httpapi.ImagesBody](t, rec), httpapi.ImagesBody{ProjectID: "storage", Label: "latest", Images: storageImages})

		rec = e.do(t, "GET", "/projects/storage/images/stable", "", nil)
		wantStatus(t, rec, http.StatusOK)
		if !strings.Contains(rec.Body.String(), `"images":{}`) {
			t.Errorf("images of an empty label: got %s, want \"images\":{}", rec.Body)
		}
	})

	var first, second shiplog.Release
	t.Run("create release", func(t *testing.T) {
		rec := e.do(t, "POST", "/projects/storage/releases", "", alice)
		wantStatus(t, rec, http.StatusCreated)
		first = decode[shiplog.Release](t, rec)
		stored, err := e.svc.Release(ctx, "storage", first.ID)
		if err != nil {
			t.Fatalf("stored release: %v", err)
		}
		diff(t, "response vs stored", first, stored)
		diff(t, "images", stored.Images, storageImages)
		diff(t, "requested_by", stored.RequestedBy, shiplog.Person{ID: "alice", Name: "Alice Smith", Via: shiplog.ViaAPI})
		if stored.Label != "latest" || stored.ProjectName != "Storage service" || stored.CreatedAt != now.Unix() {
			t.Errorf("stored release: got label %q, project_name %q, created_at %d; want latest, Storage service, %d",
				stored.Label, stored.ProjectName, stored.CreatedAt, now.Unix())
		}
		if got, want := rec.Header().Get("Location"), "/projects/storage/releases/"+first.ID; got != want {
			t.Errorf("Location: got %q, want %q", got, want)
		}
		body := rec.Body.String()
		if !strings.Contains(body, `"deployments":[]`) || strings.Contains(body, "last_date_deployed") {
			t.Errorf("new release body: got %s, want deployments [] and no last_date_deployed", body)
		}

		rec = e.do(t, "POST", "/projects/storage/releases", `{"label": "latest", "description": "second <one>"}`, bob)
		wantStatus(t, rec, http.StatusCreated)
		second = decode[shiplog.Release](t, rec)
		stored, _ = e.svc.Release(ctx, "storage", second.ID)
		diff(t, "second vs stored", second, stored)
		if stored.Description != "second <one>" {
			t.Errorf("description: got %q, want %q", stored.Description, "second <one>")
		}
		diff(t, "requested_by", stored.RequestedBy, shiplog.Person{ID: "bob", Name: "bob", Via: shiplog.ViaAPI})
	})

	t.Run("list releases", func(t *testing.T) {
		rec := e.do(t, "GET", "/projects/storage/releases", "", nil)
		wantStatus(t, rec, http.StatusOK)
		all := decode[shiplog.Page[shiplog.Release]](t, rec)
		diff(t, "releases", all, shiplog.Page[shiplog.Release]{Items: []shiplog.Release{second, first}})

		rec = e.do(t, "GET", "/projects/storage/releases?limit=1", "", nil)
		wantStatus(t, rec, http.StatusOK)
		p1 := decode[shiplog.Page[shiplog.Release]](t, rec)
		diff(t, "page 1", p1.Items, []shiplog.Release{second})
		if p1.NextCursor == "" {
			t.Fatalf("page 1: got no next_cursor, want one")
		}
		rec = e.do(t, "GET", "/projects/storage/releases?limit=1&cursor="+p1.NextCursor, "", nil)
		wantStatus(t, rec, http.StatusOK)
		p2 := decode[shiplog.Page[shiplog.Release]](t, rec)
		diff(t, "page 2", p2, shiplog.Page[shiplog.Release]{Items: []shiplog.Release{first}})

		rec = e.do(t, "GET", "/projects/bugfarm_73649/releases", "", nil)
		wantStatus(t, rec, http.StatusOK)
		if got := rec.Body.String(); got != "{\"items\":[]}\n" {
			t.Errorf("no releases: got %q, want {\"items\":[]}", got)
		}
	})

	t.Run("get release", func(t *testing.T) {
		for target, want := range map[string]shiplog.Release{
			"/projects/storage/releases/latest":      second,
			"/projects/storage/releases/" + first.ID: first,
		} {
			rec := e.do(t, "GET", target, "", nil)
			wantStatus(t, rec, http.StatusOK)
			diff(t, target, decode[shiplog.Release](t, rec), want)
		}
	})

	var toStage, toProd shiplog.DeployResult
	t.Run("deploy", func(t *testing.T) {
		rec := e.do(t, "POST", "/projects/storage/environments/stage/deployments",
			fmt.Sprintf(`{"release_id": %q, "description": "to stage"}`, first.ID), bob)
		wantStatus(t, rec, http.StatusCreated)
		toStage = decode[shiplog.DeployResult](t, rec)
		d := toStage.Deployment
		diff(t, "deployment", d, shiplog.Deployment{ID: d.ID, Environment: shiplog.Environment{ID: "stage", Name: "Staging"},
			CreatedAt: now.Unix(), RequestedBy: shiplog.Person{ID: "bob", Name: "bob", Via: shiplog.ViaAPI}, Description: "to stage", Kind: "deploy", Changes: d.Changes,
			Status: shiplog.StatusApplied, StatusHistory: d.StatusHistory})
		if len(d.StatusHistory) != 2 || d.StatusHistory[0].Status != shiplog.StatusRequested || d.StatusHistory[0].By.ID != "bob" {
			t.Errorf("status history of the first deploy: got %+v, want requested by bob, then applied", d.StatusHistory)
		}
		if d.Changes == nil || len(d.Changes.Added) != len(storageImages) || len(d.Changes.ParametersWritten) != len(storageImages) {
			t.Errorf("changes of the first deploy to stage: got %+v, want every service added and written", d.Changes)
		}
		stored, _ := e.svc.Release(ctx, "storage", first.ID)
		wantRel := stored
		wantRel.Deployments = []shiplog.Deployment{} // a deploy answers the release without its history
		diff(t, "response release vs stored", toStage.Release, wantRel)
		diff(t, "stored deployments", stored.Deployments, []shiplog.Deployment{d})
		if stored.LastDateDeployed != now.Unix() {
			t.Errorf("last_date_deployed: got %d, want %d", stored.LastDateDeployed, now.Unix())
		}
		params, _ := e.params.GetParametersByPath(ctx, "/storage/images/stage/")
		want := map[string]string{}
		for svcID, uri := range storageImages {
			want["/storage/images/stage/"+svcID] = uri
		}
		diff(t, "stage parameters", params, want)

		rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id": "latest"}`, alice)
		wantStatus(t, rec, http.StatusCreated)
		toProd = decode[shiplog.DeployResult](t, rec)
		if toProd.Release.ID != second.ID {
			t.Errorf("deploy latest: got release %s, want %s", toProd.Release.ID, second.ID)
		}
		stored, _ = e.svc.Release(ctx, "storage", second.ID)
		diff(t, "prod deployment requested_by", stored.Deployments[0].RequestedBy, shiplog.Person{ID: "alice", Name: "Alice Smith", Via: shiplog.ViaAPI})
	})

	t.Run("list deployments", func(t *testing.T) {
		rec := e.do(t, "GET", "/projects/storage/deployments", "", nil)
		wantStatus(t, rec, http.StatusOK)
		got := decode[shiplog.Page[shiplog.DeploymentRecord]](t, rec)
		diff(t, "deployments", got, shiplog.Page[shiplog.DeploymentRecord]{Items: []shiplog.DeploymentRecord{
			{Deployment: toProd.Deployment, ProjectID: "storage", ReleaseID: second.ID},
			{Deployment: toStage.Deployment, ProjectID: "storage", ReleaseID: first.ID},
		}})

		rec = e.do(t, "GET", "/projects/storage/deployments?environment=stage&limit=5", "", nil)
		wantStatus(t, rec, http.StatusOK)
		got = decode[shiplog.Page[shiplog.DeploymentRecord]](t, rec)
		diff(t, "stage deployments", got, shiplog.Page[shiplog.DeploymentRecord]{Items: []shiplog.DeploymentRecord{
			{Deployment: toStage.Deployment, ProjectID: "storage", ReleaseID: first.ID},
		}})
	})

	t.Run("environments", func(t *testing.T) {
		rec := e.do(t, "GET", "/projects/storage/environments", "", nil)
		wantStatus(t, rec, http.StatusOK)
		got := decode[httpapi.ItemsBody[shiplog.EnvironmentStatus]](t, rec)
		want, _ := e.svc.Environments(ctx, "storage")
		diff(t, "environments", got.Items, want)
		if len(got.Items) != 2 || got.Items[0].Current == nil || got.Items[1].Current == nil {
			t.Fatalf("environments: got %+v, want stage and prod both deployed", got.Items)
		}
		if got.Items[0].Current.ReleaseID != first.ID || got.Items[1].Current.ReleaseID != second.ID {
			t.Errorf("current releases: got %s, %s; want %s, %s", got.Items[0].Current.ReleaseID, got.Items[1].Current.ReleaseID, first.ID, second.ID)
		}
		diff(t, "stage images", got.Items[0].Current.Images, storageImages)

		rec = e.do(t, "GET", "/projects/bugfarm_73649/environments", "", nil)
		wantStatus(t, rec, http.StatusOK)
		if got, want := rec.Body.String(), `{"items":[{"environment":{"id":"stage","name":"Staging"},"current":null,"lock":null,"status":"","drift":[]}]}`+"\n"; got != want {
			t.Errorf("never deployed: got %s, want %s", got, want)
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		rec := e.do(t, "HEAD", "/projects/storage", "", nil)
		wantStatus(t, rec, http.StatusOK)
	})
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   shiplog.Person
	}{
		{"id and name", map[string]string{"X-Shiplog-User": "carol", "X-Shiplog-User-Name": "Carol Ó Briain"}, shiplog.Person{ID: "carol", Name: "Carol Ó Briain"}},
		{"id only", map[string]string{"X-Shiplog-User": "arn:aws:iam::123456789012:user/carol"}, shiplog.Person{ID: "arn:aws:iam::123456789012:user/carol", Name: "arn:aws:iam::123456789012:user/carol"}},
		{"no header", nil, fallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			ctx := context.Background()
			rec := e.do(t, "POST", "/projects/storage/releases", `{"description": "who"}`, tt.header)
			wantStatus(t, rec, http.StatusCreated)
			rel := decode[shiplog.Release](t, rec)
			rec = e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id": "`+rel.ID+`"}`, tt.header)
			wantStatus(t, rec, http.StatusCreated)
			stored, err := e.svc.Release(ctx, "storage", rel.ID)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Via = shiplog.ViaAPI // every API caller's identity is asserted by the API
			diff(t, "release requested_by", stored.RequestedBy, tt.want)
			if len(stored.Deployments) != 1 {
				t.Fatalf("deployments: got %d, want 1", len(stored.Deployments))
			}
			diff(t, "deployment requested_by", stored.Deployments[0].RequestedBy, tt.want)
			deps, _ := e.store.ListDeployments(ctx, "storage", shiplog.DeploymentFilter{Environment: "prod"}, shiplog.PageRequest{Limit: 10})
			if len(deps.Items) != 1 {
				t.Fatalf("listed deployments: got %d, want 1", len(deps.Items))
			}
			diff(t, "listed deployment requested_by", deps.Items[0].RequestedBy, tt.want)
		})
	}
}

// TestMissingIdentity: a request with no caller identity is the caller's problem (it did not
// authenticate), so writes get a 401 that says what is missing, change nothing, and reads are
// still served.
func TestMissingIdentity(t *testing.T) {
	e := newTestEnv(t)
	rel := e.seedRelease(t)
	for _, h := range []http.Handler{e.api, httpapi.LocalIdentity(e.api, shiplog.Person{})} {
		before := e.snapshot(t)
		for _, w := range []struct{ method, target, body string }{
			{"POST", "/projects/storage/releases", `{}`},
			{"POST", "/projects/storage/environments/prod/deployments", `{"release_id":"` + rel.ID + `"}`},
			{"PUT", "/projects/newproj", newEntry},
		} {
			rec := serve(t, h, w.method, w.target, w.body, nil)
			wantStatus(t, rec, http.StatusUnauthorized)
			body := decode[httpapi.ErrorBody](t, rec)
			if body.Error.Kind != "Invalid" || !strings.Contains(body.Error.Message, "no caller identity") ||
				!strings.Contains(body.Error.Message, httpapi.UserHeader) {
				t.Errorf("%s %s: got %+v, want a message naming the missing identity and %s", w.method, w.target, body, httpapi.UserHeader)
			}
		}
		diff(t, "state", e.snapshot(t), before)
		rec := serve(t, h, "GET", "/projects/storage/releases/latest", "", nil)
		wantStatus(t, rec, http.StatusOK)
	}
}

// TestBadRequests sends every kind of bad input; each must get a clear JSON error and change nothing.
func TestBadRequests(t *testing.T) {
	const mib = 1 << 20
	huge := `{"description": "` + strings.Repeat("x", mib) + `"}`
	tests := []struct {
		name           string
		method, target string
		body           string // "{rel}" stands for the seeded release's id
		header         map[string]string
		status         int
		kind           string
		msg            string // a substring of the message
		allow          string // the Allow header, for 405s
	}{
		// Routing.
		{name: "unknown route", method: "GET", target: "/nope", status: 404, kind: "NotFound", msg: "no route GET /nope"},
		{name: "trailing slash", method: "GET", target: "/projects/", status: 404, kind: "NotFound", msg: "no route GET /projects/"},
		{name: "too deep", method: "GET", target: "/projects/storage/releases/{rel}/x", status: 404, kind: "NotFound", msg: "no route"},
		{name: "wrong method on project", method: "DELETE", target: "/projects/storage", status: 405, kind: "Invalid", msg: "method DELETE is not allowed", allow: "GET, HEAD, PUT"},
		{name: "wrong method on projects", method: "POST", target: "/projects", body: `{}`, status: 405, kind: "Invalid", msg: "allowed: GET, HEAD", allow: "GET, HEAD"},
		{name: "wrong method on deployments", method: "PUT", target: "/projects/storage/environments/stage/deployments", body: `{"release_id":"{rel}"}`, status: 405, kind: "Invalid", msg: "allowed: POST", allow: "POST"},
		{name: "dot-dot segment", method: "PUT", target: "/projects/storage/../bugfarm_73649", body: newEntry, status: 400, kind: "Invalid", msg: `".." segments are not allowed`},
		{name: "dot segment", method: "GET", target: "/projects/./storage", status: 400, kind: "Invalid", msg: "segments are not allowed"},
		{name: "empty segment", method: "GET", target: "/projects//releases", status: 400, kind: "Invalid", msg: "segments are not allowed"},
		// Percent-encoding: ServeMux decodes before matching, so "pro%64" would act on prod while an
		// IAM pattern or an access log sees "pro%64". No id needs encoding; refuse it.
		{name: "encoded letter in environment", method: "POST", target: "/projects/storage/environments/pro%64/deployments", body: `{"release_id":"{rel}"}`, status: 400, kind: "Invalid", msg: `path "/projects/storage/environments/pro%64/deployments": percent-encoded characters are not allowed`},
		{name: "encoded letter in emergency environment", method: "POST", target: "/projects/storage/environments/pro%64/emergency-deployments", body: `{"release_id":"{rel}","reason":"x"}`, status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "encoded letter in project", method: "PUT", target: "/projects/stor%61ge", body: newEntry, status: 400, kind: "Invalid", msg: "percent-encoded"},
		{name: "lower-case encoding", method: "GET", target: "/projects/stor%61ge/releases", status: 400, kind: "Invalid", msg: "percent-encoded"},
		{name: "encoded fixed segment", method: "GET", target: "/projects/storage/%72eleases", status: 400, kind: "Invalid", msg: "percent-encoded"},

		// Ids in the path: "/", "..", spaces; encoded, they are refused before routing.
		{name: "project with slash", method: "GET", target: "/projects/a%2Fb", status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "project is dot-dot", method: "GET", target: "/projects/%2E%2E", status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "project with dot-dot", method: "GET", target: "/projects/a..b/releases", status: 400, kind: "Invalid", msg: `project: "a..b" must not contain ".."`},
		{name: "project with space", method: "GET", target: "/projects/a%20b", status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "put project with slash", method: "PUT", target: "/projects/new%2Fproj", body: newEntry, status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "put project with space", method: "PUT", target: "/projects/new%20proj", body: newEntry, status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "put project with dot-dot", method: "PUT", target: "/projects/new..proj", body: newEntry, status: 400, kind: "Invalid", msg: `must not contain ".."`},
		{name: "put project reserved prefix", method: "PUT", target: "/projects/aws-thing", body: newEntry, status: 400, kind: "Invalid", msg: `must not begin with "aws" or "ssm"`},
		{name: "release for project with slash", method: "POST", target: "/projects/storage%2Fx/releases", body: `{}`, status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "release id with slashes", method: "GET", target: "/projects/storage/releases/a%2F..%2Fb", status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "label with slash", method: "GET", target: "/projects/storage/images/latest%2Fx", status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "label with space", method: "GET", target: "/projects/storage/images/la%20test", status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "environment with slash", method: "POST", target: "/projects/storage/environments/st%2Fage/deployments", body: `{"release_id":"{rel}"}`, status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "environment with space", method: "POST", target: "/projects/storage/environments/st%20age/deployments", body: `{"release_id":"{rel}"}`, status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "environment is dot-dot", method: "POST", target: "/projects/storage/environments/%2E%2E/deployments", body: `{"release_id":"{rel}"}`, status: 400, kind: "Invalid", msg: "percent-encoded characters are not allowed"},
		{name: "release_id with slash", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id":"a/b"}`, status: 400, kind: "Invalid", msg: `release_id: "a/b" may contain only`},
		{name: "release_id with dot-dot", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id":"..%2F{rel}"}`, status: 400, kind: "Invalid", msg: `release_id: "..%2F`},
		{name: "label in body with space", method: "POST", target: "/projects/storage/releases", body: `{"label":"la test"}`, status: 400, kind: "Invalid", msg: `label: "la test" may contain only`},
		{name: "label in body with dot-dot", method: "POST", target: "/projects/storage/releases", body: `{"label":"../prod"}`, status: 400, kind: "Invalid", msg: `label: "../prod"`},
		{name: "environment filter with slash", method: "GET", target: "/projects/storage/deployments?environment=a%2Fb", status: 400, kind: "Invalid", msg: `environment: "a/b"`},

		// Unknown projects, releases and environments.
		{name: "unknown project", method: "GET", target: "/projects/nope", status: 404, kind: "NotFound", msg: "nope"},
		{name: "releases of unknown project", method: "GET", target: "/projects/nope/releases", status: 404, kind: "NotFound", msg: "nope"},
		{name: "latest of unknown project", method: "GET", target: "/projects/nope/releases/latest", status: 404, kind: "NotFound", msg: "nope"},
		{name: "images of unknown project", method: "GET", target: "/projects/nope/images/latest", status: 404, kind: "NotFound", msg: "nope"},
		{name: "images of unknown project with parameters", method: "GET", target: "/projects/ghost/images/latest", status: 404, kind: "NotFound", msg: "ghost"},
		{name: "deployments of unknown project", method: "GET", target: "/projects/nope/deployments", status: 404, kind: "NotFound", msg: "nope"},
		{name: "environments of unknown project", method: "GET", target: "/projects/nope/environments", status: 404, kind: "NotFound", msg: "nope"},
		{name: "release of unknown project", method: "POST", target: "/projects/nope/releases", body: `{}`, status: 404, kind: "NotFound", msg: "nope"},
		{name: "deploy to unknown project", method: "POST", target: "/projects/nope/environments/stage/deployments", body: `{"release_id":"{rel}"}`, status: 404, kind: "NotFound", msg: "nope"},
		{name: "unknown release", method: "GET", target: "/projects/storage/releases/01ARZ3NDEKTSV4RRFFQ69G5FAV", status: 404, kind: "NotFound", msg: "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
		{name: "release of another project", method: "GET", target: "/projects/bugfarm_73649/releases/{rel}", status: 404, kind: "NotFound", msg: "{rel}"},
		{name: "no releases yet", method: "GET", target: "/projects/catalogue_pipeline/releases/latest", status: 404, kind: "NotFound", msg: "has no releases yet"},
		{name: "deploy unknown release", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, status: 404, kind: "NotFound", msg: "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
		{name: "deploy latest with no releases", method: "POST", target: "/projects/bugfarm_73649/environments/stage/deployments", body: `{"release_id":"latest"}`, status: 404, kind: "NotFound", msg: "has no releases yet"},
		{name: "deploy to unknown environment", method: "POST", target: "/projects/storage/environments/prd/deployments", body: `{"release_id":"{rel}"}`, status: 404, kind: "NotFound", msg: `environment "prd" is not one of storage's: stage, prod`},
		{name: "deployments of unknown environment", method: "GET", target: "/projects/storage/deployments?environment=prd", status: 404, kind: "NotFound", msg: "stage, prod"},

		// Create-release bodies.
		{name: "truncated JSON", method: "POST", target: "/projects/storage/releases", body: `{"label":`, status: 400, kind: "Invalid", msg: "request body: the JSON ends too early"},
		{name: "not JSON", method: "POST", target: "/projects/storage/releases", body: `{label: "x"}`, status: 400, kind: "Invalid", msg: `request body: not valid JSON: unexpected 'l' at byte 1, near "{label: \"x\""`},
		{name: "array body", method: "POST", target: "/projects/storage/releases", body: `[]`, status: 400, kind: "Invalid", msg: "request body: got a JSON array, want an object with label, description"},
		{name: "string body", method: "POST", target: "/projects/storage/releases", body: `"latest"`, status: 400, kind: "Invalid", msg: "got a JSON string, want an object"},
		{name: "label is a number", method: "POST", target: "/projects/storage/releases", body: `{"label": 5}`, status: 400, kind: "Invalid", msg: "label: got a JSON number, want a string"},
		{name: "description is an object", method: "POST", target: "/projects/storage/releases", body: `{"description": {"a": 1}}`, status: 400, kind: "Invalid", msg: "description: got a JSON object, want a string"},
		{name: "unknown field", method: "POST", target: "/projects/storage/releases", body: `{"lable": "latest"}`, status: 400, kind: "Invalid", msg: `request body: unknown field "lable"; did you mean label?`},
		{name: "unknown field far from any", method: "POST", target: "/projects/storage/releases", body: `{"colour": "blue"}`, status: 400, kind: "Invalid", msg: `request body: unknown field "colour"; the fields are label, description`},
		{name: "requested_by in release body", method: "POST", target: "/projects/storage/releases", body: `{"requested_by": {"id": "mallory", "name": "M"}}`, status: 400, kind: "Invalid", msg: "requested_by: comes from your identity, not the body"},
		{name: "trailing object", method: "POST", target: "/projects/storage/releases", body: `{} {}`, status: 400, kind: "Invalid", msg: "request body: unexpected data after the JSON value"},
		{name: "trailing }", method: "POST", target: "/projects/storage/releases", body: `{}}`, status: 400, kind: "Invalid", msg: "request body: unexpected data after the JSON value"},
		{name: "trailing ]", method: "POST", target: "/projects/storage/releases", body: `{}]`, status: 400, kind: "Invalid", msg: "request body: unexpected data after the JSON value"},
		{name: "trailing } on put project", method: "PUT", target: "/projects/storage", body: newEntry + `}`, status: 400, kind: "Invalid", msg: "storage: unexpected data after the JSON value"},
		{name: "trailing garbage", method: "POST", target: "/projects/storage/releases", body: `{}x`, status: 400, kind: "Invalid", msg: "request body: unexpected data after the JSON value"},
		{name: "description too long", method: "POST", target: "/projects/storage/releases", body: `{"description": "` + strings.Repeat("d", 2000) + `"}`, status: 400, kind: "Invalid", msg: "description: is 2000 bytes long; the limit is 1024"},
		{name: "huge release body", method: "POST", target: "/projects/storage/releases", body: huge, status: 413, kind: "Invalid", msg: "is larger than the limit of 1 MiB"},
		{name: "label with no images", method: "POST", target: "/projects/storage/releases", body: `{"label": "stable"}`, status: 404, kind: "NotFound", msg: `label "stable": the label has no images (nothing under /storage/images/stable/)`},

		// Deploy bodies.
		{name: "deploy empty body", method: "POST", target: "/projects/storage/environments/prod/deployments", status: 400, kind: "Invalid", msg: "request body: is empty; want an object with release_id, from_environment, description, dry_run"},
		{name: "deploy blank body", method: "POST", target: "/projects/storage/environments/prod/deployments", body: " \n", status: 400, kind: "Invalid", msg: "request body: is empty"},
		{name: "deploy without release_id", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"description": "x"}`, status: 400, kind: "Invalid", msg: "release_id: is required"},
		{name: "deploy null body", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `null`, status: 400, kind: "Invalid", msg: "request body: got JSON null, want an object with release_id, from_environment, description, dry_run"},
		{name: "release_id is a number", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id": 5}`, status: 400, kind: "Invalid", msg: "release_id: got a JSON number, want a string"},
		{name: "requested_by in deploy body", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id":"{rel}","requested_by":{"id":"mallory"}}`, status: 400, kind: "Invalid", msg: "requested_by: comes from your identity"},
		{name: "environment in deploy body", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id":"{rel}","environment":"stage"}`, status: 400, kind: "Invalid", msg: `unknown field "environment"; did you mean from_environment?`},
		{name: "deploy malformed", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id":"{rel}",}`, status: 400, kind: "Invalid", msg: "not valid JSON"},
		{name: "release_id twice", method: "POST", target: "/projects/storage/environments/prod/deployments", body: `{"release_id":"latest","release_id":"{rel}"}`, status: 400, kind: "Invalid", msg: "release_id: appears twice"},
		{name: "description twice", method: "POST", target: "/projects/storage/releases", body: `{"description":"a","description":"b"}`, status: 400, kind: "Invalid", msg: "description: appears twice"},
		{name: "huge deploy body", method: "POST", target: "/projects/storage/environments/prod/deployments", body: huge, status: 413, kind: "Invalid", msg: "1 MiB"},

		// Project registration bodies.
		{name: "put empty body", method: "PUT", target: "/projects/newproj", status: 400, kind: "Invalid", msg: "request body: is empty; want the project's entry"},
		{name: "put malformed", method: "PUT", target: "/projects/newproj", body: `{"name": "N",`, status: 400, kind: "Invalid", msg: "newproj:"},
		{name: "put trailing data", method: "PUT", target: "/projects/newproj", body: newEntry + ` {}`, status: 400, kind: "Invalid", msg: "unexpected data after the JSON value"},
		{name: "put without name", method: "PUT", target: "/projects/newproj", body: `{"environments": [{"id": "stage"}], "image_repositories": [{"id": "new/web"}]}`, status: 400, kind: "Invalid", msg: "newproj.name: is required"},
		{name: "put name is a number", method: "PUT", target: "/projects/newproj", body: `{"name": 5, "environments": [{"id": "stage"}], "image_repositories": [{"id": "new/web"}]}`, status: 400, kind: "Invalid", msg: "name: got a JSON number, want a string"},
		{name: "put bad environment id", method: "PUT", target: "/projects/newproj", body: `{"name": "N", "environments": [{"id": "st age"}], "image_repositories": [{"id": "new/web"}]}`, status: 400, kind: "Invalid", msg: `newproj.environments[0].id: "st age"`},
		{name: "put array", method: "PUT", target: "/projects/newproj", body: `[]`, status: 400, kind: "Invalid", msg: "newproj: got a JSON array"},
		{name: "put whole manifest", method: "PUT", target: "/projects/storage", body: `{"storage": {"name": "S", "environments": [{"id": "x"}], "image_repositories": [{"id": "a/b"}]}}`, status: 400, kind: "Invalid", msg: "looks like a whole .wellcome_project file; send only the entry of storage"},
		{name: "put bad change to existing", method: "PUT", target: "/projects/storage", body: `{"name": "S", "environments": [], "image_repositories": [{"id": "a/b"}]}`, status: 400, kind: "Invalid", msg: "storage.environments: at least one environment is required"},
		{name: "put name twice", method: "PUT", target: "/projects/storage", body: `{"name": "S", "environments": [{"id": "stage"}, {"id": "prod"}], "image_repositories": [{"id": "a/b"}], "name": "T"}`, status: 400, kind: "Invalid", msg: "storage.name: appears twice"},
		{name: "put nested id twice", method: "PUT", target: "/projects/newproj", body: `{"name": "N", "environments": [{"id": "stage", "id": "prod"}], "image_repositories": [{"id": "new/web"}]}`, status: 400, kind: "Invalid", msg: "newproj.environments[0].id: appears twice"},
		{name: "put name with a bidi override", method: "PUT", target: "/projects/newproj", body: `{"name": "abc\u202edorp", "environments": [{"id": "stage"}], "image_repositories": [{"id": "new/web"}]}`, status: 400, kind: "Invalid", msg: `newproj.name: "abc\u202edorp" contains the format character U+202E`},
		{name: "description with a zero-width space", method: "POST", target: "/projects/storage/releases", body: `{"description": "pro\u200bd"}`, status: 400, kind: "Invalid", msg: "description: \"pro\\u200bd\" contains the format character U+200B"},
		{name: "huge put body", method: "PUT", target: "/projects/newproj", body: `{"name": "` + strings.Repeat("n", mib) + `"}`, status: 413, kind: "Invalid", msg: "1 MiB"},

		// Query parameters.
		{name: "limit not a number", method: "GET", target: "/projects/storage/releases?limit=abc", status: 400, kind: "Invalid", msg: `limit: "abc" is not a whole number`},
		{name: "limit fractional", method: "GET", target: "/projects/storage/releases?limit=1.5", status: 400, kind: "Invalid", msg: `limit: "1.5" is not a whole number`},
		{name: "limit zero", method: "GET", target: "/projects/storage/releases?limit=0", status: 400, kind: "Invalid", msg: "limit: 0 is not between 1 and 100"},
		{name: "limit negative", method: "GET", target: "/projects/storage/deployments?limit=-3", status: 400, kind: "Invalid", msg: "limit: -3 is not between 1 and 100"},
		{name: "limit too big", method: "GET", target: "/projects/storage/deployments?limit=101", status: 400, kind: "Invalid", msg: "limit: 101 is not between 1 and 100"},
		{name: "limit twice", method: "GET", target: "/projects/storage/releases?limit=1&limit=2", status: 400, kind: "Invalid", msg: `query: "limit" is given 2 times`},
		{name: "bad release cursor", method: "GET", target: "/projects/storage/releases?cursor=not-a-cursor!", status: 400, kind: "Invalid", msg: "cursor"},
		{name: "bad deployment cursor", method: "GET", target: "/projects/storage/deployments?cursor=%00%01", status: 400, kind: "Invalid", msg: "cursor"},
		{name: "huge cursor", method: "GET", target: "/projects/storage/releases?cursor=" + strings.Repeat("c", 3000), status: 400, kind: "Invalid", msg: "cursor"},
		{name: "misspelt parameter", method: "GET", target: "/projects/storage/releases?limt=5", status: 400, kind: "Invalid", msg: `query: "limt" is not a parameter of this route; it takes limit, cursor`},
		{name: "environment on releases", method: "GET", target: "/projects/storage/releases?environment=stage", status: 400, kind: "Invalid", msg: `"environment" is not a parameter`},
		{name: "parameter on a route without any", method: "GET", target: "/projects/storage?limit=1", status: 400, kind: "Invalid", msg: "which takes none"},
		{name: "parameter on a write", method: "POST", target: "/projects/storage/releases?label=stable", body: `{}`, status: 400, kind: "Invalid", msg: `"label" is not a parameter`},
		{name: "bad query escape", method: "GET", target: "/projects/storage/deployments?environment=%zz", status: 400, kind: "Invalid", msg: "query:"},

		// Identity headers.
		{name: "user with space", method: "POST", target: "/projects/storage/releases", body: `{}`, header: map[string]string{"X-Shiplog-User": "a b"}, status: 400, kind: "Invalid", msg: `X-Shiplog-User: "a b" must be printable characters and no spaces`},
		{name: "user too long", method: "POST", target: "/projects/storage/releases", body: `{}`, header: map[string]string{"X-Shiplog-User": strings.Repeat("u", 300)}, status: 400, kind: "Invalid", msg: "X-Shiplog-User: is 300 bytes long; the limit is 256"},
		{name: "user with control character", method: "POST", target: "/projects/storage/releases", body: `{}`, header: map[string]string{"X-Shiplog-User": "a\x7fb"}, status: 400, kind: "Invalid", msg: "X-Shiplog-User:"},
		{name: "user not UTF-8", method: "POST", target: "/projects/storage/releases", body: `{}`, header: map[string]string{"X-Shiplog-User": "a\xffb"}, status: 400, kind: "Invalid", msg: "X-Shiplog-User: is not valid UTF-8"},
		{name: "name with control character", method: "POST", target: "/projects/storage/releases", body: `{}`, header: map[string]string{"X-Shiplog-User": "a", "X-Shiplog-User-Name": "A\x01"}, status: 400, kind: "Invalid", msg: "X-Shiplog-User-Name:"},
		{name: "name without user", method: "POST", target: "/projects/storage/releases", body: `{}`, header: map[string]string{"X-Shiplog-User-Name": "Mallory"}, status: 400, kind: "Invalid", msg: "X-Shiplog-User-Name: needs X-Shiplog-User"},
		{name: "bad identity on a read", method: "GET", target: "/projects", header: map[string]string{"X-Shiplog-User": "a b"}, status: 400, kind: "Invalid", msg: "X-Shiplog-User"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			rel := e.seedRelease(t)
			fill := func(s string) string { return strings.ReplaceAll(s, "{rel}", rel.ID) }
			before := e.snapshot(t)
			rec := e.do(t, tt.method, fill(tt.target), fill(tt.body), tt.header)
			if rec.Code != tt.status {
				t.Errorf("status: got %d, want %d", rec.Code, tt.status)
			}
			got := decode[httpapi.ErrorBody](t, rec)
			if got.Error.Kind != tt.kind {
				t.Errorf("kind: got %q, want %q", got.Error.Kind, tt.kind)
			}
			if want := fill(tt.msg); !strings.Contains(got.Error.Message, want) {
				t.Errorf("message: got %q, want it to contain %q", got.Error.Message, want)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow: got %q, want %q", got, tt.allow)
			}
			for _, leak := range []string{"*shiplog", "httpapi.", "json: ", "string field", "Go struct"} {
				if strings.Contains(got.Error.Message, leak) {
					t.Errorf("message %q shows an implementation detail (%q)", got.Error.Message, leak)
				}
			}
			diff(t, "state after a refused request", e.snapshot(t), before)
		})
	}
}

// failingStore fails some calls, to reach the Internal and Unavailable paths.
type failingStore struct {
	shiplog.Store
	listErr error
}

func (s failingStore) ListProjects(ctx context.Context) ([]shiplog.Project, error) {
	if s.listErr != nil {
		return nil, s.listErr
	}
	return s.Store.ListProjects(ctx)
}

func (s failingStore) ListProjectsPage(ctx context.Context, page shiplog.PageRequest) (shiplog.Page[shiplog.Project], error) {
	if s.listErr != nil {
		return shiplog.Page[shiplog.Project]{}, s.listErr
	}
	return s.Store.ListProjectsPage(ctx, page)
}

type failingParams struct {
	shiplog.ParameterStore
	failPrefix string
}

func (p failingParams) PutParameters(ctx context.Context, params map[string]string) error {
	for name := range params {
		if strings.HasPrefix(name, p.failPrefix) {
			return errors.New("ThrottlingException: rate exceeded (secret detail)")
		}
	}
	return p.ParameterStore.PutParameters(ctx, params)
}

func TestInternalErrorIsLoggedNotShown(t *testing.T) {
	params, store := newStores(t)
	e := newTestEnvOn(t, params, failingStore{Store: store, listErr: errors.New("disk on fire at /var/secret")})
	rec := e.do(t, "GET", "/projects", "", nil)
	wantStatus(t, rec, http.StatusInternalServerError)
	diff(t, "body", decode[httpapi.ErrorBody](t, rec), httpapi.ErrorBody{Error: httpapi.ErrorDetail{Kind: "Internal", Message: "internal error"}})
	if strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("body %s shows the cause", rec.Body)
	}
	if !strings.Contains(e.logs.String(), "disk on fire at /var/secret") {
		t.Errorf("log: got %s, want the cause", e.logs)
	}
}

func TestUnavailable(t *testing.T) {
	params, store := newStores(t)
	e := newTestEnvOn(t, failingParams{ParameterStore: params, failPrefix: "/storage/images/prod/"}, store)
	rel := e.seedRelease(t)
	rec := e.do(t, "POST", "/projects/storage/environments/prod/deployments", `{"release_id":"`+rel.ID+`"}`, nil)
	wantStatus(t, rec, http.StatusServiceUnavailable)
	got := decode[httpapi.ErrorBody](t, rec)
	if got.Error.Kind != "Unavailable" || !strings.Contains(got.Error.Message, "deploy again to finish") {
		t.Errorf("error: got %+v, want Unavailable saying to deploy again", got.Error)
	}
	if !strings.Contains(e.logs.String(), "secret detail") {
		t.Errorf("log: got %s, want the cause", e.logs)
	}
}

func TestStatusOf(t *testing.T) {
	want := map[shiplog.Kind]int{
		shiplog.Internal:    500,
		shiplog.Invalid:     400,
		shiplog.NotFound:    404,
		shiplog.Conflict:    409,
		shiplog.Unavailable: 503,
		shiplog.Forbidden:   403,
	}
	for _, k := range shiplog.Kinds() {
		if got := httpapi.StatusOf(k); got != want[k] {
			t.Errorf("StatusOf(%s): got %d, want %d", k, got, want[k])
		}
	}
	if got := httpapi.StatusOf(shiplog.Kind(99)); got != 500 {
		t.Errorf("StatusOf(unknown kind): got %d, want 500", got)
	}
}

// TestRoutes checks the route table against issue 2's list and that the handler serves each route.
func TestRoutes(t *testing.T) {
	want := []string{
		"GET /projects",
		"GET /projects/{project}",
		"PUT /projects/{project}",
		"GET /projects/{project}/images/{label}",
		"POST /projects/{project}/releases",
		"GET /projects/{project}/releases",
		"GET /projects/{project}/releases/{release}",
		"GET /projects/{project}/releases/{release}/approvals",
		"POST /projects/{project}/environments/{environment}/deployments",
		"GET /projects/{project}/deployments",
		"GET /projects/{project}/deployments/{deployment}",
		"POST /projects/{project}/environments/{environment}/deployments/{deployment}/status",
		"POST /projects/{project}/environments/{environment}/deployments/{deployment}/verify",
		"POST /projects/{project}/deployments/{deployment}/status",
		"POST /projects/{project}/deployments/{deployment}/verify",
		"GET /projects/{project}/environments",
		"GET /projects/{project}/diff",
		"POST /projects/{project}/environments/{environment}/emergency-deployments",
		"PUT /projects/{project}/environments/{environment}/lock",
		"DELETE /projects/{project}/environments/{environment}/lock",
		"POST /projects/{project}/environments/{environment}/rollback",
		"POST /projects/{project}/environments/{environment}/approvals",
		"DELETE /projects/{project}/environments/{environment}/approvals",
		"PUT /projects/{project}/environments/{environment}/freezes/{freeze}",
		"DELETE /projects/{project}/environments/{environment}/freezes/{freeze}",
		"PUT /projects/{project}/freezes/{freeze}",
		"GET /projects/{project}/freezes",
		"DELETE /projects/{project}/freezes/{freeze}",
		"GET /projects/{project}/metrics",
		"GET /projects/{project}/events",
		"GET /openapi.json",
	}
	var got []string
	for _, r := range httpapi.Routes {
		got = append(got, r.Key())
	}
	diff(t, "route keys", got, want)

	e := newTestEnv(t)
	rel := e.seedRelease(t)
	staged, err := e.svc.Deployments(t.Context(), "storage", shiplog.DeploymentFilter{Environment: "stage"}, shiplog.PageRequest{Limit: 1})
	if err != nil || len(staged.Items) != 1 {
		t.Fatalf("stage's deployment: %v, %v", staged.Items, err)
	}
	for _, r := range httpapi.Routes {
		project := "storage"
		if r.Method == "PUT" {
			project = "newproj" // leave storage as the other routes expect it
		}
		ids := strings.NewReplacer("{project}", project, "{label}", "latest", "{release}", rel.ID, "{environment}", "prod", "{freeze}", "window",
			"{deployment}", staged.Items[0].ID)
		target := ids.Replace(r.Path)
		body := map[string]string{"PUT": newEntry, "POST": `{"release_id":"` + rel.ID + `"}`}[r.Method]
		if strings.HasSuffix(r.Path, "/releases") {
			body = `{}`
		}
		if req, ok := routeRequests[r.Key()]; ok {
			if req.setup != nil {
				req.setup(t, e)
			}
			if req.target != "" {
				target = ids.Replace(req.target)
			}
			target += strings.ReplaceAll(req.query, "{release}", rel.ID)
			body = strings.ReplaceAll(req.body, "{release}", rel.ID)
		}
		rec := e.do(t, r.Method, target, body, nil)
		if retiredRoutes[r.Key()] {
			if rec.Code != http.StatusGone {
				t.Errorf("%s %s: got %d %s, want 410: the route is retired", r.Method, target, rec.Code, rec.Body)
			}
			continue
		}
		if !slices.Contains([]int{200, 201}, rec.Code) {
			t.Errorf("%s %s: got %d %s, want success", r.Method, target, rec.Code, rec.Body)
		}
	}
}

// TestPanicIsInternalError: a panic below the handler still gets a JSON 500, with the cause logged.
func TestPanicIsInternalError(t *testing.T) {
	logs := &syncBuffer{}
	h := httpapi.NewHandler(nil, slog.New(slog.NewJSONHandler(logs, nil))) // a nil Service panics
	rec := serve(t, h, "GET", "/projects", "", nil)
	wantStatus(t, rec, http.StatusInternalServerError)
	diff(t, "body", decode[httpapi.ErrorBody](t, rec), httpapi.ErrorBody{Error: httpapi.ErrorDetail{Kind: "Internal", Message: "internal error"}})
	if !strings.Contains(logs.String(), "panic") {
		t.Errorf("log: got %s, want the panic logged", logs)
	}
}

// TestPutProjectRetire: re-registering a project without an environment that has deployments is
// a 409 naming it, unless ?retire= names it.
func TestPutProjectRetire(t *testing.T) {
	e := newTestEnv(t)
	e.seedRelease(t) // deployed to stage
	entry := `{"name": "Storage service", "environments": [{"id": "prod", "name": "Production"}],
	  "image_repositories": [{"id": "uk.ac.wellcome/archivist"}]}`
	before := e.snapshot(t)
	rec := e.do(t, "PUT", "/projects/storage", entry, nil)
	wantStatus(t, rec, http.StatusConflict)
	if msg := decode[httpapi.ErrorBody](t, rec).Error.Message; !strings.Contains(msg, "drops environment stage") || !strings.Contains(msg, "?retire=stage") {
		t.Errorf("message: got %q, want it to name stage and ?retire=stage", msg)
	}
	diff(t, "state after the refusal", e.snapshot(t), before)
	rec = e.do(t, "PUT", "/projects/storage?retire=stage", entry, nil)
	wantStatus(t, rec, http.StatusOK)
	if got := decode[shiplog.Project](t, rec).EnvironmentIDs(); !slices.Equal(got, []string{"prod"}) {
		t.Errorf("environments: got %v, want [prod]", got)
	}
}
