package infra

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The functions people and CI call: an update of shiplog reaches them through CodeDeploy, by the
// alias live, and rolls back on their errors alarm. The event-driven functions are invoked by
// EventBridge and the stream on their unqualified ARN, and retry on their own.
var calledFunctions = []string{"create-release", "deploy", "api"}

// TestTemplateShiftsCalledFunctionsSafely: each called function publishes the alias live on
// every update, shifted as SelfDeploymentType says, through the stack's own CodeDeploy role
// (which carries the boundary), rolled back by the function's own Errors alarm.
func TestTemplateShiftsCalledFunctionsSafely(t *testing.T) {
	tpl := loadTemplate(t)
	errorsAlarm := map[string]string{} // function logical id -> its Errors alarm
	for _, id := range tpl.resourcesOfType("AWS::CloudWatch::Alarm") {
		p := tpl.Resources[id].Properties
		if str(p["Namespace"]) == "AWS/Lambda" && str(p["MetricName"]) == "Errors" {
			errorsAlarm[ref(asMap(asSlice(p["Dimensions"])[0])["Value"])] = id
		}
	}
	for _, name := range functionNames(t) {
		id := logicalID(name)
		p := tpl.Resources[id].Properties
		if !slices.Contains(calledFunctions, name) {
			if p["AutoPublishAlias"] != nil || p["DeploymentPreference"] != nil {
				t.Errorf("%s: event-driven, yet has an alias or a deployment preference", id)
			}
			continue
		}
		if p["AutoPublishAlias"] != "live" {
			t.Errorf("%s AutoPublishAlias: got %v, want live", id, p["AutoPublishAlias"])
		}
		alarm := errorsAlarm[id]
		if alarm == "" {
			t.Fatalf("%s has no Errors alarm to roll back on", id)
		}
		want := map[string]any{
			"Type":   map[string]any{"Ref": "SelfDeploymentType"},
			"Role":   map[string]any{"Fn::GetAtt": []any{"CodeDeployRole", "Arn"}},
			"Alarms": []any{map[string]any{"Ref": alarm}},
		}
		if diff := cmp.Diff(want, p["DeploymentPreference"]); diff != "" {
			t.Errorf("%s DeploymentPreference (-want +got):\n%s", id, diff)
		}
	}
	param := asMap(tpl.Parameters["SelfDeploymentType"])
	if param["Default"] != "Canary10Percent5Minutes" {
		t.Errorf("SelfDeploymentType default: got %v, want a canary (Canary10Percent5Minutes)", param["Default"])
	}
	var allowed []string
	for _, v := range asSlice(param["AllowedValues"]) {
		allowed = append(allowed, str(v))
	}
	for _, v := range []string{"Canary10Percent5Minutes", "Linear10PercentEvery1Minute", "AllAtOnce"} {
		if !slices.Contains(allowed, v) {
			t.Errorf("SelfDeploymentType: %s is not allowed (allowed: %v)", v, allowed)
		}
	}
	role := tpl.Resources["CodeDeployRole"]
	doc, _ := json.Marshal(role.Properties)
	if role.Type != "AWS::IAM::Role" || !strings.Contains(string(doc), `"codedeploy.amazonaws.com"`) ||
		!strings.Contains(string(doc), "service-role/AWSCodeDeployRoleForLambda") {
		t.Errorf("CodeDeployRole: got %s, want a role CodeDeploy assumes with AWSCodeDeployRoleForLambda", doc)
	}
	for _, out := range []string{"CreateReleaseFunctionLiveArn", "DeployFunctionLiveArn"} {
		fn := strings.TrimSuffix(out, "LiveArn")
		if got := ref(asMap(tpl.Outputs[out])["Value"]); got != fn+".Alias" {
			t.Errorf("output %s: got !Ref %q, want !Ref %s.Alias", out, got, fn)
		}
	}
}

// TestTemplateTransformsToAliasedInvocations runs SAM's transform and checks what CloudFormation
// gets: one alias live and one CodeDeploy deployment group per called function, the group rolling
// back on its alarm and on a failed or stopped deployment; every API route's integration, and
// every permission API Gateway has to invoke, names the api function's alias, so that a canary
// really takes a share of the API's traffic.
func TestTemplateTransformsToAliasedInvocations(t *testing.T) {
	t.Parallel() // its own scratch directory and processes
	var cfn struct {
		Resources map[string]struct {
			Type         string
			Properties   map[string]any
			UpdatePolicy map[string]any
		}
	}
	if err := json.Unmarshal(samTransform(t), &cfn); err != nil {
		t.Fatalf("transformed template: %v", err)
	}
	var aliases, groups []string
	for id, r := range cfn.Resources {
		switch r.Type {
		case "AWS::Lambda::Alias":
			aliases = append(aliases, ref(r.Properties["FunctionName"])+":"+str(r.Properties["Name"]))
			group := ref(asMap(r.UpdatePolicy["CodeDeployLambdaAliasUpdate"])["DeploymentGroupName"])
			if group == "" {
				t.Errorf("%s: no CodeDeployLambdaAliasUpdate: an update would shift all traffic at once, unwatched", id)
			}
		case "AWS::CodeDeploy::DeploymentGroup":
			groups = append(groups, id)
			rollback := asMap(r.Properties["AutoRollbackConfiguration"])
			var events []string
			for _, e := range asSlice(rollback["Events"]) {
				events = append(events, str(e))
			}
			if rollback["Enabled"] != true || !slices.Contains(events, "DEPLOYMENT_STOP_ON_ALARM") || !slices.Contains(events, "DEPLOYMENT_FAILURE") {
				t.Errorf("%s AutoRollbackConfiguration: got %v, want rollback on alarm and on failure", id, rollback)
			}
			alarms := asMap(r.Properties["AlarmConfiguration"])
			if alarms["Enabled"] != true || len(asSlice(alarms["Alarms"])) == 0 {
				t.Errorf("%s AlarmConfiguration: got %v, want its function's alarm", id, alarms)
			}
			if res, _ := getAtt(r.Properties["ServiceRoleArn"]); res != "CodeDeployRole" {
				t.Errorf("%s ServiceRoleArn: got %v, want the stack's CodeDeployRole", id, r.Properties["ServiceRoleArn"])
			}
		case "AWS::ApiGatewayV2::Api":
			for p, ops := range asMap(asMap(r.Properties["Body"])["paths"]) {
				for method, op := range asMap(ops) {
					uri, _ := json.Marshal(asMap(asMap(op)["x-amazon-apigateway-integration"])["uri"])
					if !strings.Contains(string(uri), "${ApiFunctionAliaslive}") {
						t.Errorf("%s %s integration %s: does not invoke the api function's alias live", strings.ToUpper(method), p, uri)
					}
				}
			}
		case "AWS::Lambda::Permission":
			if str(r.Properties["Principal"]) == "apigateway.amazonaws.com" && ref(r.Properties["FunctionName"]) != "ApiFunctionAliaslive" {
				t.Errorf("%s: lets API Gateway invoke %v, want the alias ApiFunctionAliaslive", id, r.Properties["FunctionName"])
			}
		}
	}
	sort.Strings(aliases)
	sort.Strings(groups)
	if diff := cmp.Diff([]string{"ApiFunction:live", "CreateReleaseFunction:live", "DeployFunction:live"}, aliases); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ApiFunctionDeploymentGroup", "CreateReleaseFunctionDeploymentGroup", "DeployFunctionDeploymentGroup"}, groups); diff != "" {
		t.Errorf("deployment groups (-want +got):\n%s", diff)
	}
}

// TestFailedDeploymentAlarmEnvironmentIsAnEnvironmentID: the parameter accepts every environment
// id shiplog accepts, and empty (no alarm), and nothing else.
func TestFailedDeploymentAlarmEnvironmentIsAnEnvironmentID(t *testing.T) {
	tpl := loadTemplate(t)
	p := asMap(tpl.Parameters["FailedDeploymentAlarmEnvironment"])
	re, err := regexp.Compile(str(p["AllowedPattern"]))
	if err != nil {
		t.Fatalf("AllowedPattern: %v", err)
	}
	if !re.MatchString(str(p["Default"])) {
		t.Errorf("the default %q does not match the pattern", p["Default"])
	}
	if !re.MatchString("") {
		t.Error("empty (no alarm) is refused")
	}
	for _, id := range []string{"prod", "Prod_2.eu-west", strings.Repeat("p", shiplog.MaxIDLength),
		"pro d", "prod/eu", strings.Repeat("p", shiplog.MaxIDLength+1), "prød"} {
		valid := shiplog.ValidateID("environment", id) == nil
		if got := re.MatchString(id); got != valid {
			t.Errorf("%q: the pattern matches %v, shiplog.ValidateID accepts %v", id, got, valid)
		}
	}
}
