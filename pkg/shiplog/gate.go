package shiplog

import (
	"fmt"
	"time"
)

// Gate is one rule a deploy to an environment must pass: the lock, a rollback's hold, the
// freezes, the promotion gates (requires). Each gate decides on its own, from what the deploy
// read, so that a plan shows every gate's decision and not only the first refusal.
type Gate interface {
	// Name names the gate in plans ("lock", "freeze", ...).
	Name() string
	// BreakGlass says whether an emergency deployment (an override reason) passes the gate when
	// it refuses.
	BreakGlass() bool
	// Evaluate decides whether the deploy described by in may go ahead. It reads nothing: all it
	// needs is in in.
	Evaluate(in GateInput) Decision
}

// GateInput is what a gate decides on: the deploy and what it read, in one versioned read.
type GateInput struct {
	ProjectID   string
	Environment Environment
	Release     Release
	// Current is the environment's state (nil: nothing deployed, locked or frozen yet).
	Current *EnvironmentState
	// Kind is the deploy's kind: KindDeploy, KindPromote or KindRollback.
	Kind string
	// RequestedBy is who asks for the deploy.
	RequestedBy Person
	// Approvals are the release's approvals for the environment, read only when the
	// environment requires approvals (and the deploy is not a rollback): others pay nothing.
	Approvals []Approval
	Now       time.Time
	// Alarms are the states of the environment's alarms, read for a deploy (not a rollback) to
	// an environment that names alarms; AlarmsUnread, if set, says why they could not be.
	Alarms       []AlarmState
	AlarmsUnread string
	// Findings are the scan findings of the release's images, read for a deploy (not a
	// rollback) to an environment with a max_finding_severity; FindingsUnread, if set, says why
	// they could not be.
	Findings       []ImageFindings
	FindingsUnread string
}

// Decision is a gate's answer. A refusal's Message says what refuses and what would pass it;
// RetryAfter, if not zero, is how long until the gate opens by itself (a lock's or a freeze's
// end), zero when only a person can open it. Exception marks an Allow that only the deploy's
// kind earned (a rollback outside a deploy window): the deployment records the gate
// (Deployment.Exceptions), so that it is audited.
type Decision struct {
	Allow      bool
	Message    string
	RetryAfter time.Duration
	Exception  bool
}

// allow and refuse make Decisions.
func allow(format string, args ...any) Decision {
	return Decision{Allow: true, Message: fmt.Sprintf(format, args...)}
}

// except allows a deploy that the gate would refuse but for its kind.
func except(format string, args ...any) Decision {
	return Decision{Allow: true, Exception: true, Message: fmt.Sprintf(format, args...)}
}

func refuse(after time.Duration, format string, args ...any) Decision {
	return Decision{Message: fmt.Sprintf(format, args...), RetryAfter: after}
}

// GateDecision is one gate's decision in a plan: Allow false and Overridden true is a refusal
// the plan's emergency deployment passes; Exception is an Allow the deploy's kind earned (see
// Decision); RetryAt (Unix seconds) is when the gate opens by itself, if it does.
type GateDecision struct {
	Gate       string `json:"gate"`
	Allow      bool   `json:"allow"`
	Overridden bool   `json:"overridden,omitempty"`
	Exception  bool   `json:"exception,omitempty"`
	Message    string `json:"message"`
	RetryAt    int64  `json:"retry_at,omitempty"`
}

// Gates are the gates every deploy passes, in the order a plan lists them; the first refusal
// is the deploy's error.
var Gates = []Gate{lockGate{}, holdGate{}, freezeGate{}, freezeWindowGate{}, windowGate{}, requiresGate{}, soakGate{}, approvalsGate{}, alarmsGate{}, findingsGate{}}

// evaluateGates runs every gate over in, in order. With override (a break-glass deploy), a
// refusal of a gate that break glass passes is marked Overridden. It answers every decision, and
// the deploy's refusal: the first one not overridden, a Conflict, or nil.
func evaluateGates(gates []Gate, in GateInput, override bool) ([]GateDecision, error) {
	out := make([]GateDecision, 0, len(gates))
	var refusal error
	for _, g := range gates {
		d := g.Evaluate(in)
		gd := GateDecision{Gate: g.Name(), Allow: d.Allow, Exception: d.Allow && d.Exception, Message: d.Message}
		if !d.Allow && d.RetryAfter > 0 {
			gd.RetryAt = in.Now.Add(d.RetryAfter).Unix()
		}
		if !d.Allow && override && g.BreakGlass() {
			gd.Overridden = true
		}
		if !d.Allow && !gd.Overridden && refusal == nil {
			refusal = Errorf(Conflict, "%s", d.Message)
		}
		out = append(out, gd)
	}
	return out, refusal
}

// exceptions names the gates that allowed the deploy by exception.
func exceptions(ds []GateDecision) []string {
	var out []string
	for _, d := range ds {
		if d.Exception {
			out = append(out, d.Gate)
		}
	}
	return out
}

// overridden names the gates a break-glass deploy passed: those that refused it.
func overridden(ds []GateDecision) []string {
	var out []string
	for _, d := range ds {
		if d.Overridden {
			out = append(out, d.Gate)
		}
	}
	return out
}
