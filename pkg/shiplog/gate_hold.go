package shiplog

// holdGate refuses a deploy to an environment a rollback held: the lock a rollback with hold
// takes in its own write, so that a pipeline that deploys on every merge does not undo it.
type holdGate struct{}

func (holdGate) Name() string     { return "hold" }
func (holdGate) BreakGlass() bool { return true }

func (holdGate) Evaluate(in GateInput) Decision {
	l := activeLock(in.Current, in.Now)
	if l == nil || l.Rollback == "" {
		return allow("%s/%s is not held by a rollback", in.ProjectID, in.Environment.ID)
	}
	until, after := lockEnd(in.ProjectID, l, in.Now)
	return refuse(after, "%s/%s is held by rollback %s: locked by %s (%s) since %s: %q; it stays locked %s. An emergency deployment passes the hold",
		in.ProjectID, l.Environment, l.Rollback, l.LockedBy.Name, l.LockedBy.ID, unixTime(l.LockedAt), l.Reason, until)
}
