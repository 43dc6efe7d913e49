package shiplog

import (
	"fmt"
	"strings"
)

// alarmsGate refuses a deploy while any CloudWatch alarm the environment names is in ALARM, or
// cannot be read (no such alarm, or no access to CloudWatch): a gate that cannot look must not
// say yes. INSUFFICIENT_DATA does not refuse; the decision says so. A rollback passes it without
// a look (a rollback is how an alarm is answered), and so does break glass.
type alarmsGate struct{}

func (alarmsGate) Name() string     { return "alarms" }
func (alarmsGate) BreakGlass() bool { return true }

func (alarmsGate) Evaluate(in GateInput) Decision {
	env := in.Environment
	switch {
	case len(env.Alarms) == 0:
		return allow("%s names no alarms", env.ID)
	case in.Kind == KindRollback:
		return allow("a rollback goes whatever %s's alarms say: it is how an alarm is answered", env.ID)
	case in.AlarmsUnread != "":
		return refuse(0, "%s/%s names alarms (%s), and %s, so nothing says they are quiet. An emergency deployment passes the alarms",
			in.ProjectID, env.ID, alarmNames(env.Alarms), in.AlarmsUnread)
	}
	var firing, missing, insufficient []string
	for _, a := range in.Alarms {
		name := AlarmName(a.Alarm)
		switch {
		case !a.Found:
			missing = append(missing, name)
		case a.State == AlarmAlarm:
			f := fmt.Sprintf("%s (since %s", name, unixTime(a.UpdatedAt))
			if a.Reason != "" {
				f += ": " + a.Reason
			}
			firing = append(firing, f+")")
		case a.State != AlarmOK:
			insufficient = append(insufficient, name+" ("+a.State+")")
		}
	}
	switch {
	case len(firing) > 0:
		return refuse(0, "%s/%s has alarms in ALARM: %s. Deploy when they are OK; a rollback or an emergency deployment goes anyway",
			in.ProjectID, env.ID, strings.Join(firing, "; "))
	case len(missing) > 0:
		return refuse(0, "%s/%s names alarms that CloudWatch does not have where the environment lives: %s; fix the manifest's alarms. An emergency deployment passes the alarms",
			in.ProjectID, env.ID, strings.Join(missing, ", "))
	case len(insufficient) > 0:
		return allow("no alarm of %s/%s is in ALARM; %s without enough data to say", in.ProjectID, env.ID, strings.Join(insufficient, ", "))
	}
	return allow("every alarm of %s/%s is OK (%s)", in.ProjectID, env.ID, alarmNames(env.Alarms))
}

func alarmNames(alarms []string) string {
	names := make([]string, len(alarms))
	for i, a := range alarms {
		names[i] = AlarmName(a)
	}
	return strings.Join(names, ", ")
}
