package infra

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func loadTargetTemplate(t *testing.T) *Template {
	t.Helper()
	return loadTemplateFile(t, filepath.Join(repoRoot(t), "templates", "target-account.yaml"))
}

// assumingFunctions are the functions that assume the target-account role (awsapp.FunctionActions
// has them call sts:AssumeRole).
func assumingFunctions() []string {
	var out []string
	for fn, actions := range awsapp.FunctionActions {
		if slices.Contains(actions, "sts:AssumeRole") {
			out = append(out, fn)
		}
	}
	slices.Sort(out)
	return out
}

// TestTargetAccountRolePolicy evaluates the target-account role's policy as IAM would: it allows
// exactly the SSM, ECR and ECS calls that the functions assuming it make (awsapp.FunctionActions,
// held to the code's calls by pkg/awsapp's test; ECR tags are moved, and scan findings read, only
// in the source registry, so no ecr:PutImage nor ecr:DescribeImageScanFindings, and the GitHub token
// only in shiplog's account), on this account's
// resources of the shapes the code uses, in any region.
func TestTargetAccountRolePolicy(t *testing.T) {
	tpl := loadTargetTemplate(t)
	var want []string
	for _, fn := range assumingFunctions() {
		for _, a := range awsapp.FunctionActions[fn] {
			// The GitHub token is read in shiplog's own account only.
			if !strings.HasPrefix(a, "sts:") && a != "ecr:PutImage" && a != "ecr:DescribeImageScanFindings" && awsapp.FunctionParameters[fn][a] != awsapp.GitHubToken {
				want = append(want, a)
			}
		}
	}
	for _, prefix := range []string{"", "/shiplog-b"} {
		r := resolver{tpl: tpl, params: map[string]string{"ParameterPrefix": prefix, "ShiplogAccountId": "210987654321", "ShiplogStackName": "shiplog"}}
		var sts []statement
		for _, p := range asSlice(tpl.Resources["ShiplogRole"].Properties["Policies"]) {
			sts = append(sts, r.statements(t, "ShiplogRole", asMap(p)["PolicyDocument"])...)
		}
		var granted []string
		for _, s := range sts {
			if s.allow {
				granted = append(granted, s.actions...)
			}
		}
		if diff := cmp.Diff(sortedSet(want), sortedSet(granted)); diff != "" {
			t.Errorf("prefix %q: actions allowed (-the assuming functions' +template):\n%s", prefix, diff)
		}
		for _, region := range []string{"eu-west-1", "us-east-1"} {
			ssmARN := func(account, name string) string {
				return "arn:aws:ssm:" + region + ":" + account + ":parameter" + name
			}
			for _, action := range []string{"ssm:GetParameters", "ssm:PutParameter"} {
				name := prefix + shiplog.ParameterName("storage", "prod", "archivist")
				if !allowed(sts, action, ssmARN(sampleAccount, name), nil) {
					t.Errorf("prefix %q: %s on %s in %s is not allowed", prefix, action, name, region)
				}
				for _, other := range []string{"/webapp/config/db", prefix + "/storage/config/x", prefix + "/other/storage/images/prod/archivist",
					prefix + "/storage/images/prod/archivist/extra", "/aws/images/prod/x", "/SSM/images/prod/x"} {
					if allowed(sts, action, ssmARN(sampleAccount, other), nil) {
						t.Errorf("prefix %q: %s on %s is allowed; it is no image parameter", prefix, action, other)
					}
				}
				if allowed(sts, action, ssmARN("210987654321", name), nil) {
					t.Errorf("prefix %q: %s on another account's %s is allowed", prefix, action, name)
				}
			}
			path := prefix + strings.TrimSuffix(shiplog.ParameterPath("storage", "prod"), "/")
			if !allowed(sts, "ssm:GetParametersByPath", ssmARN(sampleAccount, path), nil) {
				t.Errorf("prefix %q: ssm:GetParametersByPath on %s is not allowed", prefix, path)
			}
			if latest := prefix + shiplog.ParameterName("storage", shiplog.LatestLabel, "archivist"); allowed(sts, "ssm:PutParameter", ssmARN(sampleAccount, latest), nil) {
				t.Errorf("prefix %q: ssm:PutParameter on %s is allowed; the latest label is kept in the stack's own account", prefix, latest)
			}
			repo := "arn:aws:ecr:" + region + ":" + sampleAccount + ":repository/team/app"
			if !allowed(sts, "ecr:BatchGetImage", repo, nil) || allowed(sts, "ecr:PutImage", repo, nil) {
				t.Errorf("ECR in %s: BatchGetImage must be allowed and PutImage not", region)
			}
			alarm := "arn:aws:cloudwatch:" + region + ":" + sampleAccount + ":alarm:storage-prod-5xx"
			if !allowed(sts, "cloudwatch:DescribeAlarms", alarm, nil) || allowed(sts, "cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:"+region+":210987654321:alarm:x", nil) {
				t.Errorf("CloudWatch in %s: DescribeAlarms must be allowed on this account's alarms, and only on them", region)
			}
			for _, c := range []struct{ action, resource string }{
				{"ecs:DescribeServices", "service/prod/archivist"},
				{"ecs:DescribeTasks", "task/prod/0123456789abcdef0123456789abcdef"},
				{"ecs:ListTasks", "container-instance/prod/0123456789abcdef0123456789abcdef"},
			} {
				if !allowed(sts, c.action, "arn:aws:ecs:"+region+":"+sampleAccount+":"+c.resource, nil) {
					t.Errorf("%s on %s in %s is not allowed", c.action, c.resource, region)
				}
				if allowed(sts, c.action, "arn:aws:ecs:"+region+":210987654321:"+c.resource, nil) {
					t.Errorf("%s on another account's %s is allowed", c.action, c.resource)
				}
			}
			for _, a := range []string{"ecs:UpdateService", "ecs:RunTask", "ssm:DeleteParameter", "iam:PassRole"} {
				if allowed(sts, a, "*", nil) || allowed(sts, a, "arn:aws:ecs:"+region+":"+sampleAccount+":service/prod/archivist", nil) {
					t.Errorf("%s is allowed; shiplog only writes image parameters and reads ECS and ECR", a)
				}
			}
		}
	}
}

// TestTargetAccountRoleTrust: the role trusts only shiplog's account, and in it only the roles of
// the functions that assume it (by the logical ids template.yaml gives their roles), with the
// external id when one is set.
func TestTargetAccountRoleTrust(t *testing.T) {
	tpl := loadTargetTemplate(t)
	main := loadTemplate(t)
	var wantRoles []string
	for _, fn := range assumingFunctions() {
		roleID, _ := getAtt(main.Resources[logicalID(fn)].Properties["Role"])
		if roleID == "" {
			t.Fatalf("template.yaml: function %s has no role of its own", fn)
		}
		wantRoles = append(wantRoles, "arn:aws:iam::210987654321:role/shiplog-"+roleID+"-*")
	}
	for _, ext := range []string{"", "bugfarm-prod"} {
		r := resolver{tpl: tpl, params: map[string]string{"ShiplogAccountId": "210987654321", "ShiplogStackName": "shiplog", "ExternalId": ext}}
		doc, _ := r.value(t, tpl.Resources["ShiplogRole"].Properties["AssumeRolePolicyDocument"])
		sts := asSlice(asMap(doc)["Statement"])
		if len(sts) != 1 {
			t.Fatalf("trust policy: %d statements, want 1", len(sts))
		}
		st := asMap(sts[0])
		if st["Effect"] != "Allow" || str(st["Action"]) != "sts:AssumeRole" {
			t.Errorf("trust policy: %v, want Allow sts:AssumeRole", st)
		}
		if got := r.arn(t, asMap(st["Principal"])["AWS"]); got != "arn:aws:iam::210987654321:root" {
			t.Errorf("trust principal: got %s, want shiplog's account", got)
		}
		cond := asMap(st["Condition"])
		var gotRoles []string
		for _, a := range asSlice(asMap(cond["ArnLike"])["aws:PrincipalArn"]) {
			gotRoles = append(gotRoles, r.arn(t, a))
		}
		if diff := cmp.Diff(sortedSet(wantRoles), sortedSet(gotRoles)); diff != "" {
			t.Errorf("trusted roles (-the assuming functions' roles +template):\n%s", diff)
		}
		for k := range cond {
			if k != "ArnLike" && k != "StringEquals" {
				t.Errorf("trust condition %s: the test does not evaluate it", k)
			}
		}
		gotExt := str(asMap(cond["StringEquals"])["sts:ExternalId"])
		if name := ref(asMap(cond["StringEquals"])["sts:ExternalId"]); name != "" {
			gotExt = r.param(name)
		}
		if gotExt != ext {
			t.Errorf("ExternalId %q: the trust requires external id %q", ext, gotExt)
		}
	}
}

// TestTemplateTrustsTheListedAccountsEvents: template.yaml's bus policy lets exactly the
// TrustedAccounts put ECS's events and CloudWatch's alarm state changes on the default bus, where
// EcsEventsRule and AlarmEventsRule take them; and the target-account template forwards them
// there.
func TestTemplateTrustsTheListedAccountsEvents(t *testing.T) {
	main := loadTemplate(t)
	pol, ok := main.Resources["TrustedAccountsEventBusPolicy"]
	if !ok {
		t.Fatal("template.yaml has no TrustedAccountsEventBusPolicy")
	}
	if pol.Condition != "HasTrustedAccounts" {
		t.Errorf("TrustedAccountsEventBusPolicy: condition %q, want HasTrustedAccounts (none without accounts)", pol.Condition)
	}
	st := asMap(pol.Properties["Statement"])
	if ref(asMap(st["Principal"])["AWS"]) != "TrustedAccounts" || str(st["Action"]) != "events:PutEvents" {
		t.Errorf("bus policy statement %v: want events:PutEvents by the TrustedAccounts", st)
	}
	if got := asMap(asMap(st["Condition"])["StringEquals"])["events:source"]; !cmp.Equal(got, []any{"aws.ecs", "aws.cloudwatch"}) {
		t.Errorf("bus policy: events:source %v, want aws.ecs and aws.cloudwatch only", got)
	}
	target := loadTargetTemplate(t)
	for forward, rule := range map[string]string{"ForwardEcsEventsRule": "EcsEventsRule", "ForwardAlarmEventsRule": "AlarmEventsRule"} {
		want := asMap(main.Resources[rule].Properties["EventPattern"])
		if diff := cmp.Diff(want, asMap(target.Resources[forward].Properties["EventPattern"])); diff != "" {
			t.Errorf("%s: forwarded events (-what ecs-events takes +what is forwarded):\n%s", forward, diff)
		}
	}
}

func TestTargetAccountCfnLint(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	lint := findTool(t, "cfn-lint", "pip install cfn-lint (CI's machine has it in pyenv)", "/root/.pyenv/shims/cfn-lint")
	out, err := run(t, root, []string{"AWS_DEFAULT_REGION=eu-west-1"}, lint, "--include-checks", "I", "--", "templates/target-account.yaml", "template.yaml")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("cfn-lint --include-checks I templates/target-account.yaml template.yaml: %v\n%s", err, out)
	}
}
