package shiplog

import (
	"sort"
	"time"
)

// freezeGate refuses a deploy inside a freeze of the environment, naming the freeze, its reason
// and its end.
type freezeGate struct{}

func (freezeGate) Name() string     { return "freeze" }
func (freezeGate) BreakGlass() bool { return true }

func (freezeGate) Evaluate(in GateInput) Decision {
	if in.Current == nil {
		return allow("%s/%s is not frozen", in.ProjectID, in.Environment.ID)
	}
	now := in.Now.Unix()
	for _, f := range in.Current.Freezes {
		if f.StartsAt <= now && now < f.EndsAt {
			return refuse(frozenUntil(in.Current.Freezes, now).Sub(in.Now), "%s/%s is frozen by freeze %s until %s: %q. An emergency deployment passes the freeze",
				in.ProjectID, in.Current.Environment.ID, f.ID, unixTime(f.EndsAt), f.Reason)
		}
	}
	return allow("%s/%s is not frozen", in.ProjectID, in.Environment.ID)
}

// frozenUntil is the end of the freezes that cover now, one after another: the moment the
// environment is free of them all.
func frozenUntil(fs []Freeze, now int64) time.Time {
	fs = append([]Freeze(nil), fs...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].StartsAt < fs[j].StartsAt })
	end := now
	for _, f := range fs {
		if f.StartsAt <= end && end < f.EndsAt {
			end = f.EndsAt
		}
	}
	return time.Unix(end, 0)
}
