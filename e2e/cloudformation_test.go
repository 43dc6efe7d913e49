package e2e

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// moto's CloudFormation accepts these resource types but creates nothing for them: they are
// missing from the stack's resources (the HTTP API and its stage, the function's async
// invocation config, the dead-letter queue's policy, the alarms, the alarm topic's email
// subscription, the default bus's policy for TrustedAccounts). moto has no CodeDeploy at all and
// no AWS::Lambda::Alias in CloudFormation, so the safe updates of create-release, deploy and api
// (their alias live, CodeDeploy's application and deployment groups) are not made either; the
// functions' versions are. pkg/infra's TestTemplateTransformsToAliasedInvocations checks those on
// the transformed template instead. Nor does it create EventBridge Scheduler's schedules (the
// tick's, TickSchedule): the deploy function's answer to the tick is tested in pkg/awslambda and
// pkg/awsapp, and the schedule's role like every role of the stack.
var motoSkips = []string{
	"AWS::ApiGatewayV2::Api",
	"AWS::ApiGatewayV2::Stage",
	"AWS::CloudWatch::Alarm",
	"AWS::CodeDeploy::Application",
	"AWS::CodeDeploy::DeploymentGroup",
	"AWS::Events::EventBusPolicy",
	"AWS::Lambda::Alias",
	"AWS::Lambda::EventInvokeConfig",
	"AWS::SNS::Subscription",
	"AWS::SQS::QueuePolicy",
	"AWS::Scheduler::Schedule",
}

// The stack's parameters: a prefix, so that the flow shows the functions use the stack's; and an
// invoke channel that may deploy storage to stage and register its manifest, and nothing else, so
// that the flow shows the functions hold to the stack's list.
const (
	cfnStack            = "shiplog-cfn"
	cfnPrefix           = "/stack-a"
	cfnBucket           = "shiplog-artifacts"
	cfnInvokeAllow      = "storage/stage"
	cfnInvokePrivileged = "manifest"
	cfnAlarmEmail       = "ops@example.com"
	cfnReserved         = "3" // EventFunctionsReservedConcurrency
)

// transformScript prints a packaged SAM template transformed to CloudFormation, as
// CloudFormation's AWS::Serverless transform does (aws-sam-translator, which cfn-lint installs).
const transformScript = `
import json, sys
from cfnlint.decode import decode
from samtranslator.translator.transform import transform
tpl, problems = decode(sys.argv[1])
if problems:
    sys.exit("\n".join(str(p) for p in problems))
class NoManagedPolicies:
    def load(self):
        return {}
print(json.dumps(transform(tpl, {}, NoManagedPolicies())))
`

// cfnTemplate is the part of the transformed template the test reads.
type cfnTemplate struct {
	Resources map[string]struct {
		Type       string
		Properties map[string]json.RawMessage
	}
}

// TestCloudFormationDeploy deploys the stack as a team would, into moto's CloudFormation: `make
// build`, `aws cloudformation package`, the SAM transform, create-stack. It checks what the stack
// made, then runs each function from the very zip the stack holds under aws-lambda-rie with the
// environment the stack gave it, drives push, release, deploy and an API read with the aws CLI,
// and deletes the stack: the tables stay.
func TestCloudFormationDeploy(t *testing.T) {
	// Its own moto and functions: it shares nothing with the other tests.
	t.Parallel()
	ctx := t.Context()
	start := time.Now()
	phase := func(what string) { t.Logf("%s done at %s", what, time.Since(start).Round(time.Second)) }
	python := samPython(t)
	rie, err := riePath(st.root)
	if err != nil {
		t.Fatal(err)
	}
	m := localaws.StartMoto(t)
	cs := &stack{root: st.root, dir: t.TempDir(), moto: m, awsCLI: st.awsCLI, functions: map[string]*function{}}
	t.Cleanup(func() {
		for _, f := range cs.functions {
			f.stop()
		}
	})

	// Build and package as the README says.
	if out, err := command(st.root, nil, "make", "--no-print-directory", "build", "build/template.yaml"); err != nil {
		t.Fatalf("make build build/template.yaml: %v\n%s", err, out)
	}
	phase("make build")
	packaged := filepath.Join(cs.dir, "packaged.yaml")
	cs.do(t, cs.onMoto(nil, "s3", "mb", "s3://"+cfnBucket))
	// package uploads with its own S3 client, which only the environment points at moto.
	pkg := exec.Command(cs.awsCLI, "cloudformation", "package", "--template-file", filepath.Join(st.root, "build", "template.yaml"),
		"--s3-bucket", cfnBucket, "--output-template-file", packaged)
	pkg.Env = append(cliEnv(3), "AWS_ENDPOINT_URL="+m.URL)
	if out, err := pkg.CombinedOutput(); err != nil {
		t.Fatalf("aws cloudformation package: %v\n%s", err, out)
	}
	transformed, err := command(st.root, []string{"AWS_DEFAULT_REGION=" + localaws.Region}, python, "-c", transformScript, packaged)
	if err != nil {
		t.Fatalf("SAM transform of the packaged template: %v\n%s", err, transformed)
	}
	phase("package and transform")
	var tpl cfnTemplate
	if err := json.Unmarshal([]byte(transformed), &tpl); err != nil {
		t.Fatalf("transformed template: %v", err)
	}
	// moto skips the aliases, and resolves a Ref to one to nothing: the API's permissions, which
	// name the api function's alias, would fail the stack (moto answers 500). The copy moto gets
	// names each aliased function itself, in the permissions, the integrations and the outputs.
	aliasRef := regexp.MustCompile(`(\{"Ref": "|\$\{)(\w+Function)Alias` + "live" + `("\}|\})`)
	forMoto := aliasRef.ReplaceAllString(transformed, "${1}${2}${3}")
	aliases := 0
	for _, r := range tpl.Resources {
		if r.Type == "AWS::Lambda::Alias" {
			aliases++
		}
	}
	if aliases != 3 || forMoto == transformed {
		t.Fatalf("the transformed template has %d aliases (want create-release's, deploy's and api's), and the Refs to them were not found", aliases)
	}
	body := filepath.Join(cs.dir, "cfn.json")
	if err := os.WriteFile(body, []byte(forMoto), 0o600); err != nil {
		t.Fatal(err)
	}
	// An organisation's permissions boundary, which every role of the stack must carry.
	var boundary struct{ Policy struct{ Arn string } }
	cs.do(t, cs.onMoto(&boundary, "iam", "create-policy", "--policy-name", "org-boundary",
		"--policy-document", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	cs.do(t, cs.onMoto(nil, "cloudformation", "create-stack", "--stack-name", cfnStack, "--template-body", "file://"+body,
		"--capabilities", "CAPABILITY_IAM", "--parameters",
		"ParameterKey=ParameterPrefix,ParameterValue="+cfnPrefix, "ParameterKey=ImageTagging,ParameterValue=Enabled",
		"ParameterKey=InvokeAllowList,ParameterValue="+cfnInvokeAllow, "ParameterKey=InvokePrivilegedActions,ParameterValue="+cfnInvokePrivileged,
		"ParameterKey=PermissionsBoundary,ParameterValue="+boundary.Policy.Arn, "ParameterKey=AlarmEmail,ParameterValue="+cfnAlarmEmail,
		"ParameterKey=EventFunctionsReservedConcurrency,ParameterValue="+cfnReserved))
	cs.do(t, cs.onMoto(nil, "cloudformation", "wait", "stack-create-complete", "--stack-name", cfnStack))

	phase("create-stack")
	var stacks struct {
		Stacks []struct {
			StackStatus string
			Outputs     []struct{ OutputKey, OutputValue string }
		}
	}
	var listed struct {
		StackResourceSummaries []struct{ LogicalResourceId, PhysicalResourceId, ResourceType, ResourceStatus string }
	}
	cs.do(t, cs.onMoto(&stacks, "cloudformation", "describe-stacks", "--stack-name", cfnStack),
		cs.onMoto(&listed, "cloudformation", "list-stack-resources", "--stack-name", cfnStack))
	if len(stacks.Stacks) != 1 || stacks.Stacks[0].StackStatus != "CREATE_COMPLETE" {
		t.Fatalf("stack: got %+v, want one stack CREATE_COMPLETE", stacks.Stacks)
	}
	outputs := map[string]string{}
	for _, o := range stacks.Stacks[0].Outputs {
		outputs[o.OutputKey] = o.OutputValue
	}

	// Every resource moto created is the template's; what it did not create is of a type it skips.
	physical := map[string]string{}
	for _, r := range listed.StackResourceSummaries {
		if r.LogicalResourceId == "" {
			continue // moto lists each skipped resource as an empty entry
		}
		physical[r.LogicalResourceId] = r.PhysicalResourceId
		if want := tpl.Resources[r.LogicalResourceId].Type; r.ResourceType != want || r.ResourceStatus != "CREATE_COMPLETE" {
			t.Errorf("stack resource %s: %s %s, want %q CREATE_COMPLETE", r.LogicalResourceId, r.ResourceType, r.ResourceStatus, want)
		}
	}
	var skipped []string
	for id, r := range tpl.Resources {
		if _, ok := physical[id]; ok {
			continue
		}
		skipped = append(skipped, id+" ("+r.Type+")")
		if !slices.Contains(motoSkips, r.Type) {
			t.Errorf("moto did not create %s, a %s: only %v are known to be skipped", id, r.Type, motoSkips)
		}
	}
	sort.Strings(skipped)
	t.Logf("moto created %d of the template's %d resources; it skips %s", len(physical), len(tpl.Resources), strings.Join(skipped, ", "))

	// The tables are create-tables' tables.
	releases, state := physical["ReleasesTable"], physical["StateTable"]
	if releases == "" || state == "" || outputs["ReleasesTableName"] != releases || outputs["StateTableName"] != state {
		t.Fatalf("tables: got %q and %q (outputs %v)", releases, state, outputs)
	}
	db := dynamodb.NewFromConfig(m.Config(ctx))
	var stateStream string
	for _, def := range awsdynamo.TableDefinitions(releases, state) {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: def.TableName})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tableOf(def.KeySchema, def.AttributeDefinitions, def.GlobalSecondaryIndexes),
			tableOf(out.Table.KeySchema, out.Table.AttributeDefinitions, out.Table.GlobalSecondaryIndexes)); diff != "" {
			t.Errorf("table %s (-awsdynamo.TableDefinitions +stack):\n%s", *def.TableName, diff)
		}
		var want, got string
		if sp := def.StreamSpecification; sp != nil {
			want = string(sp.StreamViewType)
		}
		if sp := out.Table.StreamSpecification; sp != nil && aws.ToBool(sp.StreamEnabled) {
			got = string(sp.StreamViewType)
		}
		if got != want {
			t.Errorf("table %s stream: got %q, want %q", *def.TableName, got, want)
		}
		if *def.TableName == state {
			stateStream = aws.ToString(out.Table.LatestStreamArn)
		}
	}

	// The events function's stream mapping, as moto made it: on the state table's stream, with
	// the template's filter. (moto keeps the filter but does not apply it, and invokes the
	// function in its own Lambda emulation, not the one this test runs under aws-lambda-rie.)
	var mappings struct {
		EventSourceMappings []struct {
			EventSourceArn, FunctionArn, StartingPosition string
			FunctionResponseTypes                         []string
			FilterCriteria                                struct{ Filters []struct{ Pattern string } }
		}
	}
	cs.do(t, cs.onMoto(&mappings, "lambda", "list-event-source-mappings", "--function-name", physical[functionLogicalID("events")]))
	if ms := mappings.EventSourceMappings; len(ms) != 1 || stateStream == "" || ms[0].EventSourceArn != stateStream ||
		ms[0].StartingPosition != "TRIM_HORIZON" || !slices.Equal(ms[0].FunctionResponseTypes, []string{"ReportBatchItemFailures"}) ||
		len(ms[0].FilterCriteria.Filters) != 1 || !strings.Contains(ms[0].FilterCriteria.Filters[0].Pattern, `"prefix":"event#"`) {
		t.Errorf("events stream mappings: got %+v, want one on the state table's stream %q from TRIM_HORIZON, with batch item failures and the event# filter", ms, stateStream)
	}

	// Operable by default: with no AlarmTopicArn the stack made a topic and says so; every role
	// carries the boundary; the event-driven functions, and only they, have their reservation.
	var topic struct{ Attributes map[string]string }
	cs.do(t, cs.onMoto(&topic, "sns", "get-topic-attributes", "--topic-arn", physical["AlarmTopic"]))
	if arn := outputs["AlarmTopicArn"]; arn == "" || arn != physical["AlarmTopic"] || topic.Attributes["TopicArn"] != arn {
		t.Errorf("alarm topic: output AlarmTopicArn %q, stack's AlarmTopic %q, SNS says %v", arn, physical["AlarmTopic"], topic.Attributes)
	}
	var roleCalls []call
	roles := map[string]*struct {
		Role struct {
			PermissionsBoundary struct{ PermissionsBoundaryArn string }
		}
	}{}
	for id, r := range tpl.Resources {
		if r.Type == "AWS::IAM::Role" {
			roles[id] = &struct {
				Role struct {
					PermissionsBoundary struct{ PermissionsBoundaryArn string }
				}
			}{}
			roleCalls = append(roleCalls, cs.onMoto(roles[id], "iam", "get-role", "--role-name", physical[id]))
		}
	}
	cs.do(t, roleCalls...)
	// get-function-concurrency prints nothing at all for a function without a reservation.
	concurrency := map[string]*struct{ ReservedConcurrentExecutions *int }{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, fn := range append(slices.Clone(functionNames), "ecs-events", "events", "notify") {
		wg.Go(func() {
			c := &struct{ ReservedConcurrentExecutions *int }{}
			out, err := cs.run(3, "lambda", "get-function-concurrency", "--function-name", physical[functionLogicalID(fn)], "--endpoint-url", m.URL)
			if err == nil && len(bytes.TrimSpace(out)) > 0 {
				err = json.Unmarshal(out, c)
			}
			if err != nil {
				t.Errorf("%s concurrency: %v", fn, err)
			}
			mu.Lock()
			concurrency[fn] = c
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(roles) < 6 {
		t.Errorf("the stack has roles %v, want one per function", slices.Sorted(maps.Keys(roles)))
	}
	for id, r := range roles {
		if got := r.Role.PermissionsBoundary.PermissionsBoundaryArn; got != boundary.Policy.Arn {
			t.Errorf("role %s: permissions boundary %q, want %q", id, got, boundary.Policy.Arn)
		}
	}
	for fn, c := range concurrency {
		got := "none"
		if c.ReservedConcurrentExecutions != nil {
			got = strconv.Itoa(*c.ReservedConcurrentExecutions)
		}
		want := "none"
		if fn == "ecr-push" || fn == "ecs-events" || fn == "events" || fn == "notify" {
			want = cfnReserved
		}
		if got != want {
			t.Errorf("%s reserved concurrency: got %s, want %s", fn, got, want)
		}
	}

	// Each function: the stack's environment, the zip's code, run from the zip in S3.
	qemu, qemuErr := exec.LookPath("qemu-aarch64-static")
	if qemuErr != nil {
		t.Logf("qemu-aarch64-static is not installed (Debian's qemu-user-static; make test installs it, scripts/test-deps): running the amd64 build of this commit instead of the stack's arm64 zips")
	}
	// The CLI calls of all four at once: each CLI start costs a second or more on a loaded machine.
	type lambdaConfig struct {
		FunctionArn string
		CodeSha256  string
		Handler     string
		Runtime     string
		Environment struct{ Variables map[string]string }
	}
	configs := map[string]*lambdaConfig{}
	var calls []call
	// Every function of the stack: those the flow drives, and ecs-events, events and notify,
	// which it only checks (moto's ECS sends no events, and moto's stream mappings and rules
	// invoke no function under aws-lambda-rie; pkg/awseventbridge's test runs the events function
	// on a stream, TestNotifyUnderRIE runs notify on the bus's events).
	stackFunctions := append(slices.Clone(functionNames), "ecs-events", "events", "notify")
	for _, fn := range stackFunctions {
		id := functionLogicalID(fn)
		var code struct{ S3Bucket, S3Key string }
		if err := json.Unmarshal(tpl.Resources[id].Properties["Code"], &code); err != nil {
			t.Fatalf("%s Code: %v", fn, err)
		}
		configs[fn] = &lambdaConfig{}
		calls = append(calls, cs.onMoto(configs[fn], "lambda", "get-function-configuration", "--function-name", physical[id]),
			cs.onMoto(nil, "s3", "cp", "s3://"+code.S3Bucket+"/"+code.S3Key, filepath.Join(cs.dir, fn+".zip")))
	}
	cs.do(t, calls...)
	for _, fn := range stackFunctions {
		id := functionLogicalID(fn)
		name := physical[id]
		cfg := configs[fn]
		wantEnv := map[string]string{
			awsapp.ReleasesTableEnv:   releases,
			awsapp.StateTableEnv:      state,
			awsapp.ParameterPrefixEnv: cfnPrefix,
			"GOGC":                    "200", // the template's Globals
		}
		if fn == "deploy" || fn == "api" {
			// GitHub enrichment: off by the template's defaults (no token parameter, no grant).
			wantEnv[awsapp.GitHubTokenParameterEnv] = ""
			wantEnv[awsapp.GitHubAPIURLEnv] = "https://api.github.com"
		}
		switch fn {
		case "create-release", "deploy":
			wantEnv[awslambda.InvokeAllowEnv] = cfnInvokeAllow
			wantEnv[awslambda.InvokePrivilegedEnv] = cfnInvokePrivileged
		case "ecs-events":
			delete(wantEnv, awsapp.ParameterPrefixEnv) // it reads no parameters
			// The stack's account (AWS::AccountId), the one its function ARNs name.
			if parts := strings.Split(cfg.FunctionArn, ":"); len(parts) > 4 {
				wantEnv["SHIPLOG_ACCOUNT_ID"] = parts[4]
			}
		case "events":
			// It reads no table nor parameter: only the bus (the template's default).
			wantEnv = map[string]string{"SHIPLOG_EVENT_BUS": "default", "GOGC": "200"}
		case "notify":
			// Its configuration (the template's default, not under the prefix) and its queue.
			delete(wantEnv, awsapp.ParameterPrefixEnv)
			wantEnv["SHIPLOG_NOTIFY_CONFIG"] = "/shiplog/notify"
			wantEnv["SHIPLOG_NOTIFY_DLQ_URL"] = outputs["NotifyDeadLetterQueueUrl"]
			if outputs["NotifyDeadLetterQueueUrl"] == "" || outputs["NotifyDeadLetterQueueUrl"] != physical["NotifyDeadLetterQueue"] {
				t.Errorf("notify's dead-letter queue: output %q, stack's NotifyDeadLetterQueue %q", outputs["NotifyDeadLetterQueueUrl"], physical["NotifyDeadLetterQueue"])
			}
		}
		if diff := cmp.Diff(wantEnv, cfg.Environment.Variables); diff != "" {
			t.Errorf("%s environment (-want +stack):\n%s", fn, diff)
		}
		if cfg.Handler != "bootstrap" || cfg.Runtime != "provided.al2023" {
			t.Errorf("%s: handler %q runtime %q, want bootstrap on provided.al2023", fn, cfg.Handler, cfg.Runtime)
		}
		// moto reports every function as x86_64; the template's word is what AWS gets.
		var arch []string
		_ = json.Unmarshal(tpl.Resources[id].Properties["Architectures"], &arch)
		if !slices.Equal(arch, []string{"arm64"}) {
			t.Errorf("%s Architectures in the transformed template: %v, want [arm64]", fn, arch)
		}

		zipPath := filepath.Join(cs.dir, fn+".zip")
		if got, want := fileSHA256(t, zipPath), fileSHA256(t, filepath.Join(st.root, "build", fn+".zip")); got != want || got != cfg.CodeSha256 {
			t.Errorf("%s code: S3 object %s, build/%s.zip %s, function CodeSha256 %s: want all equal", fn, got, fn, want, cfg.CodeSha256)
		}
		bootstrap := unzipBootstrap(t, zipPath, filepath.Join(cs.dir, fn))
		run := bootstrap
		if qemuErr == nil {
			run = filepath.Join(cs.dir, fn, "run")
			script := fmt.Sprintf("#!/bin/sh\nexec %s %s \"$@\"\n", qemu, bootstrap)
			if err := os.WriteFile(run, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		} else {
			run = filepath.Join(cs.dir, fn, "bootstrap-native")
			if err := build(ctx, st.root, fn, run); err != nil {
				t.Fatal(err)
			}
		}
		env := append(m.Env(),
			"PATH="+os.Getenv("PATH"),
			"AWS_CONFIG_FILE="+os.DevNull,
			"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
			"AWS_LAMBDA_FUNCTION_NAME="+name,
			"AWS_LAMBDA_FUNCTION_TIMEOUT=60",
		)
		for k, v := range cfg.Environment.Variables {
			env = append(env, k+"="+v)
		}
		f, err := startFunction(fn, rie, run, env)
		if err != nil {
			t.Fatal(err)
		}
		cs.functions[fn] = f
	}

	phase("stack checked, functions started")
	// The flow, through the functions only.
	if err := cs.pushImages(ctx, ecr.NewFromConfig(m.Config(ctx))); err != nil {
		t.Fatal(err)
	}
	manifest := testdata(t, "wellcome_project.json")
	fe := cs.invokeFails(t, "create-release", fmt.Appendf(nil, `{"project_id":"storage","manifest":%s}`, manifest))
	if fe.Type != "Conflict" {
		t.Errorf("create-release before any push: errorType %q, want Conflict (%s)", fe.Type, fe.Message)
	}
	for _, key := range []string{archivistV1, bagRegisterV1, bagVerifierV1, notifierV1} {
		var out pushOutcome
		cs.invokeOK(t, "ecr-push", cs.event(t, "ecr-push-tagged.json", key, t1), &out)
		if out.Image != cs.images[key].uri || len(out.Updated) == 0 {
			t.Errorf("push %s: got %+v, want image %s with parameters updated", key, out, cs.images[key].uri)
		}
	}
	var release shiplog.Release
	cs.invokeOK(t, "create-release", []byte(`{"project_id":"storage","description":"from the stack"}`), &release)
	var result shiplog.DeployResult
	cs.invokeOK(t, "deploy", fmt.Appendf(nil, `{"project_id":"storage","release_id":%q,"environment":"stage"}`, release.ID), &result)
	// What the stack's InvokeAllowList and InvokePrivilegedActions do not name is refused, and
	// recorded nowhere: no prod parameters below, no break glass in the state table.
	for _, payload := range []string{
		fmt.Sprintf(`{"project_id":"storage","release_id":%q,"environment":"prod"}`, release.ID),
		fmt.Sprintf(`{"project_id":"storage","release_id":%q,"environment":"stage","override_reason":"incident"}`, release.ID),
		fmt.Sprintf(`{"project_id":"storage","report":{"deployment_id":%q,"status":"failed"}}`, result.Deployment.ID),
	} {
		if fe := cs.invokeFails(t, "deploy", []byte(payload)); fe.Type != "Forbidden" {
			t.Errorf("deploy %s: errorType %q, want Forbidden (%s)", payload, fe.Type, fe.Message)
		}
	}
	res := cs.api(t, "api-get-environments.json", nil)
	if res.StatusCode != 200 || !strings.Contains(res.Body, release.ID) {
		t.Errorf("API GET environments: status %d, body %s; want 200 naming release %s", res.StatusCode, res.Body, release.ID)
	}

	// SSM: every image under the stack's prefix, for latest and stage; nothing at the design's
	// unprefixed paths.
	var prefixed, plain parametersResult
	cs.do(t, cs.parameters(cfnPrefix+"/storage/", &prefixed), cs.parameters("/storage/", &plain))
	got := map[string]string{}
	for _, p := range prefixed.Parameters {
		got[p.Name] = p.Value
	}
	want := map[string]string{}
	for svc, uri := range cs.storageImages(archivistV1) {
		for _, label := range []string{shiplog.LatestLabel, stage.ID} {
			want[cfnPrefix+shiplog.ParameterName("storage", label, svc)] = uri
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parameters under %s/storage/ (-want +got):\n%s", cfnPrefix, diff)
	}
	if len(plain.Parameters) != 0 {
		t.Errorf("parameters outside the stack's prefix: %v", plain.byName())
	}
	// DynamoDB: the release and the deployment are in the stack's tables (read whole, so that the
	// check holds whatever the items' layout).
	var relScan, stateScan queryResult
	cs.do(t, cs.onMoto(&relScan, "dynamodb", "scan", "--table-name", releases), cs.onMoto(&stateScan, "dynamodb", "scan", "--table-name", state))
	for _, tt := range []struct {
		table string
		scan  queryResult
	}{{releases, relScan}, {state, stateScan}} {
		if b, _ := json.Marshal(tt.scan.Items); tt.scan.Count == 0 || !strings.Contains(string(b), release.ID) {
			t.Errorf("table %s does not name release %s: %s", tt.table, release.ID, b)
		}
	}
	if b, _ := json.Marshal(stateScan.Items); !strings.Contains(string(b), result.Deployment.ID) || strings.Contains(string(b), "incident") {
		t.Errorf("table %s does not name deployment %s, or holds a refused deploy: %s", state, result.Deployment.ID, b)
	}

	phase("flow")
	// Deleting the stack keeps the tables (the audit record) and removes the functions.
	for _, f := range cs.functions {
		f.stop()
	}
	cs.functions = map[string]*function{}
	cs.do(t, cs.onMoto(nil, "cloudformation", "delete-stack", "--stack-name", cfnStack))
	cs.do(t, cs.onMoto(nil, "cloudformation", "wait", "stack-delete-complete", "--stack-name", cfnStack))
	var tablesLeft struct{ TableNames []string }
	var functionsLeft struct {
		Functions []struct{ FunctionName string }
	}
	var logsLeft struct {
		LogGroups []struct{ LogGroupName string } `json:"logGroups"`
	}
	cs.do(t, cs.onMoto(&tablesLeft, "dynamodb", "list-tables"), cs.onMoto(&functionsLeft, "lambda", "list-functions"),
		cs.onMoto(&logsLeft, "logs", "describe-log-groups"))
	// The API's access log (the audit trail of who called it) is kept too; the functions' logs go.
	var groups []string
	for _, g := range logsLeft.LogGroups {
		// moto's stream mapping invoked the events function in moto's own Lambda, which ignores
		// LoggingConfig and logs to the function's default group, which no stack owns. On AWS the
		// function logs to EventsLogGroup, which the stack deletes.
		if g.LogGroupName == "/aws/lambda/"+physical[functionLogicalID("events")] {
			continue
		}
		groups = append(groups, g.LogGroupName)
	}
	if access := outputs["HttpApiAccessLogGroupName"]; access == "" || !slices.Equal(groups, []string{access}) {
		t.Errorf("after delete-stack the log groups are %v; want only the access log %q", groups, access)
	}
	if !slices.Contains(tablesLeft.TableNames, releases) || !slices.Contains(tablesLeft.TableNames, state) {
		t.Errorf("after delete-stack the tables are %v; want %s and %s kept", tablesLeft.TableNames, releases, state)
	}
	if len(functionsLeft.Functions) != 0 {
		t.Errorf("after delete-stack functions remain: %v", functionsLeft.Functions)
	}
	phase("delete-stack")
}

// functionLogicalID is the template's logical id of a function: "ecr-push" is EcrPushFunction.
func functionLogicalID(fn string) string {
	var b strings.Builder
	for _, part := range strings.Split(fn, "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + "Function"
}

// samPython returns a Python that has cfn-lint and aws-sam-translator (cfn-lint installs both).
func samPython(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, py := range []string{"python3", "/root/.pyenv/shims/python3"} {
		if _, err := command("", nil, py, "-c", "import cfnlint, samtranslator"); err == nil {
			return py
		}
		tried = append(tried, py)
	}
	t.Fatalf("no Python with cfnlint and samtranslator (tried %s): pip install cfn-lint", strings.Join(tried, ", "))
	return ""
}

// command runs a program in dir and returns its standard output (and its error output on failure).
func command(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderr.String(), err
	}
	return string(out), nil
}

// fileSHA256 is a file's SHA-256 in base64, as Lambda's CodeSha256 gives it.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// unzipBootstrap writes the zip's bootstrap into dir and checks it is a static linux/arm64 binary.
func unzipBootstrap(t *testing.T, zipPath, dir string) string {
	t.Helper()
	r, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.File) != 1 || r.File[0].Name != "bootstrap" {
		var names []string
		for _, f := range r.File {
			names = append(names, f.Name)
		}
		t.Fatalf("%s holds %v, want only bootstrap", zipPath, names)
	}
	in, err := r.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bootstrap")
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s bootstrap: %v", zipPath, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("%s bootstrap is for %v, want %v", zipPath, f.Machine, elf.EM_AARCH64)
	}
	return path
}

// table is a table's keys and indexes, in a form that compares whatever the order of the lists.
type tableKeys struct {
	Key        []string
	Attributes []string
	Indexes    map[string][]string
}

func tableOf[K, A, G any](keys []K, attrs []A, gsis []G) tableKeys {
	b, _ := json.Marshal(map[string]any{"k": keys, "a": attrs, "g": gsis})
	var raw struct {
		K []struct{ AttributeName, KeyType string }
		A []struct{ AttributeName, AttributeType string }
		G []struct {
			IndexName  string
			KeySchema  []struct{ AttributeName, KeyType string }
			Projection struct{ ProjectionType string }
		}
	}
	_ = json.Unmarshal(b, &raw)
	tk := tableKeys{Indexes: map[string][]string{}}
	for _, k := range raw.K {
		tk.Key = append(tk.Key, k.AttributeName+" "+k.KeyType)
	}
	for _, a := range raw.A {
		tk.Attributes = append(tk.Attributes, a.AttributeName+" "+a.AttributeType)
	}
	sort.Strings(tk.Attributes)
	for _, g := range raw.G {
		var ks []string
		for _, k := range g.KeySchema {
			ks = append(ks, k.AttributeName+" "+k.KeyType)
		}
		tk.Indexes[g.IndexName] = append(ks, "projection "+g.Projection.ProjectionType)
	}
	return tk
}
