package httpapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

var update = flag.Bool("update", false, "rewrite openapi.json from httpapi.Document")

// openAPI is the part of the document the tests read.
type openAPI struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Parameters  []struct {
			Ref  string `json:"$ref"`
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		RequestBody *json.RawMessage           `json:"requestBody"`
		Responses   map[string]json.RawMessage `json:"responses"`
	} `json:"paths"`
}

func servedDocument(t *testing.T) openAPI {
	t.Helper()
	var doc openAPI
	if err := json.Unmarshal(httpapi.OpenAPIDocument(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// TestOpenAPIDocument: openapi.json, which the API serves and the linter reads, is what Document
// builds from the route table and the Go types of the bodies. After a change to either, run
// go test ./pkg/httpapi -run TestOpenAPIDocument -update, and review the diff.
func TestOpenAPIDocument(t *testing.T) {
	got, err := httpapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := httpapi.OpenAPIDocument(); !bytes.Equal(got, want) {
		t.Errorf("openapi.json is not what httpapi.Document builds; run go test ./pkg/httpapi -run TestOpenAPIDocument -update (and review the diff)")
	}
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// TestOpenAPIRoutesAreTheRouteTable: the served document's paths and methods are exactly the
// route table's, each path's parameters are the ones its pattern names, and every write names
// who may retry it (Idempotency-Key) where the handler reads that header.
func TestOpenAPIRoutesAreTheRouteTable(t *testing.T) {
	doc := servedDocument(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi: got %q, want 3.1.0", doc.OpenAPI)
	}
	var routes, documented []string
	for _, rt := range httpapi.Routes {
		routes = append(routes, rt.Key())
	}
	for path, item := range doc.Paths {
		for method, op := range item {
			documented = append(documented, strings.ToUpper(method)+" "+path)
			var inPath []string
			for _, p := range op.Parameters {
				if p.In == "path" {
					inPath = append(inPath, p.Name)
				}
			}
			var want []string
			for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
				want = append(want, m[1])
			}
			if !slices.Equal(inPath, want) {
				t.Errorf("%s %s: path parameters %v, want %v", method, path, inPath, want)
			}
			if len(op.Responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
		}
	}
	sort.Strings(routes)
	sort.Strings(documented)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("openapi.json documents %s, which httpapi.Routes does not have", d)
		}
	}
}

// TestOpenAPIQueryParameters: each route takes exactly the query parameters the document names:
// a documented one is not refused as unknown, and an undocumented one is.
func TestOpenAPIQueryParameters(t *testing.T) {
	e := newTestEnv(t)
	rel := e.seedRelease(t)
	doc := servedDocument(t)
	deps, err := e.svc.Deployments(t.Context(), "storage", shiplog.DeploymentFilter{}, shiplog.PageRequest{})
	if err != nil || len(deps.Items) == 0 {
		t.Fatalf("deployments: %v, %v", deps, err)
	}
	ids := map[string]string{"project": "storage", "environment": "stage", "release": rel.ID, "label": "latest",
		"deployment": deps.Items[0].ID, "freeze": "f1"}
	for _, rt := range httpapi.Routes {
		op := doc.Paths[rt.Path][strings.ToLower(rt.Method)]
		path := pathParam.ReplaceAllStringFunc(rt.Path, func(s string) string { return ids[s[1:len(s)-1]] })
		var names []string
		for _, p := range op.Parameters {
			if p.In == "query" {
				names = append(names, p.Name)
			}
		}
		if _, gone := op.Responses["410"]; gone {
			// A retired route answers 410 to everything, a query included.
			if rec := serve(t, e.api, rt.Method, path+"?undocumented=1", "", nil); rec.Code != 410 {
				t.Errorf("%s: %d, want 410", rt.Key(), rec.Code)
			}
			continue
		}
		for _, name := range append(names, "undocumented") {
			t.Run(fmt.Sprintf("%s ?%s", rt.Key(), name), func(t *testing.T) {
				rec := serve(t, e.api, rt.Method, path+"?"+name+"=1", "", map[string]string{"X-Shiplog-User": "nobody"})
				refused := strings.Contains(rec.Body.String(), "is not a parameter of this route")
				if name == "undocumented" && !refused {
					t.Errorf("%s took a parameter the document does not name: %d %s", rt.Key(), rec.Code, rec.Body)
				}
				if name != "undocumented" && refused {
					t.Errorf("%s refused ?%s, which the document names: %s", rt.Key(), name, rec.Body)
				}
			})
		}
	}
}

// TestOpenAPIServed: GET /openapi.json answers the document, and takes no query.
func TestOpenAPIServed(t *testing.T) {
	e := newTestEnv(t)
	rec := e.do(t, "GET", "/openapi.json", "", nil)
	if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), httpapi.OpenAPIDocument()) {
		t.Errorf("GET /openapi.json: %d, %d bytes; want 200 and the document", rec.Code, rec.Body.Len())
	}
	if rec := e.do(t, "GET", "/openapi.json?format=yaml", "", nil); rec.Code != 400 {
		t.Errorf("GET /openapi.json?format=yaml: %d, want 400", rec.Code)
	}
	if rec := e.do(t, "POST", "/openapi.json", "{}", nil); rec.Code != 405 {
		t.Errorf("POST /openapi.json: %d, want 405", rec.Code)
	}
}

// TestOpenAPILint runs Redocly's linter (npm's @redocly/cli, pinned in package.json; make tools
// installs it) on openapi.json, with the rules of redocly.yaml: no error and no warning.
func TestOpenAPILint(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	redocly := filepath.Join(root, "node_modules", ".bin", "redocly")
	if _, err := os.Stat(redocly); err != nil {
		t.Fatalf("the OpenAPI linter is not installed (%v): run make tools (npm ci installs @redocly/cli)", err)
	}
	cmd := exec.Command(redocly, "lint", "--config", filepath.Join(root, "redocly.yaml"), "--format", "stylish", "openapi.json")
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint openapi.json: %v\n%s", err, out)
	}
	if regexp.MustCompile(`(?i)\b[1-9][0-9]* warnings?\b`).Match(out) || !strings.Contains(string(out), "Your API description is valid") {
		t.Errorf("redocly lint openapi.json: want no warnings:\n%s", out)
	}
}
