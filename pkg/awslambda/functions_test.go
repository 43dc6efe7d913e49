package awslambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// releaseFields are the JSON names of a release record: the design note's attribute names.
// last_date_deployed is absent until the release is deployed.
var releaseFields = []string{"created_at", "deployment_count", "deployments", "description", "images", "label", "project_id",
	"project_name", "release_id", "release_manifest", "requested_by"}

var deploymentFields = []string{"changes", "created_at", "deployment_id", "description", "environment", "kind", "requested_by", "status", "status_history"}

// storageEntry is the storage project's entry of the example manifest, as registered (compact).
func storageEntry(t *testing.T) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(readFile(t, "wellcome_project.json"), &m); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, m["storage"]); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// manifestString is the example manifest as a JSON string, as CI sends the file's text.
func manifestString(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(string(readFile(t, "wellcome_project.json")))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func manifestObject(t *testing.T) string {
	t.Helper()
	return string(readFile(t, "wellcome_project.json"))
}

// storageOnly is a manifest that declares only the storage project, renamed: registering it is
// visible in the store.
const storageOnly = `{"storage": {"name": "Storage v2", "environments": [{"id": "stage", "name": "Staging"}],
	"image_repositories": [{"id": "uk.ac.wellcome/archivist"}]}}`

// anonymousInvoker is the requester of an invocation that names none.
var anonymousInvoker = shiplog.Person{ID: shiplog.AnonymousPerson.ID, Name: shiplog.AnonymousPerson.Name, Via: shiplog.ViaInvoke}

func TestCreateRelease(t *testing.T) {
	ci := shiplog.Person{ID: "github-actions", Name: "GitHub Actions", Via: shiplog.ViaInvoke}
	tests := []struct {
		name          string
		register      bool // register the example manifest first
		payload       string
		wantBy        shiplog.Person
		wantLabel     string
		wantDesc      string
		wantProjects  []string // registered afterwards
		notRegistered string   // the response's not_registered, "" for none
	}{
		{
			name:         "registered project with defaults",
			register:     true,
			payload:      `{"project_id": "storage"}`,
			wantBy:       anonymousInvoker,
			wantLabel:    "latest",
			wantProjects: manifestProjects,
		},
		{
			name:          "manifest as an object registers its project",
			payload:       `{"project_id": "storage", "label": "latest", "description": "nightly", "requested_by": {"id": "github-actions", "name": "GitHub Actions"}, "manifest": ` + manifestObject(t) + `}`,
			wantBy:        ci,
			wantLabel:     "latest",
			wantDesc:      "nightly",
			wantProjects:  []string{"storage"},
			notRegistered: `["bugfarm_73649","catalogue_pipeline"]`,
		},
		{
			name:          "manifest as a string registers its project",
			payload:       `{"project_id": "storage", "requested_by": {"id": "ci"}, "manifest": ` + manifestString(t) + `}`,
			wantBy:        shiplog.Person{ID: "ci", Name: "ci", Via: shiplog.ViaInvoke},
			wantLabel:     "latest",
			wantProjects:  []string{"storage"},
			notRegistered: `["bugfarm_73649","catalogue_pipeline"]`,
		},
		{
			name:         "null manifest is no manifest",
			register:     true,
			payload:      `{"project_id": "storage", "manifest": null}`,
			wantBy:       anonymousInvoker,
			wantLabel:    "latest",
			wantProjects: manifestProjects,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t).withImages(t)
			if tt.register {
				e.registered(t)
			}
			out, err := awslambda.CreateRelease(e.svc, e.log, awslambda.AllowAll()).Invoke(context.Background(), []byte(tt.payload))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			wantFields := releaseFields
			if tt.notRegistered != "" {
				wantFields = slices.Sorted(slices.Values(append(slices.Clone(releaseFields), "not_registered")))
				if got := string(field(t, out, "not_registered")); got != tt.notRegistered {
					t.Errorf("not_registered: got %s, want %s", got, tt.notRegistered)
				}
			}
			if got := keys(t, out); !slices.Equal(got, wantFields) {
				t.Errorf("release fields: got %v, want %v", got, wantFields)
			}
			if got, want := string(field(t, out, "created_at")), fmt.Sprint(now.Unix()); got != want {
				t.Errorf("created_at: got %s, want the number %s", got, want)
			}
			if got := string(field(t, out, "deployments")); got != "[]" {
				t.Errorf("deployments: got %s, want []", got)
			}
			if got := keys(t, field(t, out, "requested_by")); !slices.Equal(got, []string{"id", "name", "via"}) {
				t.Errorf("requested_by fields: got %v, want [id name via]", got)
			}
			var got shiplog.Release
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := shiplog.Release{
				ID: id(1), ProjectID: "storage", ProjectName: "Storage service", CreatedAt: now.Unix(),
				Manifest: storageEntry(t), RequestedBy: tt.wantBy, Images: storageImages,
				Label: tt.wantLabel, Description: tt.wantDesc, Deployments: []shiplog.Deployment{},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			stored, err := e.store.GetRelease(context.Background(), "storage", got.ID)
			if err != nil {
				t.Fatalf("stored release: %v", err)
			}
			if diff := cmp.Diff(want, stored); diff != "" {
				t.Errorf("stored release (-want +got):\n%s", diff)
			}
			var projects []string
			for _, p := range e.snapshot(t).Projects {
				projects = append(projects, p.ID)
			}
			if !slices.Equal(projects, tt.wantProjects) {
				t.Errorf("registered projects: got %v, want %v", projects, tt.wantProjects)
			}
		})
	}
}

func TestDeploy(t *testing.T) {
	tests := []struct {
		name    string
		payload string // {release} is the release id
		wantEnv shiplog.Environment
		wantBy  shiplog.Person
		desc    string
	}{
		{
			name:    "release by id",
			payload: `{"project_id": "storage", "release_id": "{release}", "environment": "stage", "description": "storage to stage", "requested_by": {"id": "alice", "name": "Alice"}}`,
			wantEnv: shiplog.Environment{ID: "stage", Name: "Staging"},
			wantBy:  shiplog.Person{ID: "alice", Name: "Alice", Via: shiplog.ViaInvoke},
			desc:    "storage to stage",
		},
		{
			name:    "latest release",
			payload: `{"project_id": "storage", "release_id": "latest", "environment": "prod"}`,
			wantEnv: shiplog.Environment{ID: "prod", Name: "Production"},
			wantBy:  anonymousInvoker,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t).registered(t).withImages(t)
			fns := e.functions()
			created, err := fns[awslambda.CreateReleaseName].Invoke(context.Background(), []byte(`{"project_id": "storage"}`))
			if err != nil {
				t.Fatalf("create release: %v", err)
			}
			var rel shiplog.Release
			if err := json.Unmarshal(created, &rel); err != nil {
				t.Fatal(err)
			}
			if field(t, created, "last_date_deployed") != nil {
				t.Errorf("last_date_deployed: present before any deployment: %s", created)
			}

			out, err := fns[awslambda.DeployName].Invoke(context.Background(), []byte(strings.ReplaceAll(tt.payload, "{release}", rel.ID)))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got := keys(t, out); !slices.Equal(got, []string{"deployment", "release"}) {
				t.Errorf("response fields: got %v, want [deployment release]", got)
			}
			if got := keys(t, field(t, out, "deployment")); !slices.Equal(got, deploymentFields) {
				t.Errorf("deployment fields: got %v, want %v", got, deploymentFields)
			}
			wantRelFields := append(slices.Clone(releaseFields), "last_date_deployed")
			slices.Sort(wantRelFields)
			if got := keys(t, field(t, out, "release")); !slices.Equal(got, wantRelFields) {
				t.Errorf("release fields: got %v, want %v", got, wantRelFields)
			}

			var got shiplog.DeployResult
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			wantDep := shiplog.Deployment{ID: id(2), Environment: tt.wantEnv, CreatedAt: now.Unix(), RequestedBy: tt.wantBy, Description: tt.desc,
				Kind: "deploy", Changes: &shiplog.Changes{Changed: []string{}, Added: slices.Sorted(maps.Keys(storageImages)), Removed: []string{}},
				Status: shiplog.StatusApplied, StatusHistory: []shiplog.StatusEntry{
					{Status: shiplog.StatusRequested, At: now.Unix(), By: tt.wantBy},
					{Status: shiplog.StatusApplied, At: now.Unix(), By: shiplog.Person{ID: "shiplog", Name: "shiplog"}, Detail: "every parameter written"},
				}}
			for _, svc := range wantDep.Changes.Added {
				wantDep.Changes.ParametersWritten = append(wantDep.Changes.ParametersWritten, shiplog.ParameterName("storage", tt.wantEnv.ID, svc))
			}
			wantRel := rel
			wantRel.LastDateDeployed = now.Unix()
			wantRel.DeploymentCount = 1
			wantRel.Deployments = []shiplog.Deployment{} // a deploy answers the release without its history
			if diff := cmp.Diff(shiplog.DeployResult{Deployment: wantDep, Release: wantRel}, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}

			wantRel.Deployments = []shiplog.Deployment{wantDep}
			stored, err := e.svc.Release(context.Background(), "storage", rel.ID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantRel, stored, storeOnly); diff != "" {
				t.Errorf("stored release (-want +got):\n%s", diff)
			}
			wantParams := map[string]string{}
			for svc, uri := range storageImages {
				wantParams[shiplog.ParameterName("storage", "latest", svc)] = uri
				wantParams[shiplog.ParameterName("storage", tt.wantEnv.ID, svc)] = uri
			}
			if diff := cmp.Diff(wantParams, e.snapshot(t).Params); diff != "" {
				t.Errorf("stored parameters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGolden holds the whole output of create-release and deploy, byte for byte, to golden files.
func TestGolden(t *testing.T) {
	e := newEnv(t).withImages(t)
	fns := e.functions()
	rel, err := fns[awslambda.CreateReleaseName].Invoke(context.Background(), []byte(
		`{"project_id": "storage", "description": "nightly", "requested_by": {"id": "github-actions", "name": "ci"}, "manifest": `+manifestObject(t)+`}`))
	if err != nil {
		t.Fatalf("create-release: %v", err)
	}
	golden(t, "create-release.json", rel)
	dep, err := fns[awslambda.DeployName].Invoke(context.Background(), []byte(
		`{"project_id": "storage", "release_id": "latest", "environment": "stage", "requested_by": {"id": "alice"}}`))
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	golden(t, "deploy.json", dep)
}

type badInput struct {
	name     string
	payload  string
	wantType string
	want     string // in the message
}

// bad inputs common to both functions, whose payloads are JSON objects.
var badPayloads = []badInput{
	{"empty payload", ``, "Invalid", "payload: is empty"},
	{"blank payload", " \n\t", "Invalid", "payload: is empty"},
	{"null", `null`, "Invalid", "payload: got JSON null, want an object with project_id"},
	{"array", `[{"project_id": "storage"}]`, "Invalid", "payload: got a JSON"},
	{"string", `"storage"`, "Invalid", "payload: got a JSON"},
	{"number", `42`, "Invalid", "payload: got a JSON"},
	{"malformed JSON", `{"project_id": storage}`, "Invalid", "payload: not valid JSON"},
	{"truncated JSON", `{"project_id": "storage"`, "Invalid", "payload: the JSON ends too early"},
	{"trailing brace", `{"project_id": "storage"}}`, "Invalid", "payload: unexpected data after the JSON value"},
	{"trailing bracket", `{"project_id": "storage"}]`, "Invalid", "payload: unexpected data after the JSON value"},
	{"two objects", `{"project_id": "storage"} {"project_id": "storage"}`, "Invalid", "payload: unexpected data after the JSON value"},
	{"unknown field", `{"project_id": "storage", "projectId": "storage"}`, "Invalid", `payload: unknown field "projectId"; did you mean project_id?`},
	{"project_id a number", `{"project_id": 5}`, "Invalid", "project_id: got a JSON number, want a string"},
	{"project_id an object", `{"project_id": {"id": "storage"}}`, "Invalid", "project_id: got a JSON object, want a string"},
	{"description a boolean", `{"project_id": "storage", "description": true}`, "Invalid", "description: got a JSON boolean, want a string"},
	{"requested_by a string", `{"project_id": "storage", "requested_by": "alice"}`, "Invalid", "requested_by: got a JSON string, want an object with id, name"},
	{"requested_by.id a number", `{"project_id": "storage", "requested_by": {"id": 7}}`, "Invalid", "requested_by.id: got a JSON number, want a string"},
	{"requested_by unknown field", `{"project_id": "storage", "requested_by": {"id": "alice", "email": "a@example.org"}}`, "Invalid", "requested_by.email: unknown field; the fields are id, name"},
	{"requested_by with an ANSI escape", `{"project_id": "storage", "requested_by": {"id": "ci\u001b[2J"}}`, "Invalid", "requested_by.id: \"ci\\x1b[2J\" contains the control character U+001B"},
	{"requested_by name with a newline", `{"project_id": "storage", "requested_by": {"id": "ci", "name": "CI\nroot"}}`, "Invalid", "requested_by.name: "},
	{"requested_by claiming the API channel", `{"project_id": "storage", "requested_by": {"id": "ci", "via": "api"}}`, "Invalid", "requested_by.via: unknown field"},
	{"project_id twice", `{"project_id": "nope", "project_id": "storage"}`, "Invalid", "project_id: appears twice"},
	{"requested_by.id twice", `{"project_id": "storage", "requested_by": {"id": "alice", "id": "ecs"}}`, "Invalid", "requested_by.id: appears twice"},
	{"requested_by name with a bidi override", `{"project_id": "storage", "requested_by": {"id": "ci", "name": "abc\u202edorp"}}`, "Invalid", `requested_by.name: "abc\u202edorp" contains the format character U+202E`},
	{"requested_by id with a zero-width space", `{"project_id": "storage", "requested_by": {"id": "ec\u200bs"}}`, "Invalid", "requested_by.id: \"ec\\u200bs\" contains the format character U+200B"},
	{"description with a byte order mark", `{"project_id": "storage", "description": "\ufeffnightly"}`, "Invalid", "description: \"\\ufeffnightly\" contains the format character U+FEFF"},
	{"project_id missing", `{"description": "x"}`, "Invalid", "project_id: is required"},
	{"project_id empty", `{"project_id": ""}`, "Invalid", "project_id: is required"},
	{"project_id with a slash", `{"project_id": "storage/../bugfarm_73649"}`, "Invalid", "project_id: "},
	{"project_id with a space", `{"project_id": "storage service"}`, "Invalid", "project_id: "},
	{"project_id dot dot", `{"project_id": ".."}`, "Invalid", "project_id: "},
}

func TestCreateReleaseBadInput(t *testing.T) {
	long := strings.Repeat("x", 1025)
	tests := append(slices.Clone(badPayloads), []badInput{
		{"label a list", `{"project_id": "storage", "label": ["latest"]}`, "Invalid", "label: got a JSON array, want a string"},
		{"label with a slash", `{"project_id": "storage", "label": "latest/archivist"}`, "Invalid", "label: "},
		{"label dot dot", `{"project_id": "storage", "label": ".."}`, "Invalid", "label: "},
		{"description too long", `{"project_id": "storage", "description": "` + long + `"}`, "Invalid", "description: is 1025 bytes long"},
		{"requested_by without id", `{"project_id": "storage", "requested_by": {"name": "Alice"}}`, "Invalid", "requested_by.id: is required"},
		{"unknown project", `{"project_id": "nope"}`, "NotFound", "nope"},
		{"label with no images", `{"project_id": "storage", "label": "stable"}`, "NotFound", `label "stable": the label has no images`},
		{"manifest a number", `{"project_id": "storage", "manifest": 5}`, "Invalid", "manifest: "},
		{"manifest an array", `{"project_id": "storage", "manifest": [` + manifestObject(t) + `]}`, "Invalid", "manifest: "},
		{"manifest a string that is not JSON", `{"project_id": "storage", "manifest": "storage: {}"}`, "Invalid", "manifest: "},
		{"manifest an empty string", `{"project_id": "storage", "manifest": ""}`, "Invalid", "manifest: "},
		{"manifest with a bad entry", `{"project_id": "storage", "manifest": {"storage": {"name": 5}}}`, "Invalid", "storage.name"},
		{"manifest with a bad service id", `{"project_id": "storage", "manifest": {"storage": {"name": "S", "environments": [{"id": "stage"}], "image_repositories": [{"id": "r/x", "services": ["a/b"]}]}}}`, "Invalid", "storage.image_repositories[0].services[0]"},
		{"manifest with a name twice", `{"project_id": "storage", "manifest": {"storage": {"name": "S", "name": "T", "environments": [{"id": "stage"}], "image_repositories": [{"id": "r/x"}]}}}`, "Invalid", "manifest.storage.name: appears twice"},
		{"manifest string with a name twice", `{"project_id": "storage", "manifest": "{\"storage\": {\"name\": \"S\", \"name\": \"T\", \"environments\": [{\"id\": \"stage\"}], \"image_repositories\": [{\"id\": \"r/x\"}]}}"}`, "Invalid", "storage.name: appears twice"},
		{"manifest not declaring the project", `{"project_id": "storage", "manifest": {"bugfarm_73649": {"name": "Bug farm v2", "environments": [{"id": "stage"}], "image_repositories": [{"id": "bugfarm/hatching"}]}}}`, "Invalid", `manifest: does not declare project "storage"`},
		{"manifest with an unknown project_id", `{"project_id": "nope", "manifest": ` + storageOnly + `}`, "Invalid", `manifest: does not declare project "nope"`},
		{"manifest with a bad project_id", `{"project_id": "storage/x", "manifest": ` + storageOnly + `}`, "Invalid", "project_id: "},
		{"manifest with a bad label", `{"project_id": "storage", "label": "a/b", "manifest": ` + storageOnly + `}`, "Invalid", "label: "},
		{"manifest with a too long description", `{"project_id": "storage", "description": "` + strings.Repeat("x", 1025) + `", "manifest": ` + storageOnly + `}`, "Invalid", "description: "},
		{"manifest with requested_by lacking an id", `{"project_id": "storage", "requested_by": {"name": "x"}, "manifest": ` + storageOnly + `}`, "Invalid", "requested_by.id"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t).registered(t).withImages(t)
			before := e.snapshot(t)
			out, err := awslambda.CreateRelease(e.svc, e.log, awslambda.AllowAll()).Invoke(context.Background(), []byte(tt.payload))
			checkRefused(t, out, err, tt)
			e.unchanged(t, before)
		})
	}
}

func TestDeployBadInput(t *testing.T) {
	var tests []badInput
	for _, b := range badPayloads {
		// The same mistakes, in a deploy payload that is otherwise whole.
		b.payload = strings.Replace(b.payload, `{"project_id": `, `{"release_id": "latest", "environment": "stage", "project_id": `, 1)
		tests = append(tests, b)
	}
	tests = append(tests, []badInput{
		{"release_id missing", `{"project_id": "storage", "environment": "stage"}`, "Invalid", "release_id: is required"},
		{"environment missing", `{"project_id": "storage", "release_id": "latest"}`, "Invalid", "environment: is required"},
		{"release_id a number", `{"project_id": "storage", "release_id": 1, "environment": "stage"}`, "Invalid", "release_id: got a JSON number, want a string"},
		{"release_id with a slash", `{"project_id": "storage", "release_id": "latest/x", "environment": "stage"}`, "Invalid", "release_id: "},
		{"environment with a slash", `{"project_id": "storage", "release_id": "latest", "environment": "stage/../prod"}`, "Invalid", "environment: "},
		{"environment with a space", `{"project_id": "storage", "release_id": "latest", "environment": "stage prod"}`, "Invalid", "environment: "},
		{"label is not a deploy field", `{"project_id": "storage", "release_id": "latest", "environment": "stage", "label": "latest"}`, "Invalid", `unknown field "label"`},
		{"requested_by without id", `{"project_id": "storage", "release_id": "latest", "environment": "stage", "requested_by": {"name": "Alice"}}`, "Invalid", "requested_by.id: is required"},
		{"unknown environment", `{"project_id": "storage", "release_id": "latest", "environment": "qa"}`, "NotFound", `environment "qa" is not one of storage's: stage, prod`},
		{"unknown release", `{"project_id": "storage", "release_id": "01JTEST9999999999999999999", "environment": "stage"}`, "NotFound", "01JTEST9999999999999999999"},
		{"unknown project", `{"project_id": "nope", "release_id": "latest", "environment": "stage"}`, "NotFound", "nope"},
		{"project without releases", `{"project_id": "bugfarm_73649", "release_id": "latest", "environment": "stage"}`, "NotFound", "bugfarm_73649 has no releases"},
	}...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t).registered(t).withImages(t)
			if _, err := e.svc.CreateRelease(context.Background(), shiplog.CreateReleaseInput{ProjectID: "storage"}); err != nil {
				t.Fatalf("create release: %v", err)
			}
			before := e.snapshot(t)
			out, err := awslambda.Deploy(e.svc, e.log, awslambda.AllowAll()).Invoke(context.Background(), []byte(tt.payload))
			checkRefused(t, out, err, tt)
			e.unchanged(t, before)
		})
	}
}

func checkRefused(t *testing.T, out []byte, err error, tt badInput) {
	t.Helper()
	ire := invocationError(t, err)
	if out != nil {
		t.Errorf("got output %s with the error, want none", out)
	}
	if ire.Type != tt.wantType {
		t.Errorf("errorType: got %q, want %q (message %q)", ire.Type, tt.wantType, ire.Message)
	}
	if !strings.Contains(ire.Message, tt.want) {
		t.Errorf("errorMessage: got %q, want it to contain %q", ire.Message, tt.want)
	}
	checkNoGoNames(t, ire.Message)
}

// failingParams is a parameter store whose dependency is broken: every call fails with a plain
// error, as an SDK error the adapter did not classify would. The embedded store only makes it
// satisfy the interface.
type failingParams struct {
	shiplog.ParameterStore
	err error
}

func (f failingParams) GetParameter(context.Context, string) (string, error) { return "", f.err }

func (f failingParams) GetParameters(context.Context, []string) (map[string]string, error) {
	return nil, f.err
}

func (f failingParams) GetParametersByPath(context.Context, string) (map[string]string, error) {
	return nil, f.err
}

func (f failingParams) PutParameters(context.Context, map[string]string) error { return f.err }

// TestInternalError checks that a fault of a dependency reaches the caller as a generic message
// while the log has the cause.
func TestInternalError(t *testing.T) {
	cause := errors.New("operation error SSM: GetParametersByPath, dial tcp 10.0.0.1:443: connection reset by peer")
	tests := []struct {
		name     string
		function string
		payload  []byte
		wantType string
		wantMsg  string
		wantLog  string // the level of the log line
	}{
		{"create-release", awslambda.CreateReleaseName, []byte(`{"project_id": "storage"}`), "Internal", "internal error", `"level":"ERROR"`},
		{"ecr-push", awslambda.ECRPushName, nil, "Internal", "internal error", `"level":"ERROR"`},
		// A deploy whose parameter writes fail is recorded and can be finished by deploying
		// again: Unavailable says so, but not why.
		{"deploy", awslambda.DeployName, []byte(`{"project_id": "storage", "release_id": "latest", "environment": "stage"}`),
			"Unavailable", "deployment " + id(2) + " is recorded but writing its parameters failed; deploy again to finish", `"level":"ERROR"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(p shiplog.ParameterStore) shiplog.ParameterStore { return failingParams{p, cause} })
			e.registered(t)
			if tt.function == awslambda.DeployName {
				e.svc.Params = e.store // a release to deploy, made while SSM works
				e.withImages(t)
				if _, err := e.svc.CreateRelease(context.Background(), shiplog.CreateReleaseInput{ProjectID: "storage"}); err != nil {
					t.Fatal(err)
				}
				e.svc.Params = failingParams{e.store, cause}
			}
			payload := tt.payload
			if payload == nil {
				payload = readFile(t, "ecr-push-tagged.json")
			}
			_, err := e.functions()[tt.function].Invoke(context.Background(), payload)
			ire := invocationError(t, err)
			if ire.Type != tt.wantType || ire.Message != tt.wantMsg {
				t.Errorf("got %s %q, want %s %q", ire.Type, ire.Message, tt.wantType, tt.wantMsg)
			}
			if strings.Contains(ire.Message, "connection reset") {
				t.Errorf("message %q shows the cause", ire.Message)
			}
			logs := e.logs.String()
			for _, want := range []string{"connection reset by peer", `"function":"` + tt.function + `"`, `"kind":"` + tt.wantType + `"`, tt.wantLog} {
				if !strings.Contains(logs, want) {
					t.Errorf("log does not contain %s:\n%s", want, logs)
				}
			}
		})
	}
}

// TestCreateReleaseRegistersOnlyItsProject: a create-release manifest registers the entry of the
// project released and nothing else, so one team's CI cannot rewrite another team's environments
// or repository mappings (and through a later push, its images), whether or not the release is
// made; the response says which entries were left alone.
func TestCreateReleaseRegistersOnlyItsProject(t *testing.T) {
	hostile := `{"attacker": {"name": "A", "environments": [{"id": "stage"}], "image_repositories": [{"id": "attacker/app"}]},
		"storage": {"name": "Pwned", "environments": [{"id": "stage"}], "image_repositories": [{"id": "attacker/app", "services": ["archivist"]}]}}`
	ctx := context.Background()
	t.Run("refused release", func(t *testing.T) {
		e := newEnv(t).registered(t).withImages(t)
		before, err := e.store.GetProject(ctx, "storage")
		if err != nil {
			t.Fatal(err)
		}
		_, err = awslambda.CreateRelease(e.svc, e.log, awslambda.AllowAll()).Invoke(ctx, []byte(`{"project_id": "attacker", "manifest": `+hostile+`}`))
		if ire := invocationError(t, err); ire.Type != "Conflict" {
			t.Errorf("errorType: got %s (%s), want Conflict (attacker has no images)", ire.Type, ire.Message)
		}
		after, err := e.store.GetProject(ctx, "storage")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("storage's registration changed (-before +after):\n%s", diff)
		}
		refs, err := e.store.RepositoryServices(ctx, "attacker/app")
		if err != nil {
			t.Fatal(err)
		}
		if want := []shiplog.ServiceRef{{ProjectID: "attacker", ServiceID: "app"}}; !cmp.Equal(refs, want) {
			t.Errorf("services of attacker/app: got %v, want %v", refs, want)
		}
	})
	t.Run("release made", func(t *testing.T) {
		e := newEnv(t).registered(t).withImages(t)
		before, err := e.store.GetProject(ctx, "bugfarm_73649")
		if err != nil {
			t.Fatal(err)
		}
		m := `{"storage": ` + storageEntry(t) + `, "bugfarm_73649": {"name": "Pwned", "environments": [{"id": "x"}], "image_repositories": [{"id": "bugfarm/hatching"}]}}`
		out, err := awslambda.CreateRelease(e.svc, e.log, awslambda.AllowAll()).Invoke(ctx, []byte(`{"project_id": "storage", "manifest": `+m+`}`))
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		if got := string(field(t, out, "not_registered")); got != `["bugfarm_73649"]` {
			t.Errorf("not_registered: got %s, want [\"bugfarm_73649\"]", got)
		}
		after, err := e.store.GetProject(ctx, "bugfarm_73649")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("bugfarm_73649's registration changed (-before +after):\n%s", diff)
		}
	})
}

// TestCreateReleaseRetireEnvironments: a create-release manifest that drops an environment that
// has deployments is refused unless retire_environments names it.
func TestCreateReleaseRetireEnvironments(t *testing.T) {
	e := newEnv(t).registered(t).withImages(t)
	ctx := context.Background()
	r, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: r.ID, Environment: "stage"}); err != nil {
		t.Fatal(err)
	}
	m := `{"storage": {"name": "Storage v2", "environments": [{"id": "prod"}], "image_repositories": [{"id": "uk.ac.wellcome/archivist"}]}}`
	fn := awslambda.CreateRelease(e.svc, e.log, awslambda.AllowAll())
	before := e.snapshot(t)
	_, err = fn.Invoke(ctx, []byte(`{"project_id": "storage", "manifest": `+m+`}`))
	if ire := invocationError(t, err); ire.Type != "Conflict" || !strings.Contains(ire.Message, "retire_environments") {
		t.Errorf("dropping stage: got %s %q, want a Conflict that says how to retire it", ire.Type, ire.Message)
	}
	e.unchanged(t, before)
	if _, err := fn.Invoke(ctx, []byte(`{"project_id": "storage", "retire_environments": ["stage"], "manifest": `+m+`}`)); err != nil {
		t.Fatalf("dropping stage, retired: %v", err)
	}
	p, err := e.store.GetProject(ctx, "storage")
	if err != nil || !slices.Equal(p.EnvironmentIDs(), []string{"prod"}) {
		t.Errorf("storage after retiring stage: got %v, %v, want environments [prod]", p.EnvironmentIDs(), err)
	}
}

// storeOnly leaves out of a comparison what the store keeps of a deployment for the DORA metrics
// (Leads), which an answer of the API does not carry.
var storeOnly = cmpopts.IgnoreFields(shiplog.Deployment{}, "Leads")
