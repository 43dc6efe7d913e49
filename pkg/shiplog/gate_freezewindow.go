package shiplog

// freezeWindowGate refuses a deploy inside one of the environment's recurring freezes
// ("freeze_windows", in the form of windows). A rollback is not refused, and its deployment
// records that it went inside a freeze window (Deployment.Exceptions); break glass passes it.
type freezeWindowGate struct{}

func (freezeWindowGate) Name() string     { return "freeze_window" }
func (freezeWindowGate) BreakGlass() bool { return true }

func (freezeWindowGate) Evaluate(in GateInput) Decision {
	env := in.Environment
	if len(env.FreezeWindows) == 0 {
		return allow("%s has no recurring freezes", env.ID)
	}
	ws, err := parseWindows(env.ID+".freeze_windows", env.FreezeWindows)
	if err != nil {
		return refuse(0, "%s's freeze windows cannot be read: %s; register the project again with windows that parse", env.ID, MessageOf(err))
	}
	w, end := inside(ws, in.Now)
	if w == nil {
		return allow("%s/%s is outside its recurring freezes (%s)", in.ProjectID, env.ID, windowList(ws))
	}
	if in.Kind == KindRollback {
		return except("%s/%s is inside its recurring freeze %s until %s; a rollback goes inside it, and its deployment records so",
			in.ProjectID, env.ID, w.text, unixTime(end.Unix()))
	}
	return refuse(end.Sub(in.Now), "%s/%s is inside its recurring freeze %s until %s. A rollback or an emergency deployment may go inside it",
		in.ProjectID, env.ID, w.text, unixTime(end.Unix()))
}
