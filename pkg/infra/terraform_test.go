package infra

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// tfFiles returns the .tf files under terraform/, skipping .terraform directories that
// `terraform init` may leave behind.
func tfFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(repoRoot(t), "terraform"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".tf") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no .tf files under terraform/")
	}
	return files
}

// TestTerraformFormatted is `terraform fmt -check`: terraform fmt is hclwrite.Format.
func TestTerraformFormatted(t *testing.T) {
	for _, path := range tfFiles(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos); diags.HasErrors() {
			t.Errorf("%s: %v", path, diags)
			continue
		}
		if got := hclwrite.Format(src); !bytes.Equal(got, src) {
			t.Errorf("%s is not formatted (terraform fmt); formatted it reads:\n%s", path, got)
		}
	}
}

// module is the parts of a Terraform module directory the tests evaluate.
type module struct {
	variables map[string]*hclsyntax.Block
	locals    map[string]hcl.Expression
	outputs   map[string]*hclsyntax.Block
	data      map[string]*hclsyntax.Block // "type.name"
	modules   map[string]*hclsyntax.Block
	files     []*hcl.File
}

func parseModule(t *testing.T, dir string) *module {
	t.Helper()
	m := &module{
		variables: map[string]*hclsyntax.Block{},
		locals:    map[string]hcl.Expression{},
		outputs:   map[string]*hclsyntax.Block{},
		data:      map[string]*hclsyntax.Block{},
		modules:   map[string]*hclsyntax.Block{},
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("%s: no .tf files (%v)", dir, err)
	}
	p := hclparse.NewParser()
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", path, diags)
		}
		m.files = append(m.files, f)
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch b.Type {
			case "variable":
				m.variables[b.Labels[0]] = b
			case "output":
				m.outputs[b.Labels[0]] = b
			case "data":
				m.data[b.Labels[0]+"."+b.Labels[1]] = b
			case "module":
				m.modules[b.Labels[0]] = b
			case "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a.Expr
				}
			}
		}
	}
	return m
}

func attr(b *hclsyntax.Block, name string) hcl.Expression {
	if a, ok := b.Body.Attributes[name]; ok {
		return a.Expr
	}
	return nil
}

func blocks(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range b.Body.Blocks {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

// sensitive is the mark the AWS provider puts on aws_ssm_parameters_by_path's values; an output
// whose value still carries it is refused by Terraform unless declared sensitive.
const sensitive = "sensitive"

// tfFunctions are the Terraform functions the module uses, from the same libraries Terraform
// builds them from (cty's stdlib, HCL's tryfunc) or, for Terraform's own, as Terraform defines them.
var tfFunctions = map[string]function.Function{
	"alltrue": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				if _, v := it.Element(); v.IsNull() || v.False() {
					return cty.False, nil
				}
			}
			return cty.True, nil
		},
	}),
	"can":         tryfunc.CanFunc,
	"join":        stdlib.JoinFunc,
	"keys":        stdlib.KeysFunc,
	"length":      stdlib.LengthFunc,
	"regex":       stdlib.RegexFunc,
	"setsubtract": stdlib.SetSubtractFunc,
	"sort":        stdlib.SortFunc,
	"trimprefix":  stdlib.TrimPrefixFunc,
	"zipmap":      stdlib.ZipmapFunc,
	"strcontains": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}, {Name: "substr", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(strings.Contains(args[0].AsString(), args[1].AsString())), nil
		},
	}),
	"nonsensitive": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowMarked: true, AllowNull: true, AllowUnknown: true}},
		Type: func(args []cty.Value) (cty.Type, error) {
			return args[0].Type(), nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, marks := args[0].Unmark()
			delete(marks, sensitive)
			return v.WithMarks(marks), nil
		},
	}),
}

// releaseImages evaluates the module for the given variables and SSM parameters (name -> value,
// as GetParametersByPath would return those directly under the data source's path).
type releaseImages struct {
	m *module
}

func (r releaseImages) vars(t *testing.T, given map[string]cty.Value) cty.Value {
	t.Helper()
	vals := map[string]cty.Value{}
	for name, b := range r.m.variables {
		if v, ok := given[name]; ok {
			vals[name] = v
			continue
		}
		def := attr(b, "default")
		if def == nil {
			t.Fatalf("variable %s has no default and no test value", name)
		}
		v, diags := def.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("variable %s default: %v", name, diags)
		}
		vals[name] = v
	}
	for name := range given {
		if _, ok := r.m.variables[name]; !ok {
			t.Fatalf("the module has no variable %s", name)
		}
	}
	return cty.ObjectVal(vals)
}

func (r releaseImages) dataBlock(t *testing.T) *hclsyntax.Block {
	t.Helper()
	b, ok := r.m.data["aws_ssm_parameters_by_path.images"]
	if !ok {
		t.Fatal(`the module has no data "aws_ssm_parameters_by_path" "images"`)
	}
	return b
}

// path evaluates the data source's path for the variables.
func (r releaseImages) path(t *testing.T, vars cty.Value) string {
	t.Helper()
	v, diags := attr(r.dataBlock(t), "path").Value(&hcl.EvalContext{Variables: map[string]cty.Value{"var": vars}})
	if diags.HasErrors() {
		t.Fatalf("data source path: %v", diags)
	}
	return v.AsString()
}

// dataObject is what the provider returns for path and parameters, values marked sensitive.
func dataObject(path string, params map[string]string) cty.Value {
	names := sortedKeys(params)
	nv, vv, av, tv := []cty.Value{}, []cty.Value{}, []cty.Value{}, []cty.Value{}
	for _, n := range names {
		nv = append(nv, cty.StringVal(n))
		vv = append(vv, cty.StringVal(params[n]))
		av = append(av, cty.StringVal("arn:aws:ssm:eu-west-1:123456789012:parameter"+n))
		tv = append(tv, cty.StringVal("String"))
	}
	list := func(vs []cty.Value) cty.Value {
		if len(vs) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		return cty.ListVal(vs)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"id":              cty.StringVal(path),
		"path":            cty.StringVal(path),
		"recursive":       cty.False,
		"with_decryption": cty.True,
		"names":           list(nv),
		"values":          list(vv).Mark(sensitive),
		"arns":            list(av),
		"types":           list(tv),
	})
}

// evalContext resolves the module's locals for vars and the data source's result.
func (r releaseImages) evalContext(t *testing.T, vars, data cty.Value) *hcl.EvalContext {
	t.Helper()
	ctx := &hcl.EvalContext{
		Functions: tfFunctions,
		Variables: map[string]cty.Value{
			"var":  vars,
			"data": cty.ObjectVal(map[string]cty.Value{"aws_ssm_parameters_by_path": cty.ObjectVal(map[string]cty.Value{"images": data})}),
		},
	}
	locals := map[string]cty.Value{}
	for len(locals) < len(r.m.locals) {
		progress := false
		for name, expr := range r.m.locals {
			if _, done := locals[name]; done {
				continue
			}
			ready := true
			for _, tr := range expr.Variables() {
				if tr.RootName() == "local" {
					if _, ok := locals[tr[1].(hcl.TraverseAttr).Name]; !ok {
						ready = false
					}
				}
			}
			if !ready {
				continue
			}
			ctx.Variables["local"] = cty.ObjectVal(locals)
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatalf("local.%s: %v", name, diags)
			}
			locals[name] = v
			progress = true
		}
		if !progress {
			t.Fatalf("locals refer to each other in a cycle or to undefined locals")
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

func TestReleaseImagesReadsTheParameterPathTheCodeWrites(t *testing.T) {
	r := releaseImages{parseModule(t, filepath.Join(repoRoot(t), "terraform", "modules", "release_images"))}
	for _, tt := range []struct{ project, label string }{
		{"storage", "prod"},
		{"storage", shiplog.LatestLabel},
		{"catalogue_pipeline", "2026-11-25"},
		{"bugfarm_73649", "stage"},
	} {
		vars := r.vars(t, map[string]cty.Value{"project_id": cty.StringVal(tt.project), "label": cty.StringVal(tt.label)})
		if got, want := r.path(t, vars), shiplog.ParameterPath(tt.project, tt.label); got != want {
			t.Errorf("module path for %s/%s: got %q, want %q (shiplog.ParameterPath)", tt.project, tt.label, got, want)
		}
	}
	// The code keeps one level of parameters under a label: a service's image, nothing deeper.
	if rec := attr(r.dataBlock(t), "recursive"); rec == nil {
		t.Error("data source does not set recursive = false")
	} else if v, diags := rec.Value(nil); diags.HasErrors() || !v.RawEquals(cty.False) {
		t.Errorf("data source recursive: got %#v, want false", v)
	}
}

func TestReleaseImagesOutputsAndPostconditions(t *testing.T) {
	r := releaseImages{parseModule(t, filepath.Join(repoRoot(t), "terraform", "modules", "release_images"))}
	const project, label = "storage", "prod"
	uri := func(service string) string {
		return "760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/" + service + "@sha256:" + strings.Repeat("ab", 32)
	}
	// Parameters as the code writes them.
	params := func(services ...string) map[string]string {
		m := map[string]string{}
		for _, s := range services {
			m[shiplog.ParameterName(project, label, s)] = uri(s)
		}
		return m
	}
	tests := []struct {
		name     string
		services []string // the module's services variable
		present  []string // services with a parameter under the label
		failures []string // postcondition messages must contain these, in order; none means success
	}{
		{name: "no expectations", present: []string{"archivist", "notifier"}},
		{name: "all expected present", services: []string{"notifier", "archivist"}, present: []string{"archivist", "bag_verifier_pre_replication", "notifier"}},
		{name: "missing named, sorted", services: []string{"notifier", "transformer", "bag-register", "archivist"}, present: []string{"archivist", "notifier"},
			failures: []string{"/storage/images/prod/", "bag-register, transformer."}},
		{name: "nothing under the label", failures: []string{"No images under /storage/images/prod/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svcs := []cty.Value{}
			for _, s := range tt.services {
				svcs = append(svcs, cty.StringVal(s))
			}
			services := cty.ListValEmpty(cty.String)
			if len(svcs) > 0 {
				services = cty.ListVal(svcs)
			}
			vars := r.vars(t, map[string]cty.Value{"project_id": cty.StringVal(project), "label": cty.StringVal(label), "services": services})
			path := r.path(t, vars)
			data := dataObject(path, params(tt.present...))

			// Postconditions, evaluated as Terraform does with self bound to the data source.
			selfCtx := &hcl.EvalContext{Functions: tfFunctions, Variables: map[string]cty.Value{"var": vars, "self": data}}
			var messages []string
			for _, lc := range blocks(r.dataBlock(t), "lifecycle") {
				for _, pc := range blocks(lc, "postcondition") {
					ok, diags := attr(pc, "condition").Value(selfCtx)
					if diags.HasErrors() {
						t.Fatalf("postcondition: %v", diags)
					}
					if ok.True() {
						continue
					}
					msg, diags := attr(pc, "error_message").Value(selfCtx)
					if diags.HasErrors() {
						t.Fatalf("postcondition error_message: %v", diags)
					}
					messages = append(messages, msg.AsString())
				}
			}
			all := strings.Join(messages, "\n")
			if len(tt.failures) == 0 && len(messages) > 0 {
				t.Fatalf("postconditions failed: %s", all)
			}
			if len(tt.failures) > 0 && len(messages) == 0 {
				t.Fatalf("postconditions passed; want a failure mentioning %q", tt.failures)
			}
			for _, want := range tt.failures {
				if !strings.Contains(all, want) {
					t.Errorf("postcondition messages %q do not mention %q", all, want)
				}
			}
			if len(tt.failures) > 0 {
				return
			}

			ctx := r.evalContext(t, vars, data)
			out := func(name string) cty.Value {
				b, ok := r.m.outputs[name]
				if !ok {
					t.Fatalf("the module has no output %s", name)
				}
				v, diags := attr(b, "value").Value(ctx)
				if diags.HasErrors() {
					t.Fatalf("output %s: %v", name, diags)
				}
				if v.ContainsMarked() {
					t.Errorf("output %s is still sensitive: Terraform refuses it unless it is declared sensitive", name)
				}
				v, _ = v.UnmarkDeep()
				return v
			}
			got := map[string]string{}
			for k, v := range out("images").AsValueMap() {
				got[k] = v.AsString()
			}
			want := map[string]string{}
			for _, s := range tt.present {
				want[s] = uri(s)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("output images (-want +got):\n%s", diff)
			}
			var gotServices []string
			for _, v := range out("services").AsValueSlice() {
				gotServices = append(gotServices, v.AsString())
			}
			if diff := cmp.Diff(sortedSet(tt.present), gotServices); diff != "" {
				t.Errorf("output services (-want +got):\n%s", diff)
			}
			if got := out("parameter_path").AsString(); got != shiplog.ParameterPath(project, label) {
				t.Errorf("output parameter_path: got %q, want %q", got, shiplog.ParameterPath(project, label))
			}
		})
	}
	for name, b := range r.m.outputs {
		if d := attr(b, "description"); d == nil {
			t.Errorf("output %s has no description", name)
		}
	}
}

// TestReleaseImagesValidatesIDsAsTheCodeDoes holds each variable's validation rules to the
// domain's: project ids as a manifest's are checked, labels and services as shiplog.ValidateID.
func TestReleaseImagesValidatesIDsAsTheCodeDoes(t *testing.T) {
	r := releaseImages{parseModule(t, filepath.Join(repoRoot(t), "terraform", "modules", "release_images"))}
	ids := []string{
		"storage", "bugfarm_73649", "2026-11-25", "a", "A.b_c-d", "x.y.z", "-", ".", "_",
		strings.Repeat("a", 128), strings.Repeat("a", 129), "",
		"a..b", "..", "a...", "a b", "a/b", "é", "a\nb", "a*", "a${b}",
		"aws", "AWS-thing", "awsome", "ssm", "SsmX", "my-aws", "x-ssm",
	}
	validProject := func(id string) bool {
		entry := `{"name": "p", "environments": [{"id": "stage"}], "image_repositories": [{"id": "team/app"}]}`
		_, err := shiplog.ParseProject(id, []byte(entry))
		return err == nil
	}
	validID := func(id string) bool { return shiplog.ValidateID("id", id) == nil }

	// accepted evaluates every validation of a variable for one value.
	accepted := func(variable string, value cty.Value) bool {
		b, ok := r.m.variables[variable]
		if !ok {
			t.Fatalf("the module has no variable %s", variable)
		}
		ctx := &hcl.EvalContext{Functions: tfFunctions, Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{variable: value}),
		}}
		vs := blocks(b, "validation")
		if len(vs) == 0 {
			t.Fatalf("variable %s has no validation", variable)
		}
		for _, v := range vs {
			ok, diags := attr(v, "condition").Value(ctx)
			if diags.HasErrors() {
				t.Fatalf("variable %s validation: %v", variable, diags)
			}
			if !ok.True() {
				return false
			}
		}
		return true
	}
	for _, id := range ids {
		if got, want := accepted("project_id", cty.StringVal(id)), validProject(id); got != want {
			t.Errorf("project_id %q: module accepts it: %v, shiplog accepts it: %v", id, got, want)
		}
		if got, want := accepted("label", cty.StringVal(id)), validID(id); got != want {
			t.Errorf("label %q: module accepts it: %v, shiplog accepts it: %v", id, got, want)
		}
		list := cty.ListVal([]cty.Value{cty.StringVal("archivist"), cty.StringVal(id)})
		if got, want := accepted("services", list), validID(id); got != want {
			t.Errorf("services [archivist %q]: module accepts it: %v, shiplog accepts it: %v", id, got, want)
		}
	}
	if !accepted("services", cty.ListValEmpty(cty.String)) {
		t.Error("services: the module refuses an empty list")
	}
}

// TestExamplesUseTheModulesOutputs checks that every module.NAME.OUTPUT an example refers to is a
// local module's declared output (tflint does not look into called modules' outputs).
func TestExamplesUseTheModulesOutputs(t *testing.T) {
	root := repoRoot(t)
	dirs, err := filepath.Glob(filepath.Join(root, "terraform", "examples", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples under terraform/examples (%v)", err)
	}
	for _, dir := range dirs {
		ex := parseModule(t, dir)
		if len(ex.modules) == 0 {
			t.Errorf("%s calls no module", dir)
		}
		outputs := map[string]map[string]bool{}
		for name, b := range ex.modules {
			src, diags := attr(b, "source").Value(nil)
			if diags.HasErrors() || !strings.HasPrefix(src.AsString(), "../") {
				t.Errorf("%s module %s: source %#v, want a local path into terraform/modules", dir, name, src)
				continue
			}
			called := parseModule(t, filepath.Join(dir, src.AsString()))
			outputs[name] = map[string]bool{}
			for o := range called.outputs {
				outputs[name][o] = true
			}
			for arg := range b.Body.Attributes {
				if arg != "source" && arg != "version" && called.variables[arg] == nil {
					t.Errorf("%s module %s: argument %s is no variable of %s", dir, name, arg, src.AsString())
				}
			}
		}
		var refs []string
		for _, f := range ex.files {
			hclsyntax.VisitAll(f.Body.(*hclsyntax.Body), func(n hclsyntax.Node) hcl.Diagnostics {
				if e, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && e.Traversal.RootName() == "module" && len(e.Traversal) >= 3 {
					mod := e.Traversal[1].(hcl.TraverseAttr).Name
					out := e.Traversal[2].(hcl.TraverseAttr).Name
					refs = append(refs, mod+"."+out)
					if !outputs[mod][out] {
						t.Errorf("%s refers to module.%s.%s, which the module does not output", dir, mod, out)
					}
				}
				return nil
			})
		}
		if len(refs) == 0 {
			t.Errorf("%s uses no module output", dir)
		}
	}
}

// TestTflint runs tflint with its bundled terraform ruleset, every rule on (terraform/.tflint.hcl).
func TestTflint(t *testing.T) {
	t.Parallel() // its own scratch directory and processes
	root := repoRoot(t)
	tflint := findTool(t, "tflint", "go install github.com/terraform-linters/tflint@v0.64.0 (make tools puts it in ./bin)",
		filepath.Join(root, "bin", "tflint"), filepath.Join(goBin(t), "tflint"))
	config := filepath.Join(root, "terraform", ".tflint.hcl")
	out, err := run(t, root, nil, tflint, "--chdir", "terraform", "--recursive", "--config", config, "--format", "compact", "--no-color")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("tflint: %v\n%s", err, out)
	}
}
