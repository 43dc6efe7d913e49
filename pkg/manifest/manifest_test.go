package manifest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func wantError(t *testing.T, what string, err error, k shiplog.Kind, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %v", what, k)
	}
	if got := shiplog.KindOf(err); got != k {
		t.Errorf("%s: got kind %v (%v), want %v", what, got, err, k)
	}
	for _, p := range parts {
		if !strings.Contains(shiplog.MessageOf(err), p) {
			t.Errorf("%s: got message %q, want it to contain %q", what, shiplog.MessageOf(err), p)
		}
	}
}

func diff(t *testing.T, what string, got, want any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, append(opts, cmpopts.EquateEmpty())...); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

// Manifests.

func TestParseManifestExample(t *testing.T) {
	data := readFile(t, "wellcome_project.json")
	projects, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range projects {
		ids = append(ids, p.ID)
	}
	diff(t, "project ids", ids, []string{"bugfarm_73649", "catalogue_pipeline", "storage"})

	storage := projects[2]
	want := shiplog.Project{
		ID:   "storage",
		Name: "Storage service",
		Environments: []shiplog.Environment{
			{ID: "stage", Name: "Staging"},
			{ID: "prod", Name: "Production"},
		},
		ImageRepositories: []shiplog.ImageRepository{
			{ID: "uk.ac.wellcome/archivist", Services: []string{"archivist"}},
			{ID: "uk.ac.wellcome/bag-register", Services: []string{"bag-register"}},
			{ID: "uk.ac.wellcome/bag_verifier", Services: []string{"bag_verifier_pre_replication", "bag_verifier_post_replication"}},
			{ID: "uk.ac.wellcome/notifier", Services: []string{"notifier"}},
		},
	}
	diff(t, "storage project", storage, want, cmpopts.IgnoreFields(shiplog.Project{}, "Manifest"))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, top["storage"]); err != nil {
		t.Fatal(err)
	}
	if got, want := string(storage.Manifest), compact.String(); got != want {
		t.Errorf("storage manifest: got %s, want the entry as compact JSON %s", got, want)
	}
	diff(t, "storage services", storage.Services(), []string{"archivist", "bag-register", "bag_verifier_pre_replication", "bag_verifier_post_replication", "notifier"})
	diff(t, "catalogue_pipeline environments", projects[1].EnvironmentIDs(), []string{"2026-11-20", "2026-11-25"})
	diff(t, "catalogue_pipeline services", projects[1].Services(), []string{"transformer_miro", "transformer_sierra", "transformer_mets", "merger"})
}

func TestParseManifestAccepts(t *testing.T) {
	long := strings.Repeat("e", 128)
	tests := []struct {
		name     string
		manifest string
		check    func(t *testing.T, p shiplog.Project)
	}{
		{"environment name defaults to its id",
			`{"p": {"name": "P", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				diff(t, "environments", p.Environments, []shiplog.Environment{{ID: "stage", Name: "stage"}})
			}},
		{"an id of 128 characters",
			`{"p": {"name": "P", "environments": [{"id": "` + long + `"}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) { diff(t, "environment ids", p.EnvironmentIDs(), []string{long}) }},
		{"weco-deploy's fields place every environment, and are kept",
			`{"p": {"name": "P", "role_arn": "arn:aws:iam::123456789012:role/platform-ci", "aws_region_name": "eu-west-1", "account_id": "123456789012",
			  "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b", "namespace": "uk.ac.wellcome", "account_id": "123456789012"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				diff(t, "placement", p.Environments[0].Placement, shiplog.Placement{AccountID: "123456789012", Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/platform-ci"})
				for _, f := range []string{`"role_arn":"arn:aws:iam::123456789012:role/platform-ci"`, `"aws_region_name":"eu-west-1"`, `"namespace":"uk.ac.wellcome"`} {
					if !strings.Contains(string(p.Manifest), f) {
						t.Errorf("manifest: got %s, want %s kept", p.Manifest, f)
					}
				}
			}},
		{"an environment's own account replaces the project's account, role and external id; its region the project's",
			`{"p": {"name": "P", "role_arn": "arn:aws:iam::111111111111:role/tooling", "external_id": "ext-1", "region": "eu-west-1",
			  "environments": [{"id": "stage"}, {"id": "prod", "role_arn": "arn:aws:iam::222222222222:role/path/shiplog", "aws_region_name": "us-east-1", "registry": "replica"},
			    {"id": "dr", "region": "eu-west-2"}],
			  "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				diff(t, "placements", []shiplog.Placement{p.Environments[0].Placement, p.Environments[1].Placement, p.Environments[2].Placement}, []shiplog.Placement{
					{AccountID: "111111111111", Region: "eu-west-1", RoleARN: "arn:aws:iam::111111111111:role/tooling", ExternalID: "ext-1"},
					{AccountID: "222222222222", Region: "us-east-1", RoleARN: "arn:aws:iam::222222222222:role/path/shiplog", Registry: shiplog.RegistryReplica},
					{AccountID: "111111111111", Region: "eu-west-2", RoleARN: "arn:aws:iam::111111111111:role/tooling", ExternalID: "ext-1"},
				})
			}},
		{"region and aws_region_name may both be given when they agree",
			`{"p": {"name": "P", "environments": [{"id": "stage", "region": "eu-west-2", "aws_region_name": "eu-west-2"}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				diff(t, "placement", p.Environments[0].Placement, shiplog.Placement{Region: "eu-west-2"})
			}},
		{"no placement is the stack's own account and region",
			`{"p": {"name": "P", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				if !p.Environments[0].Placement.IsZero() {
					t.Errorf("placement: got %+v, want zero", p.Environments[0].Placement)
				}
			}},
		{"tag_deployed_images",
			`{"p": {"name": "P", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}], "tag_deployed_images": true}}`,
			func(t *testing.T, p shiplog.Project) {
				if !p.TagDeployedImages {
					t.Errorf("TagDeployedImages: got false, want true")
				}
			}},
		{"an environment on ECS, services named in the map or like their ids",
			`{"p": {"name": "P", "environments": [{"id": "stage"}, {"id": "prod", "ecs": {"cluster": "storage-prod", "services": {"bag_verifier": "bag-verifier-prod"}}}],
			  "image_repositories": [{"id": "a/archivist"}, {"id": "a/bag_verifier"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				diff(t, "environments", p.Environments, []shiplog.Environment{
					{ID: "stage", Name: "stage"},
					{ID: "prod", Name: "prod", ECS: &shiplog.ECSTarget{Cluster: "storage-prod", Services: map[string]string{"bag_verifier": "bag-verifier-prod"}}},
				})
				ecs := p.Environments[1].ECS
				for svc, want := range map[string]string{"bag_verifier": "bag-verifier-prod", "archivist": "archivist"} {
					if got := ecs.ServiceName(svc); got != want {
						t.Errorf("ServiceName(%q): got %q, want %q", svc, got, want)
					}
				}
			}},
		{"an ECS cluster given as an ARN, no services map",
			`{"p": {"name": "P", "environments": [{"id": "prod", "ecs": {"cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"}}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				diff(t, "ecs", p.Environments[0].ECS, &shiplog.ECSTarget{Cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"})
			}},
		{"ecs null is no ECS",
			`{"p": {"name": "P", "environments": [{"id": "prod", "ecs": null}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {
				if p.Environments[0].ECS != nil {
					t.Errorf("ECS: got %+v, want nil", p.Environments[0].ECS)
				}
			}},
		{"a cluster name of 255 characters",
			`{"p": {"name": "P", "environments": [{"id": "prod", "ecs": {"cluster": "` + strings.Repeat("c", 255) + `"}}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {}},
		{"a project id that contains aws later on",
			`{"my-aws": {"name": "P", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`,
			func(t *testing.T, p shiplog.Project) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := manifest.Parse([]byte(tt.manifest))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(ps) != 1 {
				t.Fatalf("Parse: got %d projects, want 1", len(ps))
			}
			tt.check(t, ps[0])
		})
	}
}

func TestParseManifestRejects(t *testing.T) {
	// project builds a manifest of one project "storage" from its environments and repositories.
	project := func(envs, repos string) string {
		return `{"storage": {"name": "Storage", "environments": ` + envs + `, "image_repositories": ` + repos + `}}`
	}
	okEnvs, okRepos := `[{"id": "stage"}, {"id": "prod"}]`, `[{"id": "uk.ac.wellcome/archivist"}]`
	long := strings.Repeat("x", 129)
	tests := []struct {
		name     string
		manifest string
		want     []string // the field named, and what is wrong
	}{
		{"not JSON", `nope`, []string{`manifest: not valid JSON: unexpected 'o' at byte 1, near "nope"`}},
		{"truncated", `{"storage": `, []string{"manifest: the JSON ends too early"}},
		{"trailing data", project(okEnvs, okRepos) + ` {}`, []string{"manifest: unexpected data after the JSON value"}},
		{"trailing }", project(okEnvs, okRepos) + `}`, []string{"manifest: unexpected data after the JSON value"}},
		{"trailing }}}", project(okEnvs, okRepos) + `}}}`, []string{"manifest: unexpected data after the JSON value"}},
		{"trailing ]", project(okEnvs, okRepos) + `]`, []string{"manifest: unexpected data after the JSON value"}},
		{"an array", `[{"id": "storage"}]`, []string{"manifest: got a JSON array, want an object"}},
		{"null", `null`, []string{"manifest: got JSON null, want an object"}},
		{"a null project", `{"storage": null}`, []string{"storage: got JSON null, want an object with name, environments, image_repositories, tag_deployed_images"}},
		{"no projects", `{}`, []string{"manifest: declares no projects"}},
		{"a project that is not an object", `{"storage": 5}`, []string{"storage: got a JSON number"}},
		{"project id with a slash", `{"a/b": {}}`, []string{"project id", "may contain only"}},
		{"project id with ..", `{"a..b": {}}`, []string{"project id", `must not contain ".."`}},
		{"project id with a space", `{"a b": {}}`, []string{"project id", "may contain only"}},
		{"project id too long", `{"` + long + `": {}}`, []string{"project id", "129 characters", "128"}},
		{"project id starting with aws", `{"aws-storage": {}}`, []string{"project id", `must not begin with "aws" or "ssm"`}},
		{"project id starting with AWS", `{"AWSome": {}}`, []string{"project id", `"aws"`}},
		{"project id starting with ssm", `{"ssm_params": {}}`, []string{"project id", `"ssm"`}},
		{"no name", `{"storage": {"environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`, []string{"storage.name: is required"}},
		{"blank name", `{"storage": {"name": "  ", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`, []string{"storage.name: is required"}},
		{"name is a number", `{"storage": {"name": 5, "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`, []string{"storage.name: got a JSON number, want a string"}},
		{"name with an ANSI escape", `{"storage": {"name": "S\u001b[31m", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`, []string{"storage.name:", "control character U+001B"}},
		{"name with a bidi override", `{"storage": {"name": "abc\u202edorp", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`, []string{`storage.name: "abc\u202edorp" contains the format character U+202E`}},
		{"environment name with a zero-width space", project(`[{"id": "stage", "name": "Pro\u200bduction"}]`, okRepos), []string{"storage.environments[0].name:", "format character U+200B"}},
		{"environment name with a newline", project(`[{"id": "stage", "name": "Staging\nprod"}]`, okRepos), []string{"storage.environments[0].name:", "control character U+000A"}},
		{"no environments", project(`[]`, okRepos), []string{"storage.environments: at least one"}},
		{"environments is a string", project(`"stage"`, okRepos), []string{"storage.environments: got a JSON string, want an array"}},
		{"environment id with a space", project(`[{"id": "stage"}, {"id": "a b"}]`, okRepos), []string{"storage.environments[1].id", "may contain only"}},
		{"environment named latest", project(`[{"id": "stage"}, {"id": "latest"}]`, okRepos), []string{"storage.environments[1].id", `"latest" is reserved`, "pushes"}},
		{"environment id with a slash", project(`[{"id": "stage"}, {"id": "st/age"}]`, okRepos), []string{"storage.environments[1].id", "may contain only"}},
		{"environment id ..", project(`[{"id": ".."}]`, okRepos), []string{"storage.environments[0].id", `".."`}},
		{"environment id too long", project(`[{"id": "`+long+`"}]`, okRepos), []string{"storage.environments[0].id", "128"}},
		{"environment id missing", project(`[{"name": "Staging"}]`, okRepos), []string{"storage.environments[0].id: is required"}},
		{"environment id empty", project(`[{"id": ""}]`, okRepos), []string{"storage.environments[0].id: is required"}},
		{"environment id a number", project(`[{"id": 5}]`, okRepos), []string{"storage.environments[0].id: got a JSON number, want a string"}},
		{"environment declared twice", project(`[{"id": "stage"}, {"id": "stage"}]`, okRepos), []string{"storage.environments[1].id", "declared twice"}},
		{"no repositories", project(okEnvs, `[]`), []string{"storage.image_repositories: at least one"}},
		{"repository id missing", project(okEnvs, `[{"services": ["a"]}]`), []string{"storage.image_repositories[0].id: is required"}},
		{"repository id upper case", project(okEnvs, `[{"id": "uk.ac.wellcome/Archivist"}]`), []string{"storage.image_repositories[0].id", "not an ECR repository name"}},
		{"repository declared twice", project(okEnvs, `[{"id": "a/b"}, {"id": "a/b", "services": ["c"]}]`), []string{"storage.image_repositories[1].id", "declared twice"}},
		{"services empty", project(okEnvs, `[{"id": "a/b", "services": []}]`), []string{"storage.image_repositories[0].services: is empty"}},
		{"services a string", project(okEnvs, `[{"id": "a/b", "services": "b"}]`), []string{"storage.image_repositories[0].services: got a JSON string, want an array"}},
		{"service id with a slash", project(okEnvs, `[{"id": "a/b", "services": ["ok", "a/b"]}]`), []string{"storage.image_repositories[0].services[1]", "may contain only"}},
		{"service id ..", project(okEnvs, `[{"id": "a/b", "services": [".."]}]`), []string{"storage.image_repositories[0].services[0]", `".."`}},
		{"service object with a bad id", project(okEnvs, `[{"id": "a/b", "services": [{"id": "a b"}]}]`), []string{"storage.image_repositories[0].services[0]: \"a b\"", "may contain only"}},
		{"service object without id", project(okEnvs, `[{"id": "a/b", "services": [{}]}]`), []string{"storage.image_repositories[0].services[0].id: is required"}},
		{"service object with another field", project(okEnvs, `[{"id": "a/b", "services": [{"id": "b", "name": "B"}]}]`), []string{"storage.image_repositories[0].services[0].name: unknown field; the fields are id"}},
		{"misspelt tag_deployed_images", `{"storage": {"name": "S", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}], "tag_deployed_image": true}}`,
			[]string{"storage.tag_deployed_image: unknown field; did you mean tag_deployed_images?"}},
		{"misspelt environments", `{"storage": {"name": "S", "enviroments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`,
			[]string{"storage.enviroments: unknown field; did you mean environments?"}},
		{"a field in another case", `{"storage": {"Name": "S", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`,
			[]string{"storage.Name: unknown field; did you mean name?"}},
		{"misspelt environment name", project(`[{"id": "stage", "nmae": "Staging"}]`, okRepos), []string{"storage.environments[0].nmae: unknown field; did you mean name?"}},
		{"misspelt services", project(okEnvs, `[{"id": "a/b", "service": ["b"]}]`), []string{"storage.image_repositories[0].service: unknown field; did you mean services?"}},
		{"a field nothing like ours", `{"storage": {"name": "S", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}], "terraform": {}}}`,
			[]string{"storage.terraform: unknown field; the fields are name, environments, image_repositories, tag_deployed_images"}},
		{"service a number", project(okEnvs, `[{"id": "a/b", "services": [5]}]`), []string{"storage.image_repositories[0].services[0]: got a JSON number"}},
		{"ecs not an object", project(`[{"id": "prod", "ecs": "prod-cluster"}]`, okRepos), []string{"storage.environments[0].ecs: got a JSON string, want an object with cluster, services"}},
		{"ecs without a cluster", project(`[{"id": "prod", "ecs": {"services": {"archivist": "a"}}}]`, okRepos), []string{"storage.environments[0].ecs.cluster: is required"}},
		{"ecs with an empty cluster", project(`[{"id": "prod", "ecs": {"cluster": ""}}]`, okRepos), []string{"storage.environments[0].ecs.cluster: is required"}},
		{"ecs misspelt field", project(`[{"id": "prod", "ecs": {"cluster": "c", "service": {"archivist": "a"}}}]`, okRepos), []string{"storage.environments[0].ecs.service: unknown field; did you mean services?"}},
		{"ecs unknown field", project(`[{"id": "prod", "ecs": {"cluster": "c", "region": "eu-west-1"}}]`, okRepos), []string{"storage.environments[0].ecs.region: unknown field; the fields are cluster, services"}},
		{"ecs cluster with a slash", project(`[{"id": "prod", "ecs": {"cluster": "a/b"}}]`, okRepos), []string{"storage.environments[0].ecs.cluster", `"a/b" is not an ECS cluster name or ARN`}},
		{"ecs cluster with a dot", project(`[{"id": "prod", "ecs": {"cluster": "storage.prod"}}]`, okRepos), []string{"storage.environments[0].ecs.cluster", "letters, digits, '-' and '_'"}},
		{"ecs cluster too long", project(`[{"id": "prod", "ecs": {"cluster": "`+strings.Repeat("c", 256)+`"}}]`, okRepos), []string{"storage.environments[0].ecs.cluster", "1 to 255"}},
		{"ecs cluster a number", project(`[{"id": "prod", "ecs": {"cluster": 5}}]`, okRepos), []string{"storage.environments[0].ecs.cluster: got a JSON number, want a string"}},
		{"ecs cluster ARN of a service", project(`[{"id": "prod", "ecs": {"cluster": "arn:aws:ecs:eu-west-1:123456789012:service/prod/archivist"}}]`, okRepos), []string{"storage.environments[0].ecs.cluster", "is not an ECS cluster ARN"}},
		{"ecs cluster ARN with a short account", project(`[{"id": "prod", "ecs": {"cluster": "arn:aws:ecs:eu-west-1:1234:cluster/prod"}}]`, okRepos), []string{"storage.environments[0].ecs.cluster", "is not an ECS cluster ARN"}},
		{"ecs services not an object", project(`[{"id": "prod", "ecs": {"cluster": "c", "services": ["archivist"]}}]`, okRepos), []string{"storage.environments[0].ecs.services: got a JSON array, want an object"}},
		{"ecs service name not a string", project(`[{"id": "prod", "ecs": {"cluster": "c", "services": {"archivist": 5}}}]`, okRepos), []string{"storage.environments[0].ecs.services.archivist: got a JSON number, want a string"}},
		{"ecs names a service the project does not have", project(`[{"id": "prod", "ecs": {"cluster": "c", "services": {"archivst": "a"}}}]`, okRepos), []string{"storage.environments[0].ecs.services.archivst", `"archivst" is not a service of the project (its services: archivist)`}},
		{"ecs service name with a dot", project(`[{"id": "prod", "ecs": {"cluster": "c", "services": {"archivist": "archivist.prod"}}}]`, okRepos), []string{"storage.environments[0].ecs.services.archivist", `"archivist.prod" is not an ECS service name`}},
		{"ecs service name empty", project(`[{"id": "prod", "ecs": {"cluster": "c", "services": {"archivist": ""}}}]`, okRepos), []string{"storage.environments[0].ecs.services.archivist", `"" is not an ECS service name`}},
		{"ecs service name too long", project(`[{"id": "prod", "ecs": {"cluster": "c", "services": {"archivist": "`+strings.Repeat("s", 256)+`"}}}]`, okRepos), []string{"storage.environments[0].ecs.services.archivist", "1 to 255"}},
		{"ecs default name that ECS does not allow", project(`[{"id": "prod", "ecs": {"cluster": "c"}}]`, `[{"id": "a/b", "services": ["web.v2"]}]`), []string{"storage.environments[0].ecs.services", `service "web.v2" would run as the ECS service of the same name`, `"services": {"web.v2": "..."}`}},
		{"a name given twice", `{"storage": {"name": "Storage", "name": "Other", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`, []string{"storage.name: appears twice"}},
		{"a project given twice", project(okEnvs, okRepos)[:len(project(okEnvs, okRepos))-1] + `, "storage": {}}`, []string{"storage: appears twice"}},
		{"an environment id given twice", project(`[{"id": "stage", "id": "prod"}]`, okRepos), []string{"storage.environments[0].id: appears twice"}},
		{"an ecs service given twice", project(`[{"id": "prod", "ecs": {"cluster": "c", "services": {"archivist": "a", "archivist": "b"}}}]`, okRepos), []string{"storage.environments[0].ecs.services.archivist: appears twice"}},
		{"another tool's field given twice", `{"storage": {"name": "S", "role_arn": "a", "role_arn": "b", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`, []string{"storage.role_arn: appears twice"}},
		{"role of another account than account_id", project(`[{"id": "prod", "account_id": "222222222222", "role_arn": "arn:aws:iam::333333333333:role/shiplog"}]`, okRepos),
			[]string{"storage.environments[0].role_arn", "is a role of account 333333333333, but the environment is in account 222222222222"}},
		{"project role of another account than the project's account_id", `{"storage": {"name": "S", "account_id": "222222222222", "role_arn": "arn:aws:iam::333333333333:role/x", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`,
			[]string{"storage.environments[0].role_arn", "is a role of account 333333333333"}},
		{"account without a role", project(`[{"id": "prod", "account_id": "222222222222"}]`, okRepos),
			[]string{"storage.environments[0].account_id", "names account 222222222222 without role_arn"}},
		{"account id not 12 digits", project(`[{"id": "prod", "account_id": "2222", "role_arn": "arn:aws:iam::222222222222:role/x"}]`, okRepos),
			[]string{"storage.environments[0].account_id", `"2222" is not an AWS account id`}},
		{"role_arn not a role", project(`[{"id": "prod", "role_arn": "arn:aws:iam::222222222222:user/x"}]`, okRepos),
			[]string{"storage.environments[0].role_arn", "is not an IAM role ARN"}},
		{"role_arn with a space", project(`[{"id": "prod", "role_arn": "arn:aws:iam::222222222222:role/a b"}]`, okRepos),
			[]string{"storage.environments[0].role_arn", "is not an IAM role ARN"}},
		{"role_arn of another partition", project(`[{"id": "prod", "role_arn": "arn:gcp:iam::222222222222:role/x"}]`, okRepos),
			[]string{"storage.environments[0].role_arn", "is not an IAM role ARN"}},
		{"region malformed", project(`[{"id": "prod", "region": "EU-West"}]`, okRepos),
			[]string{"storage.environments[0].region", `"EU-West" is not an AWS region`}},
		{"aws_region_name malformed", `{"storage": {"name": "S", "aws_region_name": "westeurope", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`,
			[]string{"storage.environments[0].region", `"westeurope" is not an AWS region`}},
		{"region and aws_region_name disagree", project(`[{"id": "prod", "region": "eu-west-1", "aws_region_name": "eu-west-2"}]`, okRepos),
			[]string{"storage.environments[0].aws_region_name", `"eu-west-2" differs from region "eu-west-1"`}},
		{"external id without a role", project(`[{"id": "prod", "external_id": "abc"}]`, okRepos),
			[]string{"storage.environments[0].external_id", "without role_arn"}},
		{"external id with a space", project(`[{"id": "prod", "role_arn": "arn:aws:iam::222222222222:role/x", "external_id": "a b"}]`, okRepos),
			[]string{"storage.environments[0].external_id", "2 to 1224"}},
		{"registry unknown", project(`[{"id": "prod", "registry": "mirror"}]`, okRepos),
			[]string{"storage.environments[0].registry", `"mirror" is not "source" or "replica"`}},
		{"ecs cluster in another account than the environment", project(`[{"id": "prod", "role_arn": "arn:aws:iam::222222222222:role/x", "ecs": {"cluster": "arn:aws:ecs:eu-west-1:333333333333:cluster/prod"}}]`, okRepos),
			[]string{"storage.environments[0].ecs.cluster", "is in account 333333333333, but the environment is in account 222222222222"}},
		{"ecs cluster in another region than the environment", project(`[{"id": "prod", "region": "us-east-1", "ecs": {"cluster": "arn:aws:ecs:eu-west-1:333333333333:cluster/prod"}}]`, okRepos),
			[]string{"storage.environments[0].ecs.cluster", "is in region eu-west-1, but the environment is in region us-east-1"}},
		{"service fed by two repositories", project(okEnvs, `[{"id": "a/b"}, {"id": "c/d", "services": ["b"]}]`), []string{"storage.image_repositories[1]", `"b" is fed by both "a/b" and "c/d"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := manifest.Parse([]byte(tt.manifest))
			if err == nil {
				t.Fatalf("Parse: got %d projects and no error, want an error", len(ps))
			}
			wantError(t, "Parse", err, shiplog.Invalid, tt.want...)
		})
	}
}

// TestOtherToolsFields: every field the README lists as another tool's is accepted where it is
// listed, and kept in the registered entry.
func TestOtherToolsFields(t *testing.T) {
	for _, f := range manifest.OtherToolsFields["{project}"] {
		m := `{"p": {"name": "P", "` + f + `": "x", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}]}}`
		ps, err := manifest.Parse([]byte(m))
		if err != nil {
			t.Errorf("project field %s: %v", f, err)
		} else if !strings.Contains(string(ps[0].Manifest), `"`+f+`":"x"`) {
			t.Errorf("project field %s: not kept in %s", f, ps[0].Manifest)
		}
	}
	for _, f := range manifest.OtherToolsFields["{project}.image_repositories[]"] {
		m := `{"p": {"name": "P", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b", "` + f + `": "x"}]}}`
		if _, err := manifest.Parse([]byte(m)); err != nil {
			t.Errorf("repository field %s: %v", f, err)
		}
	}
	if len(manifest.OtherToolsFields) != 1 {
		t.Errorf("OtherToolsFields has %d places; this test checks 1", len(manifest.OtherToolsFields))
	}
}

// TestParseProjectRefusesRepeatedKeys: one entry, as PUT /projects/{id} sends it, with a key given
// twice is refused rather than stored with both (and read one way by shiplog, another by a person).
func TestParseProjectRefusesRepeatedKeys(t *testing.T) {
	entry := `{"name": "Storage", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b"}], "name": "Other"}`
	p, err := manifest.ParseProject("storage", []byte(entry))
	if err == nil {
		t.Fatalf("ParseProject: got %s (manifest %s) and no error, want an error", p.Name, p.Manifest)
	}
	wantError(t, "ParseProject", err, shiplog.Invalid, "storage.name: appears twice")
}

// TestParseListsEveryProblem: a file with several mistakes is refused with all of them, each
// with the line and column of the field, in the order of the file.
func TestParseListsEveryProblem(t *testing.T) {
	data := []byte(`{
  "storage": {
    "name": "Storage",
    "environments": [
      {"id": "stage"},
      {"id": "a b"},
      {"nme": "prod"}
    ],
    "image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": [5]}]
  },
  "catalogue": {
    "name": "Catalogue",
    "environments": [{"id": "prod"}],
    "image_repositories": [{"id": "weco/merger"}],
    "tag_deployed_image": true
  },
  "ok": {"name": "OK", "environments": [{"id": "prod"}], "image_repositories": [{"id": "ok/app"}]}
}`)
	_, err := manifest.Parse(data)
	wantError(t, "Parse", err, shiplog.Invalid)
	var got []string
	for _, p := range manifest.ProblemsOf(err) {
		got = append(got, p.String())
	}
	want := []string{
		`7:8: storage.environments[2].nme: unknown field; did you mean name?`,
		`9:76: storage.image_repositories[0].services[0]: got a JSON number, want an object with id`,
		`15:5: catalogue.tag_deployed_image: unknown field; did you mean tag_deployed_images?`,
	}
	// The bad environment id is found by Validate, which runs only on an entry that decoded;
	// storage did not, so its two decoding problems are what it shows.
	diff(t, "problems", got, want)
	if msg := shiplog.MessageOf(err); !strings.Contains(msg, "storage.environments[2]") || !strings.Contains(msg, "catalogue.tag_deployed_image") {
		t.Errorf("message %q, want every problem", msg)
	}

	// Validate's problem of an entry that decodes is located too.
	_, err = manifest.Parse([]byte("{\"s\": {\"name\": \"S\",\n \"environments\": [{\"id\": \"a b\"}], \"image_repositories\": [{\"id\": \"s/app\"}]}}"))
	ps := manifest.ProblemsOf(err)
	if len(ps) != 1 || ps[0].Line != 2 || !strings.Contains(ps[0].Message, "s.environments[0].id") {
		t.Errorf("problems %+v, want s.environments[0].id on line 2", ps)
	}
	// Not JSON: where it stops being JSON.
	_, err = manifest.Parse([]byte("{\n  \"s\": {,}\n}"))
	if ps := manifest.ProblemsOf(err); len(ps) != 1 || ps[0].Line != 2 {
		t.Errorf("problems %+v, want one on line 2", ps)
	}
}

// TestDeeplyNestedManifest: a body nested 100,000 deep is refused as invalid, cheaply. The index
// of positions once built a path per level as long as its depth, and ran the process out of memory.
func TestDeeplyNestedManifest(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	_, err := manifest.ParseProject("bugfarm", []byte(deep))
	if !shiplog.IsKind(err, shiplog.Invalid) {
		t.Fatalf("got %v, want Invalid", err)
	}
}
