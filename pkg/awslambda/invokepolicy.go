package awslambda

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The environment variables that carry a stack's InvokeAllowList and InvokePrivilegedActions
// parameters to the create-release and deploy functions.
const (
	InvokeAllowEnv      = "SHIPLOG_INVOKE_ALLOW"
	InvokePrivilegedEnv = "SHIPLOG_INVOKE_PRIVILEGED"
)

// Privilege is a part of a payload that lets the invoke channel do more than deploy: each must
// be allowed by name, beyond the allow-list of targets.
type Privilege string

// The privileges, by the payload field that asks for them.
const (
	// OverrideReason breaks glass: a deploy past locks, freezes and gates.
	OverrideReason Privilege = "override_reason"
	// Hold is a rollback that locks the environment, so that nothing else deploys there.
	Hold Privilege = "hold"
	// Report says how a deployment went (verified or failed), which gates and DORA believe.
	Report Privilege = "report"
	// Manifest registers the project from create-release: its environments and their gates.
	Manifest Privilege = "manifest"
)

// Privileges lists every privilege.
func Privileges() []Privilege { return []Privilege{OverrideReason, Hold, Report, Manifest} }

// InvokePolicy is what a stack lets the invoke channel do. lambda:InvokeFunction names only the
// function, and the payload does not say who sent it, so this is the same for every caller the
// function's IAM lets in: deploys (plans and rollbacks too) only to the listed project and
// environment pairs, releases only of projects the list names, and the privileged fields only if
// allowed. The zero value allows nothing.
type InvokePolicy struct {
	targets    []target
	privileges []Privilege
}

// target is one allow-list entry; "*" in either place is any id.
type target struct{ project, environment string }

const anyID = "*"

// AllowAll is the policy of the local stack, which has no IAM either: any project, any
// environment, every privilege.
func AllowAll() InvokePolicy {
	return InvokePolicy{targets: []target{{anyID, anyID}}, privileges: Privileges()}
}

// ParseInvokePolicy reads the stack's two parameters as the functions get them: allow is
// "project/environment" entries separated by commas, either side an id or "*"; privileged is a
// comma-separated list of Privileges. Empty means none. Anything else is an error that says why,
// so that a function with a mistyped list refuses to start rather than guess.
func ParseInvokePolicy(allow, privileged string) (InvokePolicy, error) {
	var p InvokePolicy
	if allow != "" {
		for _, entry := range strings.Split(allow, ",") {
			project, env, ok := strings.Cut(entry, "/")
			if !ok {
				return InvokePolicy{}, fmt.Errorf("invoke allow-list entry %q: want project/environment (either may be *)", entry)
			}
			for _, part := range []struct{ field, id string }{{"project", project}, {"environment", env}} {
				if part.id == anyID {
					continue
				}
				if err := shiplog.ValidateID(part.field, part.id); err != nil {
					return InvokePolicy{}, fmt.Errorf("invoke allow-list entry %q: %s", entry, shiplog.MessageOf(err))
				}
			}
			p.targets = append(p.targets, target{project, env})
		}
	}
	if privileged != "" {
		for _, name := range strings.Split(privileged, ",") {
			pr := Privilege(name)
			if !slices.Contains(Privileges(), pr) {
				return InvokePolicy{}, fmt.Errorf("invoke privilege %q: want some of %s, separated by commas", name, privilegeList(Privileges()))
			}
			if !slices.Contains(p.privileges, pr) {
				p.privileges = append(p.privileges, pr)
			}
		}
	}
	return p, nil
}

// AllowList is the allow-list in the InvokeAllowList parameter's form.
func (p InvokePolicy) AllowList() string {
	entries := make([]string, len(p.targets))
	for i, t := range p.targets {
		entries[i] = t.project + "/" + t.environment
	}
	return strings.Join(entries, ",")
}

// PrivilegeList is the allowed privileges in the InvokePrivilegedActions parameter's form.
func (p InvokePolicy) PrivilegeList() string { return privilegeList(p.privileges) }

func privilegeList(ps []Privilege) string {
	names := make([]string, len(ps))
	for i, pr := range ps {
		names[i] = string(pr)
	}
	return strings.Join(names, ",")
}

// orNone shows an empty parameter in a message.
func orNone(s string) string {
	if s == "" {
		return "empty"
	}
	return s
}

// allows reports whether an entry names project and environment; an empty environment asks
// whether any entry names the project.
func (p InvokePolicy) allows(project, environment string) bool {
	for _, t := range p.targets {
		if (t.project == anyID || t.project == project) && (environment == "" || t.environment == anyID || t.environment == environment) {
			return true
		}
	}
	return false
}

// deployTo refuses a deploy, plan or rollback of project to environment that no entry allows.
func (p InvokePolicy) deployTo(project, environment string) error {
	if p.allows(project, environment) {
		return nil
	}
	return shiplog.Errorf(shiplog.Forbidden,
		"this stack does not let the invoke channel deploy project %q to environment %q (InvokeAllowList: %s): an operator adds %s/%s to the stack's InvokeAllowList, or deploy through the HTTP API, whose IAM policy names the environment",
		project, environment, orNone(p.AllowList()), project, environment)
}

// reportOn refuses a report on a deployment of project to environment (empty: before the
// deployment is read, any) that no entry allows.
func (p InvokePolicy) reportOn(project, environment string) error {
	if p.allows(project, environment) {
		return nil
	}
	to := ""
	if environment != "" {
		to = fmt.Sprintf(" to environment %q", environment)
	}
	return shiplog.Errorf(shiplog.Forbidden,
		"this stack does not let the invoke channel report on a deployment of project %q%s (InvokeAllowList: %s): the list names the environments whose deployments it may report on",
		project, to, orNone(p.AllowList()))
}

// release refuses a release of a project that no entry names.
func (p InvokePolicy) release(project string) error {
	if p.allows(project, "") {
		return nil
	}
	return shiplog.Errorf(shiplog.Forbidden,
		"this stack does not let the invoke channel release project %q (InvokeAllowList: %s): an operator adds %s/ENVIRONMENT, for the environments CI deploys it to, to the stack's InvokeAllowList, or release through the HTTP API",
		project, orNone(p.AllowList()), project)
}

// privilege refuses a privileged field the stack has not allowed; instead says what does the
// same with IAM that can name the environment.
func (p InvokePolicy) privilege(pr Privilege, instead string) error {
	if slices.Contains(p.privileges, pr) {
		return nil
	}
	return shiplog.Errorf(shiplog.Forbidden,
		"%s: is not allowed on the invoke channel by this stack (InvokePrivilegedActions: %s), since anyone who may invoke the function could use it on every environment the allow-list names; %s, or an operator adds %s to the stack's InvokePrivilegedActions",
		pr, orNone(p.PrivilegeList()), instead, pr)
}
