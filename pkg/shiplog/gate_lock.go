package shiplog

import "time"

// lockGate refuses a deploy to an environment a person locked (a rollback's hold is holdGate's).
type lockGate struct{}

func (lockGate) Name() string     { return "lock" }
func (lockGate) BreakGlass() bool { return true }

func (lockGate) Evaluate(in GateInput) Decision {
	l := activeLock(in.Current, in.Now)
	if l == nil || l.Rollback != "" {
		return allow("%s/%s is not locked", in.ProjectID, in.Environment.ID)
	}
	until, after := lockEnd(in.ProjectID, l, in.Now)
	return refuse(after, "%s/%s is locked by %s (%s) since %s: %q; it stays locked %s. An emergency deployment passes the lock",
		in.ProjectID, l.Environment, l.LockedBy.Name, l.LockedBy.ID, unixTime(l.LockedAt), l.Reason, until)
}

// lockEnd says until when a lock holds, and how long that is from now (zero: until a person
// unlocks it).
func lockEnd(projectID string, l *EnvironmentLock, now time.Time) (string, time.Duration) {
	if l.ExpiresAt != 0 {
		return "until " + unixTime(l.ExpiresAt), time.Unix(l.ExpiresAt, 0).Sub(now)
	}
	return "until it is unlocked (DELETE /projects/" + projectID + "/environments/" + l.Environment + "/lock)", 0
}
