package infra

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awscloudwatch"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awsecs"
	"github.com/shiplog/shiplog/pkg/awseventbridge"
	"github.com/shiplog/shiplog/pkg/awssqs"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/awssts"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The sample account the template's ARN patterns are turned into ARNs for.
const (
	sampleRegion  = "eu-west-1"
	sampleAccount = "123456789012"
)

// iamMatch reports whether an IAM resource pattern matches arn: "*" is any run of characters
// (slashes too), "?" any one character.
func iamMatch(pattern, arn string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(arn)
}

// tableARN is the sample ARN of a table of the template, by logical id.
func tableARN(id string) string {
	return "arn:aws:dynamodb:" + sampleRegion + ":" + sampleAccount + ":table/" + id
}

// resolver evaluates the template's intrinsic functions for given parameter values, as
// CloudFormation would: Fn::If on the template's conditions, AWS::NoValue, Fn::Sub and GetAtt Arn
// of tables (to their sample ARNs).
type resolver struct {
	tpl    *Template
	params map[string]string
}

func (r resolver) param(name string) string {
	if v, ok := r.params[name]; ok {
		return v
	}
	return fmt.Sprint(asMap(r.tpl.Parameters[name])["Default"])
}

func (r resolver) condition(t *testing.T, v any) bool {
	t.Helper()
	m := asMap(v)
	switch {
	case m["Condition"] != nil:
		return r.condition(t, r.tpl.Conditions[str(m["Condition"])])
	case m["Fn::Not"] != nil:
		return !r.condition(t, asSlice(m["Fn::Not"])[0])
	case m["Fn::Equals"] != nil:
		args := asSlice(m["Fn::Equals"])
		value := func(a any) string {
			if name := ref(a); name != "" {
				return r.param(name)
			}
			return fmt.Sprint(a)
		}
		return value(args[0]) == value(args[1])
	}
	t.Fatalf("condition %v: the test evaluates only Condition, Fn::Not and Fn::Equals", v)
	return false
}

// value resolves v; ok is false for AWS::NoValue.
func (r resolver) value(t *testing.T, v any) (any, bool) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if ref(x) == "AWS::NoValue" {
			return nil, false
		}
		if args := asSlice(x["Fn::If"]); len(x) == 1 && len(args) == 3 {
			if r.condition(t, map[string]any{"Condition": args[0]}) {
				return r.value(t, args[1])
			}
			return r.value(t, args[2])
		}
		out := map[string]any{}
		for k, e := range x {
			if rv, ok := r.value(t, e); ok {
				out[k] = rv
			}
		}
		return out, true
	case []any:
		out := []any{}
		for _, e := range x {
			if rv, ok := r.value(t, e); ok {
				out = append(out, rv)
			}
		}
		return out, true
	}
	return v, true
}

// arn turns a statement's resource into the ARN (pattern) it stands for.
func (r resolver) arn(t *testing.T, v any) string {
	t.Helper()
	if s := sub(v); s != "" {
		re := regexp.MustCompile(`\$\{([A-Za-z:]+)(\.Arn)?\}`)
		return re.ReplaceAllStringFunc(s, func(m string) string {
			g := re.FindStringSubmatch(m)
			switch {
			case g[2] == ".Arn":
				return tableARN(g[1])
			case g[1] == "AWS::Partition":
				return "aws"
			case g[1] == "AWS::Region":
				return sampleRegion
			case g[1] == "AWS::AccountId":
				return sampleAccount
			case r.tpl.Parameters[g[1]] != nil:
				return r.param(g[1])
			}
			t.Fatalf("resource %q: the test cannot resolve %s", s, m)
			return ""
		})
	}
	if res, attr := getAtt(v); attr == "Arn" {
		return tableARN(res)
	}
	if s, ok := v.(string); ok {
		return s
	}
	t.Fatalf("resource %v: not a string, !Sub or !GetAtt X.Arn", v)
	return ""
}

// statement is an IAM statement of the forms the template uses.
type statement struct {
	sid       string
	allow     bool
	actions   []string
	resources []string
	// resourceTags are StringEquals conditions on aws:ResourceTag/KEY: the resource must carry them.
	resourceTags map[string]string
}

func (s statement) matches(action, arn string, tags map[string]string) bool {
	if !slices.Contains(s.actions, action) || !slices.ContainsFunc(s.resources, func(p string) bool { return iamMatch(p, arn) }) {
		return false
	}
	for k, v := range s.resourceTags {
		if tags[k] != v {
			return false
		}
	}
	return true
}

// allowed is IAM's evaluation within one identity policy set: an explicit Deny wins, else an Allow.
func allowed(sts []statement, action, arn string, tags map[string]string) bool {
	ok := false
	for _, s := range sts {
		if s.matches(action, arn, tags) {
			if !s.allow {
				return false
			}
			ok = true
		}
	}
	return ok
}

func (r resolver) statements(t *testing.T, what string, doc any) []statement {
	t.Helper()
	var out []statement
	for _, raw := range statements(doc) {
		v, ok := r.value(t, raw)
		if !ok {
			continue
		}
		st := asMap(v)
		s := statement{sid: str(st["Sid"]), allow: st["Effect"] == "Allow", resourceTags: map[string]string{}}
		if e := st["Effect"]; e != "Allow" && e != "Deny" {
			t.Errorf("%s: statement %v has Effect %v", what, st, e)
		}
		for _, a := range asSlice(st["Action"]) {
			s.actions = append(s.actions, str(a))
		}
		for _, res := range asSlice(st["Resource"]) {
			s.resources = append(s.resources, r.arn(t, res))
		}
		for op, c := range asMap(st["Condition"]) {
			for key, val := range asMap(c) {
				tag, isTag := strings.CutPrefix(key, "aws:ResourceTag/")
				if op != "StringEquals" || !isTag {
					t.Errorf("%s: statement %s has the condition %s %s, which the test does not understand", what, s.sid, op, key)
					continue
				}
				s.resourceTags[tag] = str(val)
			}
		}
		if _, ok := st["NotAction"]; ok {
			t.Errorf("%s: statement %s uses NotAction", what, s.sid)
		}
		if _, ok := st["NotResource"]; ok {
			t.Errorf("%s: statement %s uses NotResource", what, s.sid)
		}
		out = append(out, s)
	}
	return out
}

// The tag a repository carries to let shiplog move tags in it (documented in template.yaml and README).
const taggingTag = awsecr.TaggingTag

// TestTemplatePoliciesAreWhatTheCodeCalls evaluates each function's role, as IAM would, for every
// action an adapter may call on every resource of the shapes the code uses and some it must not
// reach, under each value of the parameters that shape the policies: allowed exactly when
// awsapp.FunctionActions, FunctionTables and FunctionParameters (held to the code's real calls
// by pkg/awsapp's test) say the function calls it.
func TestTemplatePoliciesAreWhatTheCodeCalls(t *testing.T) {
	tpl := loadTemplate(t)

	// Every action a function may be granted is one an adapter declares it calls.
	known := map[string]bool{}
	for _, list := range [][]string{awsssm.Actions, awsssm.SecureActions, awsdynamo.Actions, awsecr.Actions, awsecr.CheckActions, awsecr.TagActions, awsecr.FindingsActions, awsecs.Actions, awseventbridge.Actions, awssqs.Actions, awssts.Actions, awscloudwatch.Actions} {
		for _, a := range list {
			known[a] = true
		}
	}
	for _, keys := range [][]string{sortedKeys(awsapp.FunctionActions), sortedKeys(awsapp.FunctionTables), sortedKeys(awsapp.FunctionParameters)} {
		if diff := cmp.Diff(sortedSet(functionNames(t)), keys); diff != "" {
			t.Errorf("functions of awsapp's lists (-functions/ +list):\n%s", diff)
		}
	}

	// The DynamoDB resources, as awsapp.FunctionTables names them, and their sample ARNs.
	tableResources := map[string]string{}
	for key, id := range map[string]string{awsapp.ReleasesTable: "ReleasesTable", awsapp.StateTable: "StateTable"} {
		tableResources[key] = tableARN(id)
		for _, def := range awsdynamo.TableDefinitions("ReleasesTable", "StateTable") {
			if *def.TableName != id {
				continue
			}
			for _, g := range def.GlobalSecondaryIndexes {
				tableResources[awsapp.IndexResource(key, *g.IndexName)] = tableARN(id) + "/index/" + *g.IndexName
			}
		}
		tableResources[awsapp.IndexResource(key, "some-other-index")] = tableARN(id) + "/index/some-other-index"
	}
	tableResources["another stack's table"] = tableARN("OtherStackTable")

	ssmARN := func(name string) string {
		return "arn:aws:ssm:" + sampleRegion + ":" + sampleAccount + ":parameter/" + strings.TrimPrefix(name, "/")
	}
	labels := []string{shiplog.LatestLabel, "prod", "2026-11-25", "images"}

	for _, prefix := range []string{"", "/shiplog-b"} {
		for _, tagging := range []string{"Disabled", "Enabled"} {
			// The default bus with the plain stack, a bus of its own with the prefixed one.
			bus := "default"
			if prefix != "" {
				bus = "shiplog-audit"
			}
			// The notification configuration: the default name with the plain stack, another with
			// the prefixed one (the prefix does not apply to it).
			notifyConfig := "/shiplog/notify"
			if prefix != "" {
				notifyConfig = "/teams/platform/shiplog-b-notify"
			}
			// GitHub enrichment: no token with tagging off, a token parameter with it on.
			token := ""
			if tagging == "Enabled" {
				token = "/teams/platform/github-token"
			}
			r := resolver{tpl: tpl, params: map[string]string{"ParameterPrefix": prefix, "ImageTagging": tagging, "EventBusName": bus, "NotifyConfigParameter": notifyConfig,
				"GitHubTokenParameter": token}}
			for _, name := range functionNames(t) {
				id := logicalID(name)
				t.Run(fmt.Sprintf("%s/prefix=%q/tagging=%s", name, prefix, tagging), func(t *testing.T) {
					roleID, _ := getAtt(tpl.Resources[id].Properties["Role"])
					var sts []statement
					for _, p := range asSlice(tpl.Resources[roleID].Properties["Policies"]) {
						if pm := asMap(p); str(pm["PolicyName"]) == "shiplog" {
							sts = r.statements(t, roleID, pm["PolicyDocument"])
						}
					}
					var granted []string
					for _, s := range sts {
						services := map[string]bool{}
						for _, a := range s.actions {
							if !known[a] {
								t.Errorf("%s %s: %s is no action of awsssm, awsdynamo, awsecr, awsecs, awseventbridge, awssts or awscloudwatch", roleID, s.sid, a)
							}
							service, _, _ := strings.Cut(a, ":")
							services[service] = true
							if s.allow {
								granted = append(granted, a)
							}
						}
						if len(services) != 1 {
							t.Errorf("%s %s: actions %v mix services; keep one service a statement so resources stay tight", roleID, s.sid, s.actions)
						}
					}
					want := slices.Clone(awsapp.FunctionActions[name])
					if tagging == "Disabled" {
						want = slices.DeleteFunc(want, func(a string) bool { return a == "ecr:PutImage" })
					}
					if token == "" {
						want = slices.DeleteFunc(want, func(a string) bool { return awsapp.FunctionParameters[name][a] == awsapp.GitHubToken })
					}
					for _, as := range awsapp.FunctionTables[name] {
						want = append(want, as...)
					}
					if diff := cmp.Diff(sortedSet(want), sortedSet(granted)); diff != "" {
						t.Errorf("%s shiplog: actions allowed (-awsapp's lists +template):\n%s", roleID, diff)
					}

					// DynamoDB: each action on each table and index exactly where FunctionTables has it.
					for key, arn := range tableResources {
						for _, action := range awsdynamo.Actions {
							want := slices.Contains(awsapp.FunctionTables[name][key], action)
							if got := allowed(sts, action, arn, nil); got != want {
								t.Errorf("%s: %s on %s (%s) allowed %v, want %v", roleID, action, key, arn, got, want)
							}
						}
					}

					// SSM: the shapes the code uses, with every kind of label, under this stack's
					// prefix; and nothing outside them.
					params := awsapp.FunctionParameters[name]
					for _, action := range awsssm.Actions {
						byPath := action == "ssm:GetParametersByPath"
						for _, label := range labels {
							name := prefix + shiplog.ParameterName("storage", label, "archivist")
							path := prefix + strings.TrimSuffix(shiplog.ParameterPath("catalogue_pipeline", label), "/")
							l, has := params[action]
							want := has && l.Allows(label)
							if got := allowed(sts, action, ssmARN(name), nil); got != (want && !byPath) {
								t.Errorf("%s: %s on %s allowed %v, want %v", roleID, action, name, got, want && !byPath)
							}
							if got := allowed(sts, action, ssmARN(path), nil); got != (want && byPath) {
								t.Errorf("%s: %s on path %s allowed %v, want %v", roleID, action, path, got, want && byPath)
							}
						}
						never := []string{
							"/webapp/config/db",
							"/webapp/config/images/cdn-url",
							"/webapp/config/images/latest/cdn-url",
							"/webapp/config/images/prod",
							"/storage/images/latest/archivist/extra",
							"/storage/images/prod/archivist/extra",
							"/storage/images/prod/archivist/",
							"/storage/images",
							"/storage/config/images/prod/x",
						}
						for _, n := range slices.Clone(never) {
							never = append(never, prefix+n)
						}
						// The other stack's parameters: the prefixed one's for the plain stack, and the
						// plain one's (and a longer prefix's) for the prefixed stack.
						if prefix == "" {
							never = append(never, "/shiplog-b/storage/images/latest/archivist", "/shiplog-b/storage/images/prod", "/shiplog-b/storage/images/prod/archivist")
							// Names under aws and ssm (any case) are AWS's own: SSM refuses them to
							// everyone else, so no project's parameters can be there, and a prefix
							// may not begin so (ParameterPrefix's AllowedPattern). The plain stack
							// must not reach them either.
							for _, first := range []string{"aws", "AWS", "Aws", "aWs", "ssm", "SSM", "Ssm", "sSm", "aws-backup", "ssm.quicksetup", "awsconfig"} {
								never = append(never, "/"+first+"/images/latest/archivist", "/"+first+"/images/prod/archivist", "/"+first+"/images/prod")
							}
						} else {
							never = append(never, shiplog.ParameterName("storage", "prod", "archivist"), shiplog.ParameterName("storage", "latest", "archivist"),
								strings.TrimSuffix(shiplog.ParameterPath("storage", "prod"), "/"), prefix+"-x/storage/images/prod/archivist")
						}
						for _, n := range never {
							if allowed(sts, action, ssmARN(n), nil) {
								t.Errorf("%s: %s on %s is allowed; it is no parameter of this stack's shape", roleID, action, n)
							}
						}

						// The notification configuration and the parameters under it (destinations'
						// URLs and secrets), by name: only where FunctionParameters has NotifyConfig.
						wantConfig := params[action] == awsapp.NotifyConfig
						for _, n := range []string{notifyConfig, notifyConfig + "/team-url", notifyConfig + "/audit/secret"} {
							if !awsapp.InNotifyConfig(n, notifyConfig) {
								t.Fatalf("awsapp.InNotifyConfig(%q, %q) is false", n, notifyConfig)
							}
							if got := allowed(sts, action, ssmARN(n), nil); got != wantConfig {
								t.Errorf("%s: %s on the notification configuration's %s allowed %v, want %v", roleID, action, n, got, wantConfig)
							}
						}
						// The GitHub token: its parameter alone, only where FunctionParameters has
						// GitHubToken and the stack names one.
						wantToken := token != "" && params[action] == awsapp.GitHubToken
						if got := allowed(sts, action, ssmARN("/teams/platform/github-token"), nil); got != wantToken {
							t.Errorf("%s: %s on the GitHub token /teams/platform/github-token allowed %v, want %v (GitHubTokenParameter %q)", roleID, action, got, wantToken, token)
						}
						for _, n := range []string{"/teams/platform/github-token/x", "/teams/platform/github-token-other", "/teams/platform/other", "/teams/platform"} {
							if allowed(sts, action, ssmARN(n), nil) {
								t.Errorf("%s: %s on %s is allowed; it is not the GitHub token parameter", roleID, action, n)
							}
						}
						for _, n := range []string{notifyConfig + "-other", notifyConfig + "-other/team-url", notifyConfig + "x/team-url", path.Dir(notifyConfig), path.Dir(notifyConfig) + "/other"} {
							if awsapp.InNotifyConfig(n, notifyConfig) {
								t.Fatalf("awsapp.InNotifyConfig(%q, %q) is true", n, notifyConfig)
							}
							if allowed(sts, action, ssmARN(n), nil) {
								t.Errorf("%s: %s on %s is allowed; it is not the notification configuration %s or under it", roleID, action, n, notifyConfig)
							}
						}
					}

					// ECR: reading any repository's images; tagging only when ImageTagging is
					// Enabled, and only in repositories that carry the tag.
					repo := "arn:aws:ecr:" + sampleRegion + ":" + sampleAccount + ":repository/team/app"
					if got, want := allowed(sts, "ecr:BatchGetImage", repo, nil), slices.Contains(awsapp.FunctionActions[name], "ecr:BatchGetImage"); got != want {
						t.Errorf("%s: ecr:BatchGetImage on %s allowed %v, want %v", roleID, repo, got, want)
					}
					// The findings gate reads any repository's scan findings, as it reads its images.
					if got, want := allowed(sts, "ecr:DescribeImageScanFindings", repo, nil), slices.Contains(awsapp.FunctionActions[name], "ecr:DescribeImageScanFindings"); got != want {
						t.Errorf("%s: ecr:DescribeImageScanFindings on %s allowed %v, want %v", roleID, repo, got, want)
					}
					// CloudWatch: the alarms of this account and region (others through the
					// target-account role), no other account's or region's.
					alarmARN := func(region, account string) string {
						return "arn:aws:cloudwatch:" + region + ":" + account + ":alarm:storage-prod-5xx"
					}
					if got, want := allowed(sts, "cloudwatch:DescribeAlarms", alarmARN(sampleRegion, sampleAccount), nil), slices.Contains(awsapp.FunctionActions[name], "cloudwatch:DescribeAlarms"); got != want {
						t.Errorf("%s: cloudwatch:DescribeAlarms on this account's alarms allowed %v, want %v", roleID, got, want)
					}
					for _, other := range []string{alarmARN(sampleRegion, "210987654321"), alarmARN("us-east-1", sampleAccount)} {
						if allowed(sts, "cloudwatch:DescribeAlarms", other, nil) {
							t.Errorf("%s: cloudwatch:DescribeAlarms on %s is allowed", roleID, other)
						}
					}
					for _, a := range []string{"cloudwatch:SetAlarmState", "cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm"} {
						if allowed(sts, a, alarmARN(sampleRegion, sampleAccount), nil) || allowed(sts, a, "*", nil) {
							t.Errorf("%s: %s is allowed; shiplog only reads alarms", roleID, a)
						}
					}
					tags := map[string]string{taggingTag: "true"}
					wantTag := tagging == "Enabled" && slices.Contains(awsapp.FunctionActions[name], "ecr:PutImage")
					if got := allowed(sts, "ecr:PutImage", repo, tags); got != wantTag {
						t.Errorf("%s: ecr:PutImage on a repository tagged %v allowed %v, want %v", roleID, tags, got, wantTag)
					}
					for _, other := range []map[string]string{nil, {taggingTag: "false"}, {"other": "true"}} {
						if allowed(sts, "ecr:PutImage", repo, other) {
							t.Errorf("%s: ecr:PutImage on a repository tagged %v is allowed", roleID, other)
						}
					}

					// ECS: each read on the resource type IAM authorizes it on (ListTasks: container
					// instances; DescribeTaskDefinition: only *), in this account and region only.
					ecsARN := func(account, resource string) string {
						return "arn:aws:ecs:" + sampleRegion + ":" + account + ":" + resource
					}
					for _, c := range []struct{ action, resource string }{
						{"ecs:DescribeServices", "service/prod/archivist"},
						{"ecs:DescribeTasks", "task/prod/0123456789abcdef0123456789abcdef"},
						{"ecs:ListTasks", "container-instance/prod/0123456789abcdef0123456789abcdef"},
					} {
						want := slices.Contains(awsapp.FunctionActions[name], c.action)
						if got := allowed(sts, c.action, ecsARN(sampleAccount, c.resource), nil); got != want {
							t.Errorf("%s: %s on %s allowed %v, want %v", roleID, c.action, c.resource, got, want)
						}
						if allowed(sts, c.action, ecsARN("210987654321", c.resource), nil) {
							t.Errorf("%s: %s on another account's %s is allowed", roleID, c.action, c.resource)
						}
						if allowed(sts, c.action, ecsARN(sampleAccount, "cluster/prod"), nil) {
							t.Errorf("%s: %s on a cluster is allowed; it is granted on the resource it reads", roleID, c.action)
						}
					}
					if got, want := allowed(sts, "ecs:DescribeTaskDefinition", "*", nil), slices.Contains(awsapp.FunctionActions[name], "ecs:DescribeTaskDefinition"); got != want {
						t.Errorf("%s: ecs:DescribeTaskDefinition allowed %v, want %v", roleID, got, want)
					}
					// EventBridge: putting events on the stack's bus only, not another bus of the
					// account nor the same bus of another account or region.
					busARN := func(region, account, name string) string {
						return "arn:aws:events:" + region + ":" + account + ":event-bus/" + name
					}
					wantPut := slices.Contains(awsapp.FunctionActions[name], "events:PutEvents")
					if got := allowed(sts, "events:PutEvents", busARN(sampleRegion, sampleAccount, bus), nil); got != wantPut {
						t.Errorf("%s: events:PutEvents on the bus %s allowed %v, want %v", roleID, bus, got, wantPut)
					}
					for _, other := range []string{busARN(sampleRegion, sampleAccount, "other-bus"), busARN(sampleRegion, sampleAccount, bus+"-x"),
						busARN(sampleRegion, "210987654321", bus), busARN("us-east-1", sampleAccount, bus), "*"} {
						if allowed(sts, "events:PutEvents", other, nil) {
							t.Errorf("%s: events:PutEvents on %s is allowed; only the stack's bus %s is", roleID, other, bus)
						}
					}
					if bus != "default" && allowed(sts, "events:PutEvents", busARN(sampleRegion, sampleAccount, "default"), nil) {
						t.Errorf("%s: events:PutEvents on the default bus is allowed with EventBusName %s", roleID, bus)
					}

					// STS: the target-account role (TargetRoleName) of any account, and no other role.
					wantAssume := slices.Contains(awsapp.FunctionActions[name], "sts:AssumeRole")
					for _, acct := range []string{sampleAccount, "210987654321"} {
						target := "arn:aws:iam::" + acct + ":role/shiplog-target"
						if got := allowed(sts, "sts:AssumeRole", target, nil); got != wantAssume {
							t.Errorf("%s: sts:AssumeRole on %s allowed %v, want %v", roleID, target, got, wantAssume)
						}
						for _, other := range []string{"admin", "shiplog-target-x", "path/shiplog-target", "OrganizationAccountAccessRole"} {
							if arn := "arn:aws:iam::" + acct + ":role/" + other; allowed(sts, "sts:AssumeRole", arn, nil) {
								t.Errorf("%s: sts:AssumeRole on %s is allowed; only the target-account role is", roleID, arn)
							}
						}
					}

					for _, a := range []string{"ecs:UpdateService", "ecs:RegisterTaskDefinition", "ecs:RunTask"} {
						if allowed(sts, a, ecsARN(sampleAccount, "service/prod/archivist"), nil) || allowed(sts, a, "*", nil) {
							t.Errorf("%s: %s is allowed; shiplog only reads ECS", roleID, a)
						}
					}
				})
			}
		}
	}
}

// TestTemplateRolesAreTheFunctionsOwn checks each role's shape: trusted by Lambda only, inline
// policies only, logs to the function's own log group, dead letters to its own queue.
func TestTemplateRolesAreTheFunctionsOwn(t *testing.T) {
	tpl := loadTemplate(t)
	for _, tracing := range []string{"PassThrough", "Active"} {
		r := resolver{tpl: tpl, params: map[string]string{"Tracing": tracing}}
		if got := ref(tpl.functionProperty(logicalID("api"), "Tracing")); got != "Tracing" {
			t.Errorf("functions' Tracing: got %v, want !Ref Tracing", tpl.functionProperty(logicalID("api"), "Tracing"))
		}
		for _, name := range functionNames(t) {
			id := logicalID(name)
			t.Run(name+"/tracing="+tracing, func(t *testing.T) {
				roleID, attr := getAtt(tpl.Resources[id].Properties["Role"])
				role, ok := tpl.Resources[roleID]
				if !ok || attr != "Arn" || role.Type != "AWS::IAM::Role" {
					t.Fatalf("%s.Role: got %v, want !GetAtt of an AWS::IAM::Role in the template", id, tpl.Resources[id].Properties["Role"])
				}
				if v, ok := role.Properties["ManagedPolicyArns"]; ok {
					t.Errorf("%s has ManagedPolicyArns %v: every permission must be one of its inline policies", roleID, v)
				}
				trust := statements(role.Properties["AssumeRolePolicyDocument"])
				if len(trust) != 1 || !cmp.Equal(asMap(trust[0]["Principal"]), map[string]any{"Service": "lambda.amazonaws.com"}) {
					t.Errorf("%s trust policy: got %v, want only lambda.amazonaws.com", roleID, trust)
				}

				policies := map[string][]map[string]any{}
				resolved, _ := r.value(t, role.Properties["Policies"])
				for _, p := range asSlice(resolved) {
					pm := asMap(p)
					policies[str(pm["PolicyName"])] = statements(pm["PolicyDocument"])
				}
				wantPolicies := []string{"logs", "shiplog"}
				// logs also carries X-Ray's two actions (which take no resource but *), only when
				// tracing is on. (A policy of its own under Fn::If would be simpler, but moto's
				// CloudFormation cannot drop an AWS::NoValue policy.)
				logStatements := policies["logs"]
				if tracing == "Active" {
					if len(logStatements) != 2 {
						t.Fatalf("%s logs with tracing: got %v, want the logs statement and the X-Ray one", roleID, logStatements)
					}
					checkGrant(t, roleID+" logs (X-Ray)", logStatements[1:], []string{"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, []string{"*"})
					logStatements = logStatements[:1]
				}

				// logs: only its own log group, which has a retention.
				logGroup := ref(asMap(tpl.functionProperty(id, "LoggingConfig"))["LogGroup"])
				lg, ok := tpl.Resources[logGroup]
				if !ok || lg.Type != "AWS::Logs::LogGroup" {
					t.Errorf("%s.LoggingConfig.LogGroup: got %q, want !Ref of an AWS::Logs::LogGroup", id, logGroup)
				} else if lg.Properties["RetentionInDays"] == nil {
					t.Errorf("%s has no RetentionInDays", logGroup)
				}
				checkGrant(t, roleID+" logs", logStatements, []string{"logs:CreateLogStream", "logs:PutLogEvents"}, []string{"GetAtt " + logGroup + ".Arn"})

				// dead-letters: only where failed invocations go to a queue: asynchronous ones
				// (EventInvokeConfig) or the batches a stream mapping gave up on.
				dest := asMap(asMap(asMap(tpl.functionProperty(id, "EventInvokeConfig"))["DestinationConfig"])["OnFailure"])
				if len(dest) > 0 && (dest["Type"] != "SQS") {
					t.Errorf("%s OnFailure: got %v, want Type SQS", id, dest)
				}
				mappings := tpl.streamMappings(id)
				if len(mappings) > 1 {
					t.Fatalf("%s has stream mappings %v; want at most one", id, mappings)
				}
				for _, m := range mappings {
					dest = asMap(asMap(tpl.Resources[m].Properties["DestinationConfig"])["OnFailure"])
					// Lambda's poller reads the stream with the function's role: the four read
					// actions on that stream alone.
					wantPolicies = append(wantPolicies, "stream")
					stream, attr := getAtt(tpl.Resources[m].Properties["EventSourceArn"])
					if attr != "StreamArn" || tpl.Resources[stream].Type != "AWS::DynamoDB::Table" {
						t.Errorf("%s EventSourceArn: got %v, want !GetAtt of a table's StreamArn", m, tpl.Resources[m].Properties["EventSourceArn"])
					}
					if len(policies["stream"]) != 2 {
						t.Fatalf("%s stream: got %v, want the stream's reads and ListStreams", roleID, policies["stream"])
					}
					checkGrant(t, roleID+" stream", policies["stream"][:1],
						[]string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
						[]string{"GetAtt " + stream + ".StreamArn"})
					// ListStreams is authorized on no resource type: only * matches it.
					checkGrant(t, roleID+" stream (ListStreams)", policies["stream"][1:], []string{"dynamodb:ListStreams"}, []string{"*"})
				}
				if len(dest) > 0 {
					wantPolicies = append(wantPolicies, "dead-letters")
					q, qattr := getAtt(dest["Destination"])
					if qattr != "Arn" || tpl.Resources[q].Type != "AWS::SQS::Queue" {
						t.Errorf("%s OnFailure: got %v, want an SQS queue of the template", id, dest)
					}
					checkGrant(t, roleID+" dead-letters", policies["dead-letters"], []string{"sqs:SendMessage"}, []string{"GetAtt " + q + ".Arn"})
				}
				if diff := cmp.Diff(sortedSet(wantPolicies), sortedKeys(policies)); diff != "" {
					t.Errorf("%s policies (-want +got):\n%s", roleID, diff)
				}
			})
		}
	}
}
