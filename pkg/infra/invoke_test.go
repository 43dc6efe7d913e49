package infra

import (
	"regexp"
	"testing"

	"github.com/shiplog/shiplog/pkg/awslambda"
)

// TestTemplateInvokePolicyParameters holds the stack's InvokeAllowList and
// InvokePrivilegedActions to the functions that read them: both default to empty (the invoke
// channel does nothing until an operator says what), they reach create-release and deploy only,
// and a value CloudFormation accepts is one the functions parse, so a stack cannot be deployed
// with a list its functions would refuse to start on (or read otherwise).
func TestTemplateInvokePolicyParameters(t *testing.T) {
	tpl := loadTemplate(t)
	params := map[string]string{awslambda.InvokeAllowEnv: "InvokeAllowList", awslambda.InvokePrivilegedEnv: "InvokePrivilegedActions"}
	for _, name := range params {
		p := asMap(tpl.Parameters[name])
		if p["Type"] != "String" || p["Default"] != "" || str(p["AllowedPattern"]) == "" {
			t.Errorf("parameter %s: %v; want a String, default empty, with an AllowedPattern", name, p)
		}
	}
	def, err := awslambda.ParseInvokePolicy("", "")
	if err != nil || def.AllowList() != "" || def.PrivilegeList() != "" {
		t.Errorf("the defaults parse to %q and %q (%v); want nothing allowed", def.AllowList(), def.PrivilegeList(), err)
	}
	for _, name := range functionNames(t) {
		env := tpl.functionEnvironment(logicalID(name))
		for v, param := range params {
			_, set := env[v]
			if want := name == awslambda.CreateReleaseName || name == awslambda.DeployName; set != want {
				t.Errorf("%s sets %s: %v, want %v", name, v, set, want)
			}
			if set && ref(env[v]) != param {
				t.Errorf("%s: %s = %v, want !Ref %s", name, v, env[v], param)
			}
		}
	}

	pattern := func(name string) *regexp.Regexp {
		return regexp.MustCompile(str(asMap(tpl.Parameters[name])["AllowedPattern"]))
	}
	allow, privileged := pattern("InvokeAllowList"), pattern("InvokePrivilegedActions")
	for _, tt := range []struct {
		allow, privileged string
		ok                bool
	}{
		{"", "", true},
		{"storage/stage", "", true},
		{"storage/stage,catalogue_pipeline/stage,*/qa,storage/*,*/*", "", true},
		{"", "override_reason,hold,report,manifest", true},
		{"storage/stage", "report", true},
		{"storage", "", false},
		{"storage/", "", false},
		{"/stage", "", false},
		{"storage/stage,", "", false},
		{"storage/stage, storage/prod", "", false},
		{"storage/stage/x", "", false},
		{"storage/st*", "", false},
		{"stor age/stage", "", false},
		{"", "report,", false},
		{"", "break_glass", false},
		{"", "Report", false},
		{"", "report manifest", false},
	} {
		cfn := allow.MatchString(tt.allow) && privileged.MatchString(tt.privileged)
		_, err := awslambda.ParseInvokePolicy(tt.allow, tt.privileged)
		if cfn != tt.ok || (err == nil) != tt.ok {
			t.Errorf("InvokeAllowList %q, InvokePrivilegedActions %q: CloudFormation accepts %v, the functions parse %v (%v); want both %v",
				tt.allow, tt.privileged, cfn, err == nil, err, tt.ok)
		}
	}
}
