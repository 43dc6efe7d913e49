package manifest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// FuzzParse feeds arbitrary bytes to the manifest parser: it must never panic, must refuse
// with an Invalid error (never another kind), and whatever it accepts must hold to the rules every
// other part relies on: valid ids, at least one environment and repository, each service fed by
// one repository, and a manifest entry that is valid JSON. Whatever it accepts, it must refuse
// with any trailing data after it: "}", "]" or another value.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "wellcome_project.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example),
		`{}`, `[]`, `null`, `{"p": null}`, `{"p": {"name": "P"}}`,
		`{"p": {"name": "P", "environments": [{"id": "stage"}], "image_repositories": [{"id": "a/b", "services": ["x", {"id": "y"}]}]}}`,
		`{"p": {"name": "P", "environments": [{"id": ".."}], "image_repositories": [{"id": "a/b"}]}}`,
		`{"awsp": {"name": "P", "environments": [{"id": "e"}], "image_repositories": [{"id": "a/b"}]}}`,
		string(example) + "}}}", string(example) + "]", `{"p": {"name": "P", "tag_deployed_image": true}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		projects, err := manifest.Parse(data)
		if err != nil {
			if k := shiplog.KindOf(err); k != shiplog.Invalid {
				t.Fatalf("Parse(%q): error kind %v, want Invalid: %v", data, k, err)
			}
			return
		}
		for _, p := range projects {
			if err := shiplog.ValidateID("project", p.ID); err != nil {
				t.Fatalf("accepted project id %q: %v", p.ID, err)
			}
			if len(p.Environments) == 0 || len(p.ImageRepositories) == 0 {
				t.Fatalf("accepted project %q with no environment or no repository", p.ID)
			}
			for _, e := range p.Environments {
				if err := shiplog.ValidateID("environment", e.ID); err != nil {
					t.Fatalf("accepted environment %q: %v", e.ID, err)
				}
			}
			seen := map[string]bool{}
			for _, svc := range p.Services() {
				if err := shiplog.ValidateID("service", svc); err != nil {
					t.Fatalf("accepted service %q: %v", svc, err)
				}
				if seen[svc] {
					t.Fatalf("accepted service %q fed by two repositories", svc)
				}
				seen[svc] = true
			}
			if !json.Valid(p.Manifest) {
				t.Fatalf("accepted project %q whose manifest entry is not JSON: %q", p.ID, p.Manifest)
			}
		}
		for _, tail := range []string{"}", "]", "}}}", " {}", "null"} {
			if _, err := manifest.Parse(append(slices.Clip(data), tail...)); shiplog.KindOf(err) != shiplog.Invalid {
				t.Fatalf("Parse(%q + %q): got %v, want Invalid (trailing data)", data, tail, err)
			}
		}
	})
}
