package infra

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/emf"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// logicalID is the template's logical id of a function: "ecr-push" is EcrPushFunction.
func logicalID(function string) string {
	var b strings.Builder
	for _, part := range strings.Split(function, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String() + "Function"
}

// functionNames returns the functions of the code: the directories of functions/ with Go files.
func functionNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot(t), "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("functions/ has no function directories")
	}
	return names
}

func TestTemplateFunctionsAreTheCodesFunctions(t *testing.T) {
	tpl := loadTemplate(t)
	root := repoRoot(t)
	var want []string
	for _, name := range functionNames(t) {
		want = append(want, logicalID(name))
	}
	got := tpl.resourcesOfType("AWS::Serverless::Function")
	if diff := cmp.Diff(sortedSet(want), got); diff != "" {
		t.Errorf("functions in template.yaml (-functions/ +template):\n%s", diff)
	}
	for _, name := range functionNames(t) {
		id := logicalID(name)
		t.Run(name, func(t *testing.T) {
			if err := hasMain(filepath.Join(root, "functions", name)); err != nil {
				t.Errorf("functions/%s: %v", name, err)
			}
			checks := []struct {
				property string
				want     any
			}{
				{"Runtime", "provided.al2023"},
				{"Architectures", []any{"arm64"}},
				{"Handler", "bootstrap"},
				// The Makefile must sit in CodeUri, and go build needs the module around it.
				{"CodeUri", "."},
			}
			for _, c := range checks {
				if got := tpl.functionProperty(id, c.property); !cmp.Equal(got, c.want) {
					t.Errorf("%s.%s: got %v, want %v", id, c.property, got, c.want)
				}
			}
			if got := tpl.Resources[id].Metadata["BuildMethod"]; got != "makefile" {
				t.Errorf("%s Metadata.BuildMethod: got %v, want makefile", id, got)
			}
		})
	}
}

// TestTemplateFunctionsBuildFromMakefile does what `sam build` does for BuildMethod makefile:
// `make build-<LogicalId>` with ARTIFACTS_DIR set. The result must be the function's own
// bootstrap, built as `make build` builds it.
func TestTemplateFunctionsBuildFromMakefile(t *testing.T) {
	t.Parallel() // its own scratch directory and processes
	root := repoRoot(t)
	makeBin := findTool(t, "make", "sam build runs the Makefile's build-<LogicalId> targets")
	module, err := modulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range functionNames(t) {
		t.Run(name, func(t *testing.T) {
			artifacts := t.TempDir()
			target := "build-" + logicalID(name)
			out, err := run(t, root, []string{"ARTIFACTS_DIR=" + artifacts}, makeBin, "--no-print-directory", target)
			if err != nil {
				t.Fatalf("make %s (ARTIFACTS_DIR set, as sam build runs it): %v\n%s", target, err, out)
			}
			bin := filepath.Join(artifacts, "bootstrap")
			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatalf("make %s left no Go binary at $(ARTIFACTS_DIR)/bootstrap: %v", target, err)
			}
			if want := module + "/functions/" + name; info.Path != want {
				t.Errorf("bootstrap is built from %s, want %s", info.Path, want)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			for key, want := range map[string]string{
				"GOOS":        "linux",
				"GOARCH":      "arm64",
				"CGO_ENABLED": "0",
				"-tags":       "lambda.norpc",
				"-trimpath":   "true", // and so the build info leaves out -ldflags: see the ELF checks
			} {
				if got := settings[key]; got != want {
					t.Errorf("bootstrap built with %s=%q, want %q", key, got, want)
				}
			}
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 {
				t.Errorf("bootstrap machine: got %v, want %v", f.Machine, elf.EM_AARCH64)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("bootstrap is dynamically linked; Lambda's provided.al2023 needs a static binary")
				}
			}
			// -ldflags "-s -w": no symbol table, no DWARF.
			for _, sec := range f.Sections {
				if sec.Name == ".symtab" || strings.HasPrefix(sec.Name, ".debug_") || strings.HasPrefix(sec.Name, ".zdebug_") {
					t.Errorf("bootstrap has section %s; want it built with -ldflags \"-s -w\"", sec.Name)
				}
			}
		})
	}
}

func TestTemplateEnvironmentIsWhatMainReads(t *testing.T) {
	tpl := loadTemplate(t)
	root := repoRoot(t)
	// Which table each variable names: the variables are awsapp's, the tables are awsdynamo's.
	tableOf := map[string]string{
		awsapp.ReleasesTableEnv: "ReleasesTable",
		awsapp.StateTableEnv:    "StateTable",
	}
	for _, name := range functionNames(t) {
		id := logicalID(name)
		t.Run(name, func(t *testing.T) {
			reads, err := envReads(root, filepath.Join(root, "functions", name))
			if err != nil {
				t.Fatal(err)
			}
			// GOGC is read by the Go runtime of every bootstrap, before main.
			reads = append(reads, "GOGC")
			slices.Sort(reads)
			env := tpl.functionEnvironment(id)
			if diff := cmp.Diff(reads, sortedKeys(env)); diff != "" {
				t.Errorf("%s environment (-main.go reads +template sets):\n%s", id, diff)
			}
			for k, v := range env {
				if want, ok := tableOf[k]; ok && ref(v) != want {
					t.Errorf("%s: %s = %v, want !Ref %s", id, k, v, want)
				}
			}
		})
	}
}

func TestTemplateRoutesAreTheHandlersRoutes(t *testing.T) {
	tpl := loadTemplate(t)
	apis := tpl.resourcesOfType("AWS::Serverless::HttpApi")
	if len(apis) != 1 {
		t.Fatalf("got HTTP APIs %v, want exactly one", apis)
	}
	api := tpl.Resources[apis[0]]
	auth := asMap(api.Properties["Auth"])
	if auth["DefaultAuthorizer"] != "AWS_IAM" || auth["EnableIamAuthorizer"] != true {
		t.Errorf("%s Auth: got %v, want DefaultAuthorizer AWS_IAM and EnableIamAuthorizer true", apis[0], auth)
	}
	for _, p := range []string{"DefinitionBody", "DefinitionUri"} {
		if _, ok := api.Properties[p]; ok {
			t.Errorf("%s has %s: routes must come only from the api function's events", apis[0], p)
		}
	}

	var got []string
	for _, id := range tpl.resourcesOfType("AWS::Serverless::Function") {
		for event, e := range asMap(tpl.Resources[id].Properties["Events"]) {
			em := asMap(e)
			typ := str(em["Type"])
			if typ != "HttpApi" && typ != "Api" {
				continue
			}
			if id != logicalID("api") {
				t.Errorf("%s.Events.%s: only the api function serves HTTP", id, event)
			}
			p := asMap(em["Properties"])
			if typ != "HttpApi" || ref(p["ApiId"]) != apis[0] {
				t.Errorf("%s.Events.%s: got %s on %v, want HttpApi on !Ref %s", id, event, typ, p["ApiId"], apis[0])
			}
			if v := p["PayloadFormatVersion"]; v != "2.0" {
				t.Errorf("%s.Events.%s: PayloadFormatVersion %v, want \"2.0\"", id, event, v)
			}
			if a, ok := p["Auth"]; ok && asMap(a)["Authorizer"] != "AWS_IAM" {
				t.Errorf("%s.Events.%s: Auth %v overrides the API's AWS_IAM authorizer", id, event, a)
			}
			got = append(got, str(p["Method"])+" "+str(p["Path"]))
		}
	}
	if diff := cmp.Diff(routeKeys(), sortedSet(got)); diff != "" {
		t.Errorf("routes (-httpapi.Routes +template):\n%s", diff)
	}
	if len(got) != len(sortedSet(got)) {
		t.Errorf("a route appears twice in the template: %v", got)
	}
}

func routeKeys() []string {
	var keys []string
	for _, r := range httpapi.Routes {
		keys = append(keys, r.Key())
	}
	return sortedSet(keys)
}

// TestTemplateTransformsToIAMOnlyAPI runs the SAM transform itself (aws-sam-translator, which
// cfn-lint ships with) and checks the CloudFormation it makes: every route of the HTTP API, and no
// other, requires AWS_IAM, and SAM added no IAM role of its own.
func TestTemplateTransformsToIAMOnlyAPI(t *testing.T) {
	t.Parallel() // its own scratch directory and processes
	out := samTransform(t)
	var cfn struct {
		Resources map[string]struct {
			Type       string
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(out, &cfn); err != nil {
		t.Fatalf("transformed template: %v", err)
	}
	declared := loadTemplate(t).Resources
	var routes []string
	apis := 0
	for id, r := range cfn.Resources {
		switch r.Type {
		case "AWS::ApiGatewayV2::Api":
			apis++
			paths := asMap(asMap(r.Properties["Body"])["paths"])
			for p, ops := range paths {
				for method, op := range asMap(ops) {
					opm := asMap(op)
					key := strings.ToUpper(method) + " " + p
					routes = append(routes, key)
					if diff := cmp.Diff([]any{map[string]any{"AWS_IAM": []any{}}}, opm["security"]); diff != "" {
						t.Errorf("%s %s security (-want +got):\n%s", id, key, diff)
					}
					if v := asMap(opm["x-amazon-apigateway-integration"])["payloadFormatVersion"]; v != "2.0" {
						t.Errorf("%s %s payloadFormatVersion: got %v, want 2.0", id, key, v)
					}
				}
			}
		case "AWS::ApiGatewayV2::Route":
			if a := r.Properties["AuthorizationType"]; a != "AWS_IAM" {
				t.Errorf("%s: route %v has AuthorizationType %v, want AWS_IAM", id, r.Properties["RouteKey"], a)
			}
			routes = append(routes, str(r.Properties["RouteKey"]))
		case "AWS::IAM::Role":
			if _, ok := declared[id]; !ok {
				t.Errorf("SAM generated IAM role %s: every function must use its own declared role", id)
			}
		}
	}
	if apis != 1 {
		t.Errorf("got %d HTTP APIs after the transform, want 1", apis)
	}
	sort.Strings(routes)
	if diff := cmp.Diff(routeKeys(), routes); diff != "" {
		t.Errorf("transformed routes (-httpapi.Routes +CloudFormation):\n%s", diff)
	}
}

// samTransformScript prints template.yaml transformed to CloudFormation, as `sam deploy` would
// have CloudFormation do it: local CodeUris are replaced with S3 locations first, as sam package does.
const samTransformScript = `
import json, sys
from cfnlint.decode import decode
from samtranslator.translator.transform import transform
tpl, problems = decode(sys.argv[1])
if problems:
    sys.exit("\n".join(str(p) for p in problems))
def to_s3(props):
    if "CodeUri" in props:
        props["CodeUri"] = "s3://bucket/key"
to_s3(tpl.get("Globals", {}).get("Function", {}))
for r in tpl["Resources"].values():
    if r.get("Type") == "AWS::Serverless::Function":
        to_s3(r.get("Properties", {}))
class NoManagedPolicies:
    def load(self):
        return {}
print(json.dumps(transform(tpl, {}, NoManagedPolicies())))
`

func samTransform(t *testing.T) []byte {
	t.Helper()
	root := repoRoot(t)
	candidates := []string{"python3", "/root/.pyenv/shims/python3"}
	// cfn-lint's own interpreter, when its script names one.
	if p, err := findToolPath("cfn-lint", "/root/.pyenv/shims/cfn-lint"); err == nil {
		if data, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(data), "#!/") {
			line, _, _ := strings.Cut(string(data[2:]), "\n")
			if f := strings.Fields(line); len(f) == 1 && strings.Contains(path.Base(f[0]), "python") {
				candidates = append(candidates, f[0])
			}
		}
	}
	env := []string{"AWS_DEFAULT_REGION=eu-west-1"}
	var tried []string
	for _, py := range candidates {
		if _, err := run(t, root, env, py, "-c", "import cfnlint, samtranslator"); err != nil {
			tried = append(tried, py)
			continue
		}
		out, err := runStdout(t, root, env, py, "-c", samTransformScript, "template.yaml")
		if err != nil {
			t.Fatalf("SAM transform of template.yaml failed: %v", err)
		}
		return out
	}
	t.Fatalf("no Python with cfnlint and samtranslator (tried %s); cfn-lint installs both", strings.Join(tried, ", "))
	return nil
}

func TestTemplateTablesAreTheAdaptersTables(t *testing.T) {
	tpl := loadTemplate(t)
	// Named after the template's logical ids, so each definition finds its resource.
	defs := awsdynamo.TableDefinitions("ReleasesTable", "StateTable")
	var want []string
	for _, def := range defs {
		id := aws.ToString(def.TableName)
		want = append(want, id)
		t.Run(id, func(t *testing.T) {
			r, ok := tpl.Resources[id]
			if !ok || r.Type != "AWS::DynamoDB::Table" {
				t.Fatalf("template.yaml has no AWS::DynamoDB::Table %s", id)
			}
			if diff := cmp.Diff(tableShape(def), templateTableShape(r)); diff != "" {
				t.Errorf("%s (-awsdynamo.TableDefinitions +template):\n%s", id, diff)
			}
			p := r.Properties
			// The TTL the code's items carry (awsdynamo.TimeToLive), enabled; none on a table without.
			var gotTTL string
			if v, ok := p["TimeToLiveSpecification"]; ok {
				spec := asMap(v)
				if spec["Enabled"] != true {
					t.Errorf("%s: TimeToLiveSpecification %v is not enabled", id, spec)
				}
				gotTTL = str(spec["AttributeName"])
			}
			if want := awsdynamo.TimeToLive("ReleasesTable", "StateTable")[id]; gotTTL != want {
				t.Errorf("%s: TTL attribute %q, want %q (awsdynamo.TimeToLive)", id, gotTTL, want)
			}
			if v := asMap(p["PointInTimeRecoverySpecification"])["PointInTimeRecoveryEnabled"]; v != true {
				t.Errorf("%s: point-in-time recovery is %v, want true", id, v)
			}
			if v := p["DeletionProtectionEnabled"]; v != true {
				t.Errorf("%s: DeletionProtectionEnabled is %v, want true", id, v)
			}
			if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
				t.Errorf("%s: DeletionPolicy %q, UpdateReplacePolicy %q; want both Retain (release history is the audit record)",
					id, r.DeletionPolicy, r.UpdateReplacePolicy)
			}
			if _, ok := p["TableName"]; ok {
				t.Errorf("%s sets TableName: a retained table with a fixed name blocks a second stack and any replacement", id)
			}
		})
	}
	if diff := cmp.Diff(sortedSet(want), tpl.resourcesOfType("AWS::DynamoDB::Table")); diff != "" {
		t.Errorf("tables (-awsdynamo +template):\n%s", diff)
	}
}

// table is the part of a table definition that the template must match.
type table struct {
	BillingMode string
	// Stream is the stream's view type, "" for a table without one.
	Stream     string
	Attributes map[string]string
	Key        []string // "name HASH", "name RANGE"
	GSIs       map[string]index
	LSIs       map[string]index
}

type index struct {
	Key        []string
	Projection string
	NonKey     []string
}

func tableShape(def *dynamodb.CreateTableInput) table {
	tb := table{BillingMode: string(def.BillingMode), Attributes: map[string]string{}}
	if sp := def.StreamSpecification; sp != nil && aws.ToBool(sp.StreamEnabled) {
		tb.Stream = string(sp.StreamViewType)
	}
	for _, a := range def.AttributeDefinitions {
		tb.Attributes[aws.ToString(a.AttributeName)] = string(a.AttributeType)
	}
	for _, k := range def.KeySchema {
		tb.Key = append(tb.Key, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	for _, g := range def.GlobalSecondaryIndexes {
		if tb.GSIs == nil {
			tb.GSIs = map[string]index{}
		}
		ix := index{Projection: string(g.Projection.ProjectionType), NonKey: g.Projection.NonKeyAttributes}
		for _, k := range g.KeySchema {
			ix.Key = append(ix.Key, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		tb.GSIs[aws.ToString(g.IndexName)] = ix
	}
	for _, l := range def.LocalSecondaryIndexes {
		if tb.LSIs == nil {
			tb.LSIs = map[string]index{}
		}
		ix := index{Projection: string(l.Projection.ProjectionType), NonKey: l.Projection.NonKeyAttributes}
		for _, k := range l.KeySchema {
			ix.Key = append(ix.Key, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		tb.LSIs[aws.ToString(l.IndexName)] = ix
	}
	return tb
}

func templateTableShape(r Resource) table {
	p := r.Properties
	tb := table{BillingMode: str(p["BillingMode"]), Attributes: map[string]string{}}
	tb.Stream = str(asMap(p["StreamSpecification"])["StreamViewType"])
	for _, a := range asSlice(p["AttributeDefinitions"]) {
		am := asMap(a)
		tb.Attributes[str(am["AttributeName"])] = str(am["AttributeType"])
	}
	keys := func(v any) []string {
		var out []string
		for _, k := range asSlice(v) {
			km := asMap(k)
			out = append(out, str(km["AttributeName"])+" "+str(km["KeyType"]))
		}
		return out
	}
	tb.Key = keys(p["KeySchema"])
	indexes := func(v any) map[string]index {
		if v == nil {
			return nil
		}
		m := map[string]index{}
		for _, g := range asSlice(v) {
			gm := asMap(g)
			proj := asMap(gm["Projection"])
			ix := index{Key: keys(gm["KeySchema"]), Projection: str(proj["ProjectionType"])}
			for _, a := range asSlice(proj["NonKeyAttributes"]) {
				ix.NonKey = append(ix.NonKey, str(a))
			}
			m[str(gm["IndexName"])] = ix
		}
		return m
	}
	tb.GSIs = indexes(p["GlobalSecondaryIndexes"])
	tb.LSIs = indexes(p["LocalSecondaryIndexes"])
	return tb
}

// checkGrant checks that a policy is exactly one Allow of actions on resources.
func checkGrant(t *testing.T, what string, sts []map[string]any, actions, resources []string) {
	t.Helper()
	if len(sts) != 1 {
		t.Errorf("%s: got %d statements, want 1", what, len(sts))
		return
	}
	st := sts[0]
	var got []string
	for _, a := range asSlice(st["Action"]) {
		got = append(got, str(a))
	}
	if st["Effect"] != "Allow" || !cmp.Equal(sortedSet(got), sortedSet(actions)) || !cmp.Equal(resourceStrings(st["Resource"]), sortedSet(resources)) {
		t.Errorf("%s: got %v, want Allow %v on %v", what, st, actions, resources)
	}
}

func statements(doc any) []map[string]any {
	var out []map[string]any
	for _, s := range asSlice(asMap(doc)["Statement"]) {
		out = append(out, asMap(s))
	}
	return out
}

// resourceStrings renders a statement's resources as "GetAtt R.A", "Sub ..." or the plain ARN, sorted.
func resourceStrings(v any) []string {
	var out []string
	for _, r := range asSlice(v) {
		switch {
		case sub(r) != "":
			out = append(out, "Sub "+sub(r))
		default:
			if res, attr := getAtt(r); res != "" {
				out = append(out, "GetAtt "+res+"."+attr)
			} else if s, ok := r.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(r)
				out = append(out, string(b))
			}
		}
	}
	sort.Strings(out)
	return out
}

// matchesPattern is EventBridge's matching (which Lambda's filter criteria share) for the pattern
// forms the template uses: nested objects, and lists of exact strings and {"prefix": ...}.
func matchesPattern(t *testing.T, pattern map[string]any, event map[string]any) bool {
	t.Helper()
	for k, want := range pattern {
		got, present := event[k]
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matchesPattern(t, w, sub) {
				return false
			}
		case []any:
			if !present {
				return false
			}
			s, ok := got.(string)
			if !ok {
				return false
			}
			match := false
			for _, v := range w {
				if m, ok := v.(map[string]any); ok && len(m) == 1 && m["prefix"] != nil {
					match = match || strings.HasPrefix(s, str(m["prefix"]))
					continue
				}
				if m, ok := v.(map[string]any); ok && len(m) == 1 && m["anything-but"] != nil {
					but := asMap(m["anything-but"])
					if len(but) != 1 || but["prefix"] == nil {
						t.Fatalf("event pattern %s: anything-but %v is not a prefix; extend matchesPattern", k, m["anything-but"])
					}
					match = match || !strings.HasPrefix(s, str(but["prefix"]))
					continue
				}
				vs, ok := v.(string)
				if !ok {
					t.Fatalf("event pattern %s: %v is neither an exact string nor a prefix; extend matchesPattern", k, v)
				}
				match = match || vs == s
			}
			if !match {
				return false
			}
		default:
			t.Fatalf("event pattern %s: %v is not a list or an object", k, want)
		}
	}
	return true
}

// TestTemplateEventRules checks the rule of each function EventBridge invokes: its pattern, which
// sample events it matches, its retries and dead-letter queue, and the permissions both need.
func TestTemplateEventRules(t *testing.T) {
	tpl := loadTemplate(t)
	t.Run("ecr-push", func(t *testing.T) {
		checkEventRule(t, tpl, "ecr-push", map[string]any{
			"source":      []any{"aws.ecr"},
			"detail-type": []any{"ECR Image Action"},
			"detail": map[string]any{"action-type": []any{"PUSH"}, "result": []any{"SUCCESS"},
				"image-tag": []any{map[string]any{"anything-but": map[string]any{"prefix": shiplog.EnvTagPrefix}}}},
		}, map[string]bool{
			"ecr-push-tagged.json":   true,
			"ecr-push-untagged.json": false, // no image-tag, which anything-but needs; the function would ignore it anyway
			"ecr-push-env-tag.json":  false, // a tag a deploy moved onto an older image
			"ecr-push-failed.json":   false,
			"ecr-delete.json":        false,
		})
	})
	t.Run("ecs-events", func(t *testing.T) {
		// The function's own sample events.
		samples := filepath.Join("..", "awslambda", "testdata")
		// The eventNames the function acts on, of either detail-type.
		names := map[string]bool{}
		for _, outcomes := range awslambda.ECSEventOutcomes {
			for name := range outcomes {
				names[name] = true
			}
		}
		var eventNames []any
		for _, name := range sortedKeys(names) {
			eventNames = append(eventNames, name)
		}
		checkEventRule(t, tpl, "ecs-events", map[string]any{
			"source":      []any{"aws.ecs"},
			"detail-type": []any{awslambda.ECSDeploymentStateChange, awslambda.ECSServiceAction},
			"detail":      map[string]any{"eventName": eventNames},
		}, map[string]bool{
			filepath.Join(samples, "ecs-deployment-completed.json"):           true,
			filepath.Join(samples, "ecs-deployment-failed.json"):              true,
			filepath.Join(samples, "ecs-deployment-rollback.json"):            true,
			filepath.Join(samples, "ecs-service-steady-state.json"):           true,
			filepath.Join(samples, "ecs-service-task-placement-failure.json"): false, // an eventName the function would only log
			"ecr-push-tagged.json": false,
		})
	})
	t.Run("ecs-events alarms", func(t *testing.T) {
		samples := filepath.Join("..", "awslambda", "testdata")
		checkEventRule(t, tpl, "ecs-events", map[string]any{
			"source":      []any{awslambda.CloudWatchSource},
			"detail-type": []any{awslambda.CloudWatchAlarmStateChange},
			"detail":      map[string]any{"state": map[string]any{"value": []any{shiplog.AlarmAlarm}}},
		}, map[string]bool{
			filepath.Join(samples, "cloudwatch-alarm-in-alarm.json"): true,
			filepath.Join(samples, "cloudwatch-alarm-ok.json"):       false, // only an alarm entering ALARM fails a deployment
			filepath.Join(samples, "ecs-deployment-completed.json"):  false,
			"ecr-push-tagged.json":                                   false,
		})
	})
}

// checkEventRule checks the one rule that targets function with events of want's source: its
// EventPattern is want, and it matches each sample event (a file of testdata/, or a path) exactly
// when samples says. (ecs-events takes ECS's events and CloudWatch's, by a rule each.)
func checkEventRule(t *testing.T, tpl *Template, function string, want map[string]any, samples map[string]bool) {
	t.Helper()
	fn := logicalID(function)
	var rules []string
	for _, id := range tpl.resourcesOfType("AWS::Events::Rule") {
		if !cmp.Equal(asMap(tpl.Resources[id].Properties["EventPattern"])["source"], want["source"]) {
			continue
		}
		for _, tg := range asSlice(tpl.Resources[id].Properties["Targets"]) {
			if res, _ := getAtt(asMap(tg)["Arn"]); res == fn {
				rules = append(rules, id)
			}
		}
	}
	if len(rules) != 1 {
		t.Fatalf("rules of source %v targeting %s: got %v, want one", want["source"], fn, rules)
	}
	rule := tpl.Resources[rules[0]]
	pattern := asMap(rule.Properties["EventPattern"])
	if diff := cmp.Diff(want, pattern); diff != "" {
		t.Errorf("%s EventPattern (-want +got):\n%s", rules[0], diff)
	}
	for file, match := range samples {
		path := file
		if !strings.Contains(file, string(filepath.Separator)) {
			path = filepath.Join("testdata", file)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var event map[string]any
		if err := json.Unmarshal(data, &event); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := matchesPattern(t, pattern, event); got != match {
			t.Errorf("%s matches the rule: got %v, want %v", file, got, match)
		}
	}

	var target map[string]any
	for _, tg := range asSlice(rule.Properties["Targets"]) {
		target = asMap(tg)
	}
	retry := asMap(target["RetryPolicy"])
	if retry["MaximumRetryAttempts"] == nil || retry["MaximumEventAgeInSeconds"] == nil {
		t.Errorf("%s target RetryPolicy: got %v, want MaximumRetryAttempts and MaximumEventAgeInSeconds", rules[0], retry)
	}
	queue, attr := getAtt(asMap(target["DeadLetterConfig"])["Arn"])
	if tpl.Resources[queue].Type != "AWS::SQS::Queue" || attr != "Arn" {
		t.Fatalf("%s target DeadLetterConfig: got %v, want an SQS queue of the template", rules[0], target["DeadLetterConfig"])
	}

	// EventBridge may send to the queue only if the queue's policy lets this rule.
	allowed := false
	for _, id := range tpl.resourcesOfType("AWS::SQS::QueuePolicy") {
		p := tpl.Resources[id].Properties
		if !slices.ContainsFunc(asSlice(p["Queues"]), func(q any) bool { return ref(q) == queue }) {
			continue
		}
		for _, st := range statements(p["PolicyDocument"]) {
			cond := asMap(asMap(st["Condition"])["ArnEquals"])
			src, _ := getAtt(cond["aws:SourceArn"])
			if st["Effect"] == "Allow" && cmp.Equal(st["Principal"], map[string]any{"Service": "events.amazonaws.com"}) &&
				slices.Contains(asSlice(st["Action"]), any("sqs:SendMessage")) && src == rules[0] {
				allowed = true
			}
		}
	}
	if !allowed {
		t.Errorf("no queue policy on %s allows events.amazonaws.com sqs:SendMessage from %s", queue, rules[0])
	}

	// Lambda must let the rule invoke the function.
	permitted := false
	for _, id := range tpl.resourcesOfType("AWS::Lambda::Permission") {
		p := tpl.Resources[id].Properties
		src, _ := getAtt(p["SourceArn"])
		if ref(p["FunctionName"]) == fn && p["Principal"] == "events.amazonaws.com" && p["Action"] == "lambda:InvokeFunction" && src == rules[0] {
			permitted = true
		}
	}
	if !permitted {
		t.Errorf("no AWS::Lambda::Permission lets %s invoke %s", rules[0], fn)
	}
}

// TestTemplateStreamMapping checks how the events function is fed: the state table's stream of
// new images, filtered to inserted event items (the sample records of pkg/awslambda's testdata
// match exactly when they should), batch item failures, bounded retries that split a failing
// batch, and a dead-letter queue for what is given up.
func TestTemplateStreamMapping(t *testing.T) {
	tpl := loadTemplate(t)
	fn := logicalID(awslambda.EventsName)
	mappings := tpl.resourcesOfType("AWS::Lambda::EventSourceMapping")
	if len(mappings) != 1 || ref(tpl.Resources[mappings[0]].Properties["FunctionName"]) != fn {
		t.Fatalf("event source mappings: got %v, want one, of %s", mappings, fn)
	}
	p := tpl.Resources[mappings[0]].Properties
	if table, attr := getAtt(p["EventSourceArn"]); table != "StateTable" || attr != "StreamArn" {
		t.Errorf("EventSourceArn: got %v, want !GetAtt StateTable.StreamArn", p["EventSourceArn"])
	}
	// The stream carries the new image: the event item itself.
	if got := asMap(tpl.Resources["StateTable"].Properties["StreamSpecification"])["StreamViewType"]; got != "NEW_IMAGE" {
		t.Errorf("StateTable StreamViewType: got %v, want NEW_IMAGE", got)
	}
	for key, want := range map[string]any{
		"StartingPosition":           "TRIM_HORIZON",
		"FunctionResponseTypes":      []any{"ReportBatchItemFailures"},
		"BisectBatchOnFunctionError": true,
	} {
		if !cmp.Equal(p[key], want) {
			t.Errorf("%s: got %v, want %v", key, p[key], want)
		}
	}
	// Bounded: a record is given up after these retries (-1, the default, retries until the
	// record expires from the stream, blocking its shard for a day).
	if n, ok := p["MaximumRetryAttempts"].(int); !ok || n < 0 || n > 10000 {
		t.Errorf("MaximumRetryAttempts: got %v, want a bound of 0 to 10000", p["MaximumRetryAttempts"])
	}
	queue, attr := getAtt(asMap(asMap(p["DestinationConfig"])["OnFailure"])["Destination"])
	if attr != "Arn" || tpl.Resources[queue].Type != "AWS::SQS::Queue" {
		t.Errorf("DestinationConfig.OnFailure: got %v, want an SQS queue of the template", p["DestinationConfig"])
	}

	filters := asSlice(asMap(p["FilterCriteria"])["Filters"])
	if len(filters) != 1 {
		t.Fatalf("FilterCriteria: got %v, want one filter", p["FilterCriteria"])
	}
	var pattern map[string]any
	if err := json.Unmarshal([]byte(str(asMap(filters[0])["Pattern"])), &pattern); err != nil {
		t.Fatalf("filter pattern: %v", err)
	}
	want := map[string]any{
		"eventName": []any{"INSERT"},
		"dynamodb":  map[string]any{"Keys": map[string]any{"sk": map[string]any{"S": []any{map[string]any{"prefix": awsdynamo.EventPrefix}}}}},
	}
	if diff := cmp.Diff(want, pattern); diff != "" {
		t.Errorf("filter pattern (-want +got):\n%s", diff)
	}
	samples := filepath.Join("..", "awslambda", "testdata")
	for file, match := range map[string]bool{
		"stream-event-inserted.json": true,
		"stream-state-modified.json": false,
		"stream-state-inserted.json": false,
		"stream-event-removed.json":  false,
	} {
		data, err := os.ReadFile(filepath.Join(samples, file))
		if err != nil {
			t.Fatal(err)
		}
		var record map[string]any
		if err := json.Unmarshal(data, &record); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if got := matchesPattern(t, pattern, record); got != match {
			t.Errorf("%s passes the filter: got %v, want %v", file, got, match)
		}
	}
}

func TestTemplateAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	type alarmOn struct{ namespace, metric, dimension, target string }
	var alarms []alarmOn
	for _, id := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		for _, d := range asSlice(p["Dimensions"]) {
			dm := asMap(d)
			target := ref(dm["Value"])
			if res, _ := getAtt(dm["Value"]); res != "" {
				target = res
			}
			alarms = append(alarms, alarmOn{str(p["Namespace"]), str(p["MetricName"]), str(dm["Name"]), target})
		}
		if p["ComparisonOperator"] == nil || p["Threshold"] == nil {
			t.Errorf("%s: no threshold", id)
		}
		// Every alarm notifies someone: the given topic, else the stack's own.
		notify := []any{map[string]any{"Fn::If": []any{"HasAlarmTopic", map[string]any{"Ref": "AlarmTopicArn"}, map[string]any{"Ref": "AlarmTopic"}}}}
		for _, actions := range []string{"AlarmActions", "OKActions"} {
			if diff := cmp.Diff(notify, p[actions]); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", id, actions, diff)
			}
		}
		// A function's duration alarm fires at 80% of its timeout.
		if str(p["MetricName"]) == "Duration" {
			fn := ref(asMap(asSlice(p["Dimensions"])[0])["Value"])
			timeout, err := strconv.ParseFloat(fmt.Sprint(tpl.functionProperty(fn, "Timeout")), 64)
			if err != nil {
				t.Fatalf("%s Timeout: %v", fn, err)
			}
			if got, want := fmt.Sprint(p["Threshold"]), strconv.Itoa(int(timeout*1000*0.8)); got != want || str(p["Statistic"]) != "Maximum" {
				t.Errorf("%s: %s of %v ms, want Maximum of %s ms (80%% of %s's %v s timeout)", id, p["Statistic"], got, want, fn, timeout)
			}
		}
	}
	if r := tpl.Resources["AlarmTopic"]; r.Type != "AWS::SNS::Topic" || r.Condition != "CreateAlarmTopic" {
		t.Errorf("AlarmTopic: got %+v, want an SNS topic made when AlarmTopicArn is empty", r)
	}
	if got, want := tpl.Conditions["CreateAlarmTopic"], any(map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AlarmTopicArn"}, ""}}); !cmp.Equal(got, want) {
		t.Errorf("condition CreateAlarmTopic: got %v, want %v", got, want)
	}
	if sub := tpl.Resources["AlarmEmailSubscription"]; sub.Type != "AWS::SNS::Subscription" || ref(sub.Properties["TopicArn"]) != "AlarmTopic" ||
		ref(sub.Properties["Endpoint"]) != "AlarmEmail" || sub.Properties["Protocol"] != "email" {
		t.Errorf("AlarmEmailSubscription: got %+v, want AlarmEmail subscribed to AlarmTopic", sub)
	}
	var want []alarmOn
	for _, name := range functionNames(t) {
		want = append(want, alarmOn{"AWS/Lambda", "Errors", "FunctionName", logicalID(name)},
			alarmOn{"AWS/Lambda", "Throttles", "FunctionName", logicalID(name)},
			alarmOn{"AWS/Lambda", "Duration", "FunctionName", logicalID(name)})
	}
	for _, id := range tpl.resourcesOfType("AWS::SQS::Queue") {
		want = append(want, alarmOn{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", id})
	}
	// Asynchronous invocations Lambda dropped, and events EventBridge could not deliver.
	for _, fn := range []string{"ecr-push", "ecs-events", "notify"} {
		want = append(want, alarmOn{"AWS/Lambda", "AsyncEventsDropped", "FunctionName", logicalID(fn)})
	}
	for _, id := range tpl.resourcesOfType("AWS::Events::Rule") {
		want = append(want, alarmOn{"AWS/Events", "FailedInvocations", "RuleName", id},
			alarmOn{"AWS/Events", "InvocationsFailedToBeSentToDlq", "RuleName", id})
	}
	// Stream-fed functions: how old the oldest record waiting for them is.
	for _, id := range tpl.resourcesOfType("AWS::Lambda::EventSourceMapping") {
		want = append(want, alarmOn{"AWS/Lambda", "IteratorAge", "FunctionName", ref(tpl.Resources[id].Properties["FunctionName"])})
	}
	for _, id := range tpl.resourcesOfType("AWS::Serverless::HttpApi") {
		want = append(want, alarmOn{"AWS/ApiGateway", "5xx", "ApiId", id}, alarmOn{"AWS/ApiGateway", "Latency", "ApiId", id})
	}
	// The example alarm on shiplog's own metric (pkg/emf): failed deployments to one environment.
	want = append(want, alarmOn{emf.Namespace, awslambda.MetricDeploymentsFailed, awslambda.DimensionEnvironment, "FailedDeploymentAlarmEnvironment"})
	less := func(a, b alarmOn) int { return strings.Compare(a.target+a.metric, b.target+b.metric) }
	slices.SortFunc(want, less)
	slices.SortFunc(alarms, less)
	if diff := cmp.Diff(want, alarms, cmp.AllowUnexported(alarmOn{})); diff != "" {
		t.Errorf("alarms (-want +got):\n%s", diff)
	}
}

func TestTemplateOutputs(t *testing.T) {
	tpl := loadTemplate(t)
	refs, arns := map[string]bool{}, map[string]bool{}
	for name, o := range tpl.Outputs {
		om := asMap(o)
		if str(om["Description"]) == "" {
			t.Errorf("output %s has no description", name)
		}
		if r := ref(om["Value"]); r != "" {
			refs[r] = true
		}
		if res, attr := getAtt(om["Value"]); attr == "Arn" {
			arns[res] = true
		}
	}
	var want []string
	for _, name := range functionNames(t) {
		want = append(want, logicalID(name))
	}
	want = append(want, tpl.resourcesOfType("AWS::DynamoDB::Table")...)
	// ARNs of the functions and tables, for the policies of CI roles and readers.
	for _, id := range want {
		if !arns[id] {
			t.Errorf("no output gives !GetAtt %s.Arn", id)
		}
	}
	want = append(want, tpl.resourcesOfType("AWS::Serverless::HttpApi")...)
	want = append(want, "HttpApiAccessLogGroup")
	for _, id := range want {
		if !refs[id] {
			t.Errorf("no output gives !Ref %s", id)
		}
	}
	if got := sub(asMap(tpl.Outputs["ApiExecuteArn"])["Value"]); got != "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/$default" {
		t.Errorf("ApiExecuteArn: got %q, want the $default stage's execute-api ARN", got)
	}
	url := sub(asMap(tpl.Outputs["ApiUrl"])["Value"])
	if api := tpl.resourcesOfType("AWS::Serverless::HttpApi"); len(api) != 1 || !strings.HasPrefix(url, "https://${"+api[0]+"}.execute-api.") {
		t.Errorf("ApiUrl: got %q, want the HTTP API's execute-api URL", url)
	}
}

// TestPackagedTemplate checks the template `make build/template.yaml` writes for `aws
// cloudformation package`: the same template but for each function's CodeUri, which names the zip
// `make build` makes, and clean under cfn-lint.
func TestPackagedTemplate(t *testing.T) {
	t.Parallel() // its own scratch directory and processes
	root := repoRoot(t)
	makeBin := findTool(t, "make", "the packaged template is written by the Makefile")
	lint := findTool(t, "cfn-lint", "pip install cfn-lint (CI's machine has it in pyenv)", "/root/.pyenv/shims/cfn-lint")
	// In a scratch copy, so the test neither needs the zips nor writes into the working tree.
	dir := t.TempDir()
	for _, f := range []string{"Makefile", "template.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := run(t, dir, nil, makeBin, "--no-print-directory", "build/template.yaml"); err != nil {
		t.Fatalf("make build/template.yaml: %v\n%s", err, out)
	}
	packaged := filepath.Join(dir, "build", "template.yaml")
	got, want := loadTemplateFile(t, packaged), loadTemplate(t)
	for _, name := range functionNames(t) {
		id := logicalID(name)
		r, ok := got.Resources[id]
		if !ok {
			t.Errorf("packaged template has no %s", id)
			continue
		}
		if uri, want := r.Properties["CodeUri"], name+".zip"; uri != want {
			t.Errorf("packaged %s CodeUri: got %v, want %q (the zip make build makes)", id, uri, want)
		}
		delete(r.Properties, "CodeUri")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packaged template differs from template.yaml beyond CodeUri (-template.yaml +packaged):\n%s", diff)
	}
	out, err := run(t, dir, []string{"AWS_DEFAULT_REGION=eu-west-1"}, lint, "--", packaged)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("cfn-lint build/template.yaml: %v\n%s", err, out)
	}
}

func TestCfnLint(t *testing.T) {
	t.Parallel() // its own scratch directory and processes
	root := repoRoot(t)
	lint := findTool(t, "cfn-lint", "pip install cfn-lint (CI's machine has it in pyenv)", "/root/.pyenv/shims/cfn-lint")
	out, err := run(t, root, []string{"AWS_DEFAULT_REGION=eu-west-1"}, lint, "--", "template.yaml")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

func TestEnvReadsFindsEveryForm(t *testing.T) {
	root := repoRoot(t)
	got, err := envReads(root, filepath.Join("testdata", "envreads"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"LITERAL", "LOCAL_CONSTANT", awsapp.StateTableEnv}
	if diff := cmp.Diff(sortedSet(want), got); diff != "" {
		t.Errorf("envReads (-want +got):\n%s", diff)
	}
}

// TestTemplateApiIsThrottledAndItsAuditLogKept: every route is throttled by the stack's
// parameters, and the access log (who called what) outlives the stack under a generated name.
func TestTemplateApiIsThrottledAndItsAuditLogKept(t *testing.T) {
	tpl := loadTemplate(t)
	for _, id := range tpl.resourcesOfType("AWS::Serverless::HttpApi") {
		p := tpl.Resources[id].Properties
		rs := asMap(p["DefaultRouteSettings"])
		if ref(rs["ThrottlingRateLimit"]) != "ApiThrottlingRateLimit" || ref(rs["ThrottlingBurstLimit"]) != "ApiThrottlingBurstLimit" {
			t.Errorf("%s DefaultRouteSettings: got %v, want the ApiThrottling* parameters", id, rs)
		}
		logs, attr := getAtt(asMap(p["AccessLogSettings"])["DestinationArn"])
		lg, ok := tpl.Resources[logs]
		if !ok || attr != "Arn" || lg.Type != "AWS::Logs::LogGroup" {
			t.Fatalf("%s AccessLogSettings.DestinationArn: got %v, want a log group of the template", id, asMap(p["AccessLogSettings"])["DestinationArn"])
		}
		if lg.DeletionPolicy != "Retain" || lg.UpdateReplacePolicy != "Retain" {
			t.Errorf("%s: DeletionPolicy %q, UpdateReplacePolicy %q; want both Retain (the API's audit trail)", logs, lg.DeletionPolicy, lg.UpdateReplacePolicy)
		}
		if _, named := lg.Properties["LogGroupName"]; named {
			t.Errorf("%s sets LogGroupName: a kept group with a fixed name blocks a new stack of the same name", logs)
		}
	}
}

// TestSamconfig checks the committed samconfig.toml: SAM builds in the source tree, deploys
// with the IAM capability the roles need and stack tags, and overrides only the template's own
// parameters. (A line reader: the file uses only tables and string, number and boolean keys.)
func TestSamconfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{} // "table.key" -> raw value
	table := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			table = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("samconfig.toml: cannot read %q", line)
			}
			values[table+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for key, want := range map[string]string{
		"default.build.parameters.build_in_source": "true",
		"default.deploy.parameters.capabilities":   `"CAPABILITY_IAM"`,
	} {
		if got := values[key]; got != want {
			t.Errorf("samconfig.toml %s: got %q, want %s", key, got, want)
		}
	}
	if values["default.deploy.parameters.tags"] == "" {
		t.Error("samconfig.toml sets no stack tags (default.deploy.parameters.tags)")
	}
	tpl := loadTemplate(t)
	overrides := strings.Trim(values["default.deploy.parameters.parameter_overrides"], `"`)
	for _, kv := range strings.Fields(overrides) {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := tpl.Parameters[name]; !ok {
			t.Errorf("samconfig.toml overrides %s, which is no parameter of template.yaml", name)
		}
	}
}

// TestTemplateBoundsAndBoundaries: every role the stack makes takes the optional permissions
// boundary, and every function that events drive (an EventBridge rule's target or a stream's)
// has the reserved concurrency the stack is given, none when it is 0.
func TestTemplateBoundsAndBoundaries(t *testing.T) {
	tpl := loadTemplate(t)
	boundary := map[string]any{"Fn::If": []any{"HasPermissionsBoundary", map[string]any{"Ref": "PermissionsBoundary"}, map[string]any{"Ref": "AWS::NoValue"}}}
	roles := tpl.resourcesOfType("AWS::IAM::Role")
	if len(roles) == 0 {
		t.Fatal("the template makes no roles")
	}
	for _, id := range roles {
		if diff := cmp.Diff(boundary, tpl.Resources[id].Properties["PermissionsBoundary"]); diff != "" {
			t.Errorf("%s PermissionsBoundary (-want +got):\n%s", id, diff)
		}
	}
	// A function the template does not give a role of its own would get one from SAM, without
	// the boundary.
	for _, name := range functionNames(t) {
		if _, attr := getAtt(tpl.Resources[logicalID(name)].Properties["Role"]); attr != "Arn" {
			t.Errorf("%s: Role is not !GetAtt of a role of the template", logicalID(name))
		}
	}

	eventDriven := map[string]bool{}
	for _, id := range tpl.resourcesOfType("AWS::Events::Rule") {
		for _, tg := range asSlice(tpl.Resources[id].Properties["Targets"]) {
			if fn, _ := getAtt(asMap(tg)["Arn"]); fn != "" {
				eventDriven[fn] = true
			}
		}
	}
	for _, id := range tpl.resourcesOfType("AWS::Lambda::EventSourceMapping") {
		eventDriven[ref(tpl.Resources[id].Properties["FunctionName"])] = true
	}
	if len(eventDriven) < 3 {
		t.Errorf("event-driven functions %v: want ecr-push, ecs-events and events at least", eventDriven)
	}
	reserved := map[string]any{"Fn::If": []any{"ReserveEventConcurrency", map[string]any{"Ref": "EventFunctionsReservedConcurrency"}, map[string]any{"Ref": "AWS::NoValue"}}}
	for _, name := range functionNames(t) {
		id := logicalID(name)
		got := tpl.Resources[id].Properties["ReservedConcurrentExecutions"]
		switch {
		case eventDriven[id]:
			if diff := cmp.Diff(reserved, got); diff != "" {
				t.Errorf("%s ReservedConcurrentExecutions (-want +got):\n%s", id, diff)
			}
		case got != nil:
			t.Errorf("%s ReservedConcurrentExecutions %v: people and CI call it, and a reservation would refuse them", id, got)
		}
	}
	if got, want := tpl.Conditions["ReserveEventConcurrency"], any(map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "EventFunctionsReservedConcurrency"}, 0}}}}); !cmp.Equal(got, want) {
		t.Errorf("condition ReserveEventConcurrency: got %#v, want %#v (0 reserves nothing: reserving 0 would stop the functions)", got, want)
	}
}

// TestTemplateThrottlesEachRoute: every route has the default per-route limit, and every route
// of the handler that writes (every method but GET) the lower write limit of its own.
func TestTemplateThrottlesEachRoute(t *testing.T) {
	tpl := loadTemplate(t)
	apis := tpl.resourcesOfType("AWS::Serverless::HttpApi")
	if len(apis) != 1 {
		t.Fatalf("got HTTP APIs %v, want exactly one", apis)
	}
	p := tpl.Resources[apis[0]].Properties
	limits := func(rate, burst string) map[string]any {
		return map[string]any{"ThrottlingRateLimit": map[string]any{"Ref": rate}, "ThrottlingBurstLimit": map[string]any{"Ref": burst}}
	}
	if diff := cmp.Diff(limits("ApiThrottlingRateLimit", "ApiThrottlingBurstLimit"), p["DefaultRouteSettings"]); diff != "" {
		t.Errorf("%s DefaultRouteSettings (-want +got):\n%s", apis[0], diff)
	}
	want := map[string]any{}
	for _, key := range routeKeys() {
		if !strings.HasPrefix(key, "GET ") {
			want[key] = limits("ApiWriteThrottlingRateLimit", "ApiWriteThrottlingBurstLimit")
		}
	}
	if len(want) == 0 {
		t.Fatal("httpapi.Routes has no route that writes")
	}
	if diff := cmp.Diff(want, p["RouteSettings"]); diff != "" {
		t.Errorf("%s RouteSettings (-want +got): every route that writes needs the write limits:\n%s", apis[0], diff)
	}
}
