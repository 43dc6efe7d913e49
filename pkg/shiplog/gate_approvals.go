package shiplog

import (
	"fmt"
	"slices"
	"strings"
)

// approvalsGate refuses a release that too few people approved for the environment
// ("approvals"): it needs Required distinct approvals, each by one of From (if given) and,
// without self_approval, by neither the deploy's requester nor the release's. A rollback passes
// it (undoing a bad deployment waits for nobody: the release it deploys ran there before), and so
// does break glass.
type approvalsGate struct{}

func (approvalsGate) Name() string     { return "approvals" }
func (approvalsGate) BreakGlass() bool { return true }

func (approvalsGate) Evaluate(in GateInput) Decision {
	env, r := in.Environment, in.Release
	rule := env.Approvals
	if rule == nil {
		return allow("%s requires no approvals", env.ID)
	}
	if in.Kind == KindRollback {
		return allow("a rollback deploys again a release %s ran before: it needs no approval", env.ID)
	}
	c := countApprovals(*rule, r, in.RequestedBy, in.Approvals)
	var notes []string
	if len(c.ignored) > 0 {
		notes = append(notes, "not counted: "+strings.Join(c.ignored, ", "))
	}
	if len(c.counted) >= rule.Required {
		msg := fmt.Sprintf("release %s has %d of the %d approvals %s requires: %s", r.ID, len(c.counted), rule.Required, env.ID, strings.Join(c.counted, ", "))
		if len(notes) > 0 {
			msg += "; " + strings.Join(notes, "; ")
		}
		return allow("%s", msg)
	}
	got := "none"
	if len(c.counted) > 0 {
		got = strings.Join(c.counted, ", ")
	}
	notes = append([]string{"approved by " + got}, notes...)
	who := "anyone"
	if ex := excluded(r, in.RequestedBy); !rule.SelfApproval && len(ex) > 0 {
		who = "anyone but " + strings.Join(ex, " and ")
	}
	if len(rule.From) > 0 {
		var may []string
		for _, id := range rule.From {
			if !slices.Contains(c.counted, id) && (rule.SelfApproval || (id != in.RequestedBy.ID && id != r.RequestedBy.ID)) {
				may = append(may, id)
			}
		}
		who = strings.Join(may, ", ")
		if len(may) == 0 {
			who = "nobody (from has no one left who may)"
		}
	}
	if slices.Contains(c.ignored, in.RequestedBy.ID+requesterNote) {
		who += "; a deploy requested by someone else would count " + in.RequestedBy.ID + "'s approval"
	}
	return refuse(0, "release %s has %d of the %d approvals %s requires (%s); who may still approve: %s (shiplog approve %s %s %s), or use an emergency deployment",
		r.ID, len(c.counted), rule.Required, env.ID, strings.Join(notes, "; "), who, in.ProjectID, env.ID, r.ID)
}

// excluded names who may not approve for a deploy, without self_approval: its requester and the
// release's.
func excluded(r Release, requester Person) []string {
	var out []string
	for _, id := range []string{requester.ID, r.RequestedBy.ID} {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
