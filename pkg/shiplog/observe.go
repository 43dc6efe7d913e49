package shiplog

import "context"

// DeployObserver is told what deploys did that the event log does not say: which gate refused a
// deploy (a refusal writes nothing), and a recorded deployment's lead times (Deployment.Leads).
// What the event log says (deployments requested, verified, failed) its readers count. Calls come
// on the deploy's own path, so an observer must not block.
type DeployObserver interface {
	// DeployRefused: gate (a gate's Name, as plans show it) refused a deploy of kind to the
	// environment.
	DeployRefused(ctx context.Context, projectID, environment, kind, gate string)
	// DeploymentRecorded: d is recorded (it may still be writing its parameters).
	DeploymentRecorded(ctx context.Context, projectID string, d Deployment)
}

// refusingGate names the gate whose refusal is a deploy's: the first not overridden.
func refusingGate(ds []GateDecision) string {
	for _, d := range ds {
		if !d.Allow && !d.Overridden {
			return d.Gate
		}
	}
	return ""
}
