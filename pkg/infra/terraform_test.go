package infra

import (
	"bytes"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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

	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/manifest"
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
	return typedDataObject(path, params, nil)
}

// typedDataObject is dataObject with some parameters of another type than String (by name).
func typedDataObject(path string, params map[string]string, types map[string]string) cty.Value {
	names := sortedKeys(params)
	nv, vv, av, tv := []cty.Value{}, []cty.Value{}, []cty.Value{}, []cty.Value{}
	for _, n := range names {
		nv = append(nv, cty.StringVal(n))
		vv = append(vv, cty.StringVal(params[n]))
		av = append(av, cty.StringVal("arn:aws:ssm:eu-west-1:123456789012:parameter"+n))
		typ := "String"
		if t, ok := types[n]; ok {
			typ = t
		}
		tv = append(tv, cty.StringVal(typ))
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
		"with_decryption": cty.False,
		"names":           list(nv),
		"values":          list(vv).Mark(sensitive),
		"arns":            list(av),
		"types":           list(tv),
	})
}

// constants evaluates the module's locals that refer to nothing (the image URI rule), which the
// data source's postconditions may use.
func (r releaseImages) constants(t *testing.T) cty.Value {
	t.Helper()
	vals := map[string]cty.Value{}
	for name, expr := range r.m.locals {
		if len(expr.Variables()) > 0 {
			continue
		}
		v, diags := expr.Value(&hcl.EvalContext{Functions: tfFunctions})
		if diags.HasErrors() {
			t.Fatalf("local.%s: %v", name, diags)
		}
		vals[name] = v
	}
	return cty.ObjectVal(vals)
}

// postconditionMessages evaluates the data source's postconditions as Terraform does, with self
// bound to the data source, and returns the error messages of those that fail, in order.
func (r releaseImages) postconditionMessages(t *testing.T, vars, data cty.Value) []string {
	t.Helper()
	selfCtx := &hcl.EvalContext{Functions: tfFunctions, Variables: map[string]cty.Value{"var": vars, "self": data, "local": r.constants(t)}}
	var messages []string
	for _, lc := range blocks(r.dataBlock(t), "lifecycle") {
		for _, pc := range blocks(lc, "postcondition") {
			ok, diags := attr(pc, "condition").Value(selfCtx)
			if diags.HasErrors() {
				t.Fatalf("postcondition: %v", diags)
			}
			if ok, _ = ok.Unmark(); ok.True() {
				continue
			}
			msg, diags := attr(pc, "error_message").Value(selfCtx)
			if diags.HasErrors() {
				t.Fatalf("postcondition error_message: %v", diags)
			}
			if msg.IsMarked() {
				t.Errorf("postcondition message %#v carries a mark: Terraform would hide it", msg)
			}
			msg, _ = msg.Unmark()
			messages = append(messages, msg.AsString())
		}
	}
	return messages
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
	// A stack with a ParameterPrefix keeps them under it, as awsssm does.
	vars := r.vars(t, map[string]cty.Value{"project_id": cty.StringVal("storage"), "label": cty.StringVal("prod"), "parameter_prefix": cty.StringVal("/shiplog-b")})
	if got, want := r.path(t, vars), "/shiplog-b"+shiplog.ParameterPath("storage", "prod"); got != want {
		t.Errorf("module path with parameter_prefix /shiplog-b: got %q, want %q", got, want)
	}
	// shiplog writes plain Strings; decrypting would put a SecureString's secret into a plan,
	// since the module un-marks the values.
	if dec := attr(r.dataBlock(t), "with_decryption"); dec == nil {
		t.Error("data source does not set with_decryption = false (the provider's default is true)")
	} else if v, diags := dec.Value(nil); diags.HasErrors() || !v.RawEquals(cty.False) {
		t.Errorf("data source with_decryption: got %#v, want false", v)
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
		services []string          // the module's services variable
		present  []string          // services with a parameter under the label
		secure   []string          // of those, services whose parameter is a SecureString
		values   map[string]string // of those, services whose parameter holds this instead of an image URI
		failures []string          // postcondition messages must contain these, in order; none means success
	}{
		{name: "no expectations", present: []string{"archivist", "notifier"}},
		{name: "all expected present", services: []string{"notifier", "archivist"}, present: []string{"archivist", "bag_verifier_pre_replication", "notifier"}},
		{name: "missing named, sorted", services: []string{"notifier", "transformer", "bag-register", "archivist"}, present: []string{"archivist", "notifier"},
			failures: []string{"/storage/images/prod/", "bag-register, transformer."}},
		{name: "nothing under the label", failures: []string{"No images under /storage/images/prod/"}},
		{name: "nothing under the label, services expected", services: []string{"archivist"}, failures: []string{"No images under /storage/images/prod/"}},
		{name: "a tag, not a digest", present: []string{"archivist", "notifier"},
			values:   map[string]string{"notifier": "760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/notifier:latest"},
			failures: []string{"not digest-pinned ECR image URIs", "/storage/images/prod/notifier."}},
		{name: "a value that is no URI at all", present: []string{"archivist", "notifier"}, services: []string{"archivist", "notifier"},
			values:   map[string]string{"archivist": "TODO"},
			failures: []string{"not digest-pinned ECR image URIs", ": /storage/images/prod/archivist."}},
		{name: "a SecureString under the label", present: []string{"archivist", "notifier"}, secure: []string{"notifier"},
			failures: []string{"not plain Strings", "/storage/images/prod/notifier."}},
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
			types := map[string]string{}
			for _, s := range tt.secure {
				types[shiplog.ParameterName(project, label, s)] = "SecureString"
			}

			if tt.values == nil {
				tt.values = map[string]string{}
			}
			params := params(tt.present...)
			for s, v := range tt.values {
				params[shiplog.ParameterName(project, label, s)] = v
			}
			data := typedDataObject(path, params, types)
			messages := r.postconditionMessages(t, vars, data)
			// Each failure is said once: one postcondition per meaning.
			if len(tt.failures) > 0 && len(messages) != 1 {
				t.Errorf("%d postconditions failed, want 1:\n%s", len(messages), strings.Join(messages, "\n"))
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
		_, err := manifest.ParseProject(id, []byte(entry))
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
	for _, prefix := range []string{"", "/shiplog-b", "/a", "/team_b.v2", "shiplog", "/", "/a/b", "/a/", "/with space", "/aws-x", "/SSM", "/Ssmx", "/x-aws", "/" + strings.Repeat("a", 64), "/" + strings.Repeat("a", 65)} {
		if got, want := accepted("parameter_prefix", cty.StringVal(prefix)), awsssm.CheckPrefix(prefix) == nil; got != want {
			t.Errorf("parameter_prefix %q: module accepts it: %v, awsssm.CheckPrefix accepts it: %v", prefix, got, want)
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
				if arg != "source" && arg != "version" && arg != "providers" && called.variables[arg] == nil {
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

// TestExamplesPinTheProvider checks each example's AWS provider constraint has an upper bound
// (~> X.Y) and that the committed lock file holds a version it allows, with hashes.
func TestExamplesPinTheProvider(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(repoRoot(t), "terraform", "examples", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples under terraform/examples (%v)", err)
	}
	for _, dir := range dirs {
		var constraint string
		for _, f := range parseModule(t, dir).files {
			for _, b := range f.Body.(*hclsyntax.Body).Blocks {
				for _, rp := range blocks(b, "required_providers") {
					if a, ok := rp.Body.Attributes["aws"]; ok {
						v, diags := a.Expr.Value(nil)
						if diags.HasErrors() {
							t.Fatalf("%s required_providers aws: %v", dir, diags)
						}
						constraint = v.GetAttr("version").AsString()
					}
				}
			}
		}
		m := regexp.MustCompile(`^~> (\d+)\.(\d+)$`).FindStringSubmatch(constraint)
		if m == nil {
			t.Errorf("%s: aws provider version %q, want \"~> MAJOR.MINOR\" (a bound on the major version)", dir, constraint)
			continue
		}
		lockPath := filepath.Join(dir, ".terraform.lock.hcl")
		lock, diags := hclparse.NewParser().ParseHCLFile(lockPath)
		if diags.HasErrors() {
			t.Errorf("%s: %v (commit the lock file: terraform providers lock)", lockPath, diags)
			continue
		}
		found := false
		for _, b := range lock.Body.(*hclsyntax.Body).Blocks {
			if b.Type != "provider" || b.Labels[0] != "registry.terraform.io/hashicorp/aws" {
				continue
			}
			found = true
			get := func(name string) cty.Value {
				v, diags := attr(b, name).Value(nil)
				if diags.HasErrors() {
					t.Fatalf("%s %s: %v", lockPath, name, diags)
				}
				return v
			}
			if got := get("constraints").AsString(); got != constraint {
				t.Errorf("%s constraints %q, versions.tf says %q: run terraform init -upgrade", lockPath, got, constraint)
			}
			version := strings.Split(get("version").AsString(), ".")
			minor, _ := strconv.Atoi(version[1])
			wantMinor, _ := strconv.Atoi(m[2])
			if len(version) != 3 || version[0] != m[1] || minor < wantMinor {
				t.Errorf("%s version %v is not allowed by %q", lockPath, version, constraint)
			}
			if get("hashes").LengthInt() == 0 {
				t.Errorf("%s has no hashes", lockPath)
			}
		}
		if !found {
			t.Errorf("%s locks no registry.terraform.io/hashicorp/aws", lockPath)
		}
	}
}

// TestExampleRollsAService checks the example does what the README says: an ECS service on the
// task definition of the environment's images, and an image lookup that `terraform destroy` can
// still evaluate once a service's parameter is gone (an index into the module's map would fail).
func TestExampleRollsAService(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "terraform", "examples", "ecs_service")
	ex := parseModule(t, dir)
	services := 0
	for _, f := range ex.files {
		body := f.Body.(*hclsyntax.Body)
		for _, b := range body.Blocks {
			if b.Type == "resource" && b.Labels[0] == "aws_ecs_service" {
				services++
				td := attr(b, "task_definition")
				if td == nil || len(td.Variables()) != 1 || td.Variables()[0].RootName() != "aws_ecs_task_definition" {
					t.Errorf("aws_ecs_service.%s: task_definition must be the example's aws_ecs_task_definition's arn", b.Labels[1])
				}
			}
		}
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			var tr hcl.Traversal
			switch e := n.(type) {
			case *hclsyntax.IndexExpr:
				if st, ok := e.Collection.(*hclsyntax.ScopeTraversalExpr); ok {
					tr = append(st.Traversal, hcl.TraverseIndex{})
				}
			case *hclsyntax.ScopeTraversalExpr:
				tr = e.Traversal
			}
			if len(tr) > 3 && tr.RootName() == "module" {
				if _, isIndex := tr[3].(hcl.TraverseIndex); isIndex {
					t.Errorf("%s: %s indexes a module's map directly; use lookup(map, key, null) so destroy survives a missing key",
						n.Range(), tr[1].(hcl.TraverseAttr).Name+"."+tr[2].(hcl.TraverseAttr).Name)
				}
			}
			return nil
		})
	}
	if services != 1 {
		t.Errorf("%s has %d aws_ecs_service resources, want 1", dir, services)
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

// TestReleaseImagesURIRuleIsTheCodes holds the module's image URI rule (local.image_uri, which
// refuses any other value under the path) to awsecr.ParseImage, the rule deploys check images
// by: valid URIs and near misses of them.
func TestReleaseImagesURIRuleIsTheCodes(t *testing.T) {
	r := releaseImages{parseModule(t, filepath.Join(repoRoot(t), "terraform", "modules", "release_images"))}
	rule := r.constants(t).GetAttr("image_uri")
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	samples := []string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@" + digest,
		"123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/team/app-1@" + digest,
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/a.b_c/d@" + digest,
		"760097843905.dkr.ecr.eu-west-1.amazonaws.com/uk.ac.wellcome/bag_verifier@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/App@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + strings.Repeat("A", 64),
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/a__b@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/a-/b@" + digest,
		"123456789012.dkr.ecr.useast-1.amazonaws.com/app@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com//app@" + digest,
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/app@" + digest + "\n",
		"public.ecr.aws/team/app@" + digest,
		"TODO", "",
	}
	pieces := []string{"1", "0", "a", "z", "A", "-", ".", "_", "/", "@", ":", "sha256:", "dkr.ecr.", ".amazonaws.com", ".cn", "us", "east", "123456789012", strings.Repeat("f", 64), "\n"}
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		s := samples[rnd.IntN(4)]
		i := rnd.IntN(len(s) + 1)
		j := min(len(s), i+rnd.IntN(4))
		samples = append(samples, s[:i]+pieces[rnd.IntN(len(pieces))]+s[j:])
	}
	matches := 0
	for _, s := range samples {
		_, err := tfFunctions["regex"].Call([]cty.Value{rule, cty.StringVal(s)})
		_, perr := awsecr.ParseImage(s)
		if got, want := err == nil, perr == nil; got != want {
			t.Errorf("%q: the module accepts it: %v, awsecr.ParseImage accepts it: %v", s, got, want)
		}
		if err == nil {
			matches++
		}
	}
	if matches < 10 {
		t.Errorf("only %d of %d samples are image URIs: the samples test nothing", matches, len(samples))
	}
}

// TestAccountsExampleReadsEachEnvironmentWhereItLives checks the accounts example shows a provider
// per account: each environment's release_images call reads its own label with the provider of
// its own account (aws.ENV), and that provider's region, role and allowed account are the
// environment's (var.ENV), so that no environment's parameters are read in another's account.
func TestAccountsExampleReadsEachEnvironmentWhereItLives(t *testing.T) {
	ex := parseModule(t, filepath.Join(repoRoot(t), "terraform", "examples", "accounts"))
	text := func(e hcl.Expression) string {
		t.Helper()
		if e == nil {
			return ""
		}
		r := e.Range()
		src, err := os.ReadFile(r.Filename)
		if err != nil {
			t.Fatal(err)
		}
		return string(r.SliceBytes(src))
	}
	providers := map[string]*hclsyntax.Block{} // alias -> block
	for _, f := range ex.files {
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			if b.Type == "provider" && b.Labels[0] == "aws" {
				alias, diags := attr(b, "alias").Value(nil)
				if diags.HasErrors() {
					t.Fatalf("provider aws without a literal alias: %v", diags)
				}
				providers[alias.AsString()] = b
			}
		}
	}
	var envs []string
	for name, m := range ex.modules {
		label, diags := attr(m, "label").Value(nil)
		if diags.HasErrors() {
			t.Fatalf("module %s: label is not a literal environment id: %v", name, diags)
		}
		env := label.AsString()
		envs = append(envs, env)
		if got, want := strings.Join(strings.Fields(text(attr(m, "providers"))), " "), "{ aws = aws."+env+" }"; got != want {
			t.Errorf("module %s (label %s): providers %q, want %q: the environment's parameters are in its own account", name, env, got, want)
		}
		p := providers[env]
		if p == nil {
			t.Errorf("module %s: no provider aws aliased %q", name, env)
			continue
		}
		if got := text(attr(p, "region")); got != "var."+env+".region" {
			t.Errorf("provider aws.%s: region %s, want var.%s.region", env, got, env)
		}
		if got := text(attr(p, "allowed_account_ids")); got != "[var."+env+".account_id]" {
			t.Errorf("provider aws.%s: allowed_account_ids %s, want [var.%s.account_id]", env, got, env)
		}
		roles := blocks(p, "assume_role")
		if len(roles) != 1 || text(attr(roles[0], "role_arn")) != "var."+env+".role_arn" {
			t.Errorf("provider aws.%s: want one assume_role with role_arn = var.%s.role_arn", env, env)
		}
	}
	slices.Sort(envs)
	if !slices.Equal(envs, []string{"prod", "stage"}) || len(providers) != 2 {
		t.Errorf("the accounts example reads %v with providers %v, want prod and stage, each with its own", envs, slices.Sorted(maps.Keys(providers)))
	}
}
