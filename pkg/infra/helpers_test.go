package infra

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot is the directory of go.mod above the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// findTool returns the path of a command: on PATH, else the first of fallbacks that exists. A
// missing tool fails the test (CI installs them; a skipped check would pass silently).
func findTool(t *testing.T, name, why string, fallbacks ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, f := range fallbacks {
		if st, err := os.Stat(f); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return f
		}
	}
	t.Fatalf("%s is not installed (looked on PATH and in %s): %s", name, strings.Join(fallbacks, ", "), why)
	return ""
}

// goBin is $(go env GOPATH)/bin, where `go install` puts tools.
func goBin(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env GOPATH: %v", err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), string(os.PathListSeparator))
	return filepath.Join(first, "bin")
}

// run runs a command in dir and returns its combined output.
func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// Template is template.yaml decoded into plain Go values. CloudFormation's short-form tags become
// their long forms: !Ref X is map[Ref:X], !GetAtt A.B is map[Fn::GetAtt:[A B]], !Sub s is
// map[Fn::Sub:s], and so on.
type Template struct {
	Globals    map[string]any
	Parameters map[string]any
	Conditions map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Resource is one resource of the template.
type Resource struct {
	Type                string
	Properties          map[string]any
	Metadata            map[string]any
	DeletionPolicy      string
	UpdateReplacePolicy string
	DependsOn           any
	Condition           string
}

func loadTemplate(t *testing.T) *Template {
	t.Helper()
	return loadTemplateFile(t, filepath.Join(repoRoot(t), "template.yaml"))
}

func loadTemplateFile(t *testing.T, path string) *Template {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	v, err := plain(&doc)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		t.Fatal("template.yaml: not a mapping")
	}
	tpl := &Template{
		Globals:    asMap(top["Globals"]),
		Parameters: asMap(top["Parameters"]),
		Conditions: asMap(top["Conditions"]),
		Outputs:    asMap(top["Outputs"]),
		Resources:  map[string]Resource{},
	}
	for id, r := range asMap(top["Resources"]) {
		m := asMap(r)
		tpl.Resources[id] = Resource{
			Type:                str(m["Type"]),
			Properties:          asMap(m["Properties"]),
			Metadata:            asMap(m["Metadata"]),
			DeletionPolicy:      str(m["DeletionPolicy"]),
			UpdateReplacePolicy: str(m["UpdateReplacePolicy"]),
			DependsOn:           m["DependsOn"],
			Condition:           str(m["Condition"]),
		}
	}
	return tpl
}

// plain turns a YAML node into maps, slices and scalars, expanding CloudFormation's short forms.
func plain(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: expected one document", n.Line)
		}
		return plain(n.Content[0])
	case yaml.AliasNode:
		return plain(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			pv, err := plain(val)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			m[k.Value] = pv
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			pv, err := plain(c)
			if err != nil {
				return nil, err
			}
			s = append(s, pv)
		}
		v = s
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			v = n.Value // a tagged scalar is the function's string argument
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not RESOURCE.ATTRIBUTE", n.Line, s)
			}
			v = []any{res, attr}
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	default:
		return map[string]any{"Fn::" + name: v}, nil
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

func asSlice(v any) []any {
	switch s := v.(type) {
	case []any:
		return s
	case nil:
		return nil
	default:
		return []any{v} // IAM allows a single string where a list is expected
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// ref returns X for {Ref: X}, else "".
func ref(v any) string {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return ""
	}
	return str(m["Ref"])
}

// getAtt returns the resource and attribute of {Fn::GetAtt: [R, A]}.
func getAtt(v any) (resource, attribute string) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", ""
	}
	s := asSlice(m["Fn::GetAtt"])
	if len(s) != 2 {
		return "", ""
	}
	return str(s[0]), str(s[1])
}

// sub returns the string of {Fn::Sub: s} (the one-argument form).
func sub(v any) string {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return ""
	}
	return str(m["Fn::Sub"])
}

// resourcesOfType returns the logical ids of the template's resources of a type, sorted.
func (tpl *Template) resourcesOfType(typ string) []string {
	var ids []string
	for id, r := range tpl.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// streamMappings returns the logical ids of the event source mappings that feed the function
// of logical id fn, sorted.
func (tpl *Template) streamMappings(fn string) []string {
	var ids []string
	for _, id := range tpl.resourcesOfType("AWS::Lambda::EventSourceMapping") {
		if ref(tpl.Resources[id].Properties["FunctionName"]) == fn {
			ids = append(ids, id)
		}
	}
	return ids
}

// functionProperty returns a function's property, or the Globals one if the function sets none.
func (tpl *Template) functionProperty(id, name string) any {
	if v, ok := tpl.Resources[id].Properties[name]; ok {
		return v
	}
	return asMap(tpl.Globals["Function"])[name]
}

// functionEnvironment returns a function's environment variables: the Globals ones, overridden
// and added to by the function's (SAM merges the two maps).
func (tpl *Template) functionEnvironment(id string) map[string]any {
	env := map[string]any{}
	global := asMap(asMap(asMap(tpl.Globals["Function"])["Environment"])["Variables"])
	for k, v := range global {
		env[k] = v
	}
	own := asMap(asMap(tpl.Resources[id].Properties["Environment"])["Variables"])
	for k, v := range own {
		env[k] = v
	}
	return env
}

// sortedSet returns the distinct strings of s, sorted.
func sortedSet(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// findToolPath is findTool without failing: the path, or an error.
func findToolPath(name string, fallbacks ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, f := range fallbacks {
		if st, err := os.Stat(f); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// runStdout runs a command in dir and returns its standard output; the error carries its
// standard error.
func runStdout(t *testing.T, dir string, env []string, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	return out, nil
}
