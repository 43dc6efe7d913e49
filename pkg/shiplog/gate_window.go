package shiplog

import "strings"

// windowGate refuses a deploy outside every one of the environment's allowed windows
// ("windows"). A rollback is not refused (undoing a bad deployment cannot wait for Monday): its
// decision says it went outside the windows, and the deployment records so
// (Deployment.Exceptions). Break glass passes it.
type windowGate struct{}

func (windowGate) Name() string     { return "window" }
func (windowGate) BreakGlass() bool { return true }

func (windowGate) Evaluate(in GateInput) Decision {
	env := in.Environment
	if len(env.Windows) == 0 {
		return allow("%s has no deploy windows: deploys go at any time", env.ID)
	}
	ws, err := parseWindows(env.ID+".windows", env.Windows)
	if err != nil {
		return refuse(0, "%s's windows cannot be read: %s; register the project again with windows that parse", env.ID, MessageOf(err))
	}
	if w, _ := inside(ws, in.Now); w != nil {
		return allow("%s/%s is inside its deploy window %s", in.ProjectID, env.ID, w.text)
	}
	open := nextOpen(ws, in.Now)
	if in.Kind == KindRollback {
		return except("%s/%s is outside its deploy windows (%s; the next opens at %s); a rollback goes outside them, and its deployment records so",
			in.ProjectID, env.ID, windowList(ws), unixTime(open.Unix()))
	}
	return refuse(open.Sub(in.Now), "%s/%s is outside its deploy windows (%s); the next opens at %s. A rollback or an emergency deployment may go outside them",
		in.ProjectID, env.ID, windowList(ws), unixTime(open.Unix()))
}

func windowList(ws []window) string {
	texts := make([]string, len(ws))
	for i, w := range ws {
		texts[i] = w.text
	}
	return strings.Join(texts, ", ")
}
