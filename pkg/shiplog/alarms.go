package shiplog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The states of a CloudWatch alarm.
const (
	AlarmOK               = "OK"
	AlarmAlarm            = "ALARM"
	AlarmInsufficientData = "INSUFFICIENT_DATA"
)

// Limits of an environment's alarms.
const (
	// MaxAlarmsPerEnvironment bounds the alarms an environment names: one DescribeAlarms call
	// takes up to 100 names, and a gate that lists more than a screen of alarms is not read.
	MaxAlarmsPerEnvironment = 20
	// MaxAlarmNameLength is CloudWatch's limit on an alarm's name; MaxAlarmARNLength bounds an
	// ARN (its prefix, up to 96 bytes, and the name).
	MaxAlarmNameLength = 255
	MaxAlarmARNLength  = 400
	// MaxBake bounds an environment's bake: a deployment watched longer is held, not baked.
	MaxBake = 24 * time.Hour
)

// AlarmState is what CloudWatch says of one alarm an environment names.
type AlarmState struct {
	// Alarm is the alarm as the environment names it (a name or an ARN).
	Alarm string `json:"alarm"`
	// Found is false if there is no such alarm where it was looked for.
	Found bool `json:"found"`
	// State is AlarmOK, AlarmAlarm or AlarmInsufficientData; Reason is CloudWatch's reason for
	// it, and UpdatedAt (Unix seconds) when the alarm entered it.
	State     string `json:"state,omitempty"`
	Reason    string `json:"reason,omitempty"`
	UpdatedAt int64  `json:"updated_at,omitempty"`
}

// Alarms reads CloudWatch alarms (pkg/awscloudwatch). It is optional: without it, a deploy to an
// environment that names alarms is refused by the alarms gate (nothing can say they are quiet).
type Alarms interface {
	// AlarmStates reads the alarms of the reader's account and region named by alarms (names, or
	// ARNs of alarms there), one AlarmState per entry in order; an alarm that does not exist
	// there (or an ARN of another account or region) has Found false.
	AlarmStates(ctx context.Context, alarms []string) ([]AlarmState, error)
}

// AlarmPlaces is what a Places implements if it reads alarms where environments live (through
// the role each names): an environment placed elsewhere has its alarms read there. A Places that
// does not implement it leaves such environments' alarms unread (the gate refuses).
type AlarmPlaces interface {
	Alarms(ctx context.Context, at Placement, by string) (Alarms, error)
}

// alarmsAt returns the alarms reader of env's account and region, or why there is none.
func (s *Service) alarmsAt(ctx context.Context, env Environment, by string) (Alarms, string, error) {
	if s.Alarms == nil {
		return nil, "this shiplog has no access to CloudWatch", nil
	}
	if s.Places == nil || env.Placement.IsZero() {
		return s.Alarms, "", nil
	}
	ap, ok := s.Places.(AlarmPlaces)
	if !ok {
		return nil, fmt.Sprintf("this shiplog cannot read CloudWatch in %s", env.Placement), nil
	}
	a, err := ap.Alarms(ctx, env.Placement, by)
	if err != nil {
		return nil, "", fmt.Errorf("CloudWatch of environment %s, in %s: %w", env.ID, env.Placement, err)
	}
	return a, "", nil
}

// readAlarms reads the states of env's alarms, or says why it cannot.
func (s *Service) readAlarms(ctx context.Context, env Environment, by string) ([]AlarmState, string, error) {
	a, why, err := s.alarmsAt(ctx, env, by)
	if err != nil || a == nil {
		return nil, why, err
	}
	states, err := a.AlarmStates(ctx, env.Alarms)
	if err != nil {
		return nil, "", fmt.Errorf("the alarms of environment %s: %w", env.ID, err)
	}
	if len(states) != len(env.Alarms) {
		return nil, "", Errorf(Internal, "CloudWatch answered %d alarm states for the %d alarms of %s", len(states), len(env.Alarms), env.ID)
	}
	for i := range states {
		states[i].Alarm = env.Alarms[i]
		states[i].Reason = cleanText(states[i].Reason, MaxDescriptionLength)
	}
	return states, "", nil
}

// AlarmName is the name of an alarm as an environment names it: the name itself, or the last
// part of its ARN.
func AlarmName(alarm string) string {
	if a, ok := parseAlarmARN(alarm); ok {
		return a.name
	}
	return alarm
}

// alarmARN is a CloudWatch alarm ARN taken apart: arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}.
type alarmARN struct {
	where Location
	name  string
}

func parseAlarmARN(s string) (alarmARN, bool) {
	parts := strings.SplitN(s, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "cloudwatch" || parts[5] != "alarm" {
		return alarmARN{}, false
	}
	switch parts[1] {
	case "aws", "aws-cn", "aws-us-gov":
	default:
		return alarmARN{}, false
	}
	if !IsAWSRegion(parts[3]) || !isAccount(parts[4]) || validAlarmName(parts[6]) != "" {
		return alarmARN{}, false
	}
	return alarmARN{where: Location{Account: parts[4], Region: parts[3]}, name: parts[6]}, true
}

// validAlarmName says what is wrong with an alarm name ("" if nothing): CloudWatch takes 1 to
// 255 bytes of UTF-8 with no control characters.
func validAlarmName(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxAlarmNameLength:
		return fmt.Sprintf("is %d bytes long; CloudWatch's limit is %d", len(s), MaxAlarmNameLength)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexFunc(s, isControl) >= 0:
		return "contains a control character"
	}
	return ""
}

// validateAlarms checks an environment's alarms and bake; field is its path in the manifest.
func validateAlarms(field string, e Environment) error {
	if len(e.Alarms) > MaxAlarmsPerEnvironment {
		return Errorf(Invalid, "%s.alarms: names %d alarms; the limit is %d", field, len(e.Alarms), MaxAlarmsPerEnvironment)
	}
	seen := map[string]int{}
	for i, a := range e.Alarms {
		f := fmt.Sprintf("%s.alarms[%d]", field, i)
		if strings.HasPrefix(a, "arn:") {
			if len(a) > MaxAlarmARNLength {
				return Errorf(Invalid, "%s: is %d bytes long; an alarm ARN is at most %d", f, len(a), MaxAlarmARNLength)
			}
			arn, ok := parseAlarmARN(a)
			if !ok {
				return Errorf(Invalid, "%s: %q is not a CloudWatch alarm ARN (arn:aws:cloudwatch:{region}:{account}:alarm:{name}); name the alarm by its name or its ARN", f, clip(a))
			}
			if acct := e.Placement.Account(); acct != "" && arn.where.Account != acct {
				return Errorf(Invalid, "%s: %s is an alarm of account %s, but the environment is in account %s: shiplog reads an environment's alarms where it lives", f, clip(a), arn.where.Account, acct)
			}
			if e.Placement.Region != "" && arn.where.Region != e.Placement.Region {
				return Errorf(Invalid, "%s: %s is an alarm of region %s, but the environment is in region %s: shiplog reads an environment's alarms where it lives", f, clip(a), arn.where.Region, e.Placement.Region)
			}
		} else if why := validAlarmName(a); why != "" {
			return Errorf(Invalid, "%s: %q %s", f, clip(a), why)
		}
		name := AlarmName(a)
		if j, dup := seen[name]; dup {
			return Errorf(Invalid, "%s: alarm %q is named twice (also alarms[%d])", f, clip(name), j)
		}
		seen[name] = i
	}
	if e.Bake < 0 {
		return Errorf(Invalid, "%s.bake: must be positive; leave bake out for none", field)
	}
	if e.Bake > int64(MaxBake/time.Second) {
		return Errorf(Invalid, "%s.bake: %ds is longer than the limit of %s (MaxBake)", field, e.Bake, MaxBake)
	}
	if e.Bake > 0 && len(e.Alarms) == 0 {
		return Errorf(Invalid, "%s.bake: a bake watches the environment's alarms, and it names none; add \"alarms\" or leave bake out", field)
	}
	return nil
}

// AlarmIndex is the cluster under which RuntimeServices lists, by name, the CloudWatch alarms
// environments name, so that the store's index answers an alarm's event as it answers an ECS
// service's: no ECS cluster name has a ':'.
const AlarmIndex = "cloudwatch:alarm"

// cloudwatchPerson is who shiplog records as failing a deployment on an alarm's word;
// bakePerson as verifying one whose bake ended with no alarm.
var (
	cloudwatchPerson = Person{ID: "cloudwatch", Name: "Amazon CloudWatch"}
	bakePerson       = Person{ID: "bake", Name: "shiplog bake"}
)

// AlarmEvent is CloudWatch's "CloudWatch Alarm State Change" event (on EventBridge, source
// aws.cloudwatch), reduced to what shiplog needs.
type AlarmEvent struct {
	// ID is the event's id, for logs.
	ID string
	// Account and Region are where the alarm is.
	Account string
	Region  string
	// Name is the alarm's name; ARN its ARN (the event's resource), if the event gives it.
	Name string
	ARN  string
	// State is the state the alarm entered, Reason CloudWatch's reason for it.
	State  string
	Reason string
	// At is when the alarm entered State (the state's timestamp, else the event's time), Unix
	// seconds.
	At int64
}

func (ev AlarmEvent) validate() error {
	switch {
	case !isAccount(ev.Account) || !IsAWSRegion(ev.Region):
		return Errorf(Invalid, "alarm event %s: account %q and region %q must say where the alarm is", clip(ev.ID), clip(ev.Account), clip(ev.Region))
	case validAlarmName(ev.Name) != "":
		return Errorf(Invalid, "alarm event %s: alarm name %q %s", clip(ev.ID), clip(ev.Name), validAlarmName(ev.Name))
	case len(ev.State) > 32 || strings.IndexFunc(ev.State, func(r rune) bool { return (r < 'A' || r > 'Z') && r != '_' }) >= 0:
		return Errorf(Invalid, "alarm event %s: state %q is not a CloudWatch alarm state", clip(ev.ID), clip(ev.State))
	}
	if ev.ARN != "" {
		arn, ok := parseAlarmARN(ev.ARN)
		if !ok || arn.name != ev.Name || arn.where != (Location{Account: ev.Account, Region: ev.Region}) {
			return Errorf(Invalid, "alarm event %s: resource %q is not the ARN of alarm %q of account %s, region %s", clip(ev.ID), clip(ev.ARN), clip(ev.Name), ev.Account, ev.Region)
		}
	}
	return nil
}

// HandleAlarmEvent takes CloudWatch's word that an alarm changed state and fails the current
// deployment of each environment that names the alarm, if the alarm entered ALARM within the
// environment's bake of that deployment's being applied (Environment.Bake). Only an alarm
// entering ALARM is read further: any other state change, or an alarm no environment names, costs
// at most one read of the store's index. The alarm's state is read from CloudWatch before a
// deployment is failed, so that an event anyone could send fails nothing unless CloudWatch agrees
// (the alarm is in ALARM, or changed state since the event). Unavailable if the event passes
// those rules and this shiplog cannot read CloudWatch.
func (s *Service) HandleAlarmEvent(ctx context.Context, ev AlarmEvent) (RuntimeOutcome, error) {
	if err := ev.validate(); err != nil {
		return RuntimeOutcome{}, err
	}
	var out RuntimeOutcome
	if ev.State != AlarmAlarm {
		out.Ignored = fmt.Sprintf("alarm %s entered %s: only an alarm entering ALARM fails a deployment", ev.Name, ev.State)
		return out, nil
	}
	if limit := s.Now().Add(MaxRuntimeEventAhead); ev.At > limit.Unix() {
		out.Ignored = fmt.Sprintf("the event is dated %s, more than %s ahead of this shiplog's clock", unixTime(ev.At), MaxRuntimeEventAhead)
		return out, nil
	}
	matches, complete, err := s.Store.RuntimeMatches(ctx, AlarmIndex, ev.Name)
	if err != nil {
		return RuntimeOutcome{}, fmt.Errorf("environments that name alarm %s: %w", ev.Name, err)
	}
	if !complete {
		projects, err := s.Store.ListProjects(ctx)
		if err != nil {
			return RuntimeOutcome{}, fmt.Errorf("projects: %w", err)
		}
		matches = nil
		for _, p := range projects {
			for _, env := range p.Environments {
				if slices.ContainsFunc(env.Alarms, func(a string) bool { return AlarmName(a) == ev.Name }) {
					matches = append(matches, RuntimeMatch{Project: p, Environment: env.ID})
				}
			}
		}
	}
	for _, m := range matches {
		env, ok := m.Project.Environment(m.Environment)
		if !ok {
			continue
		}
		o, err := s.alarmEventFor(ctx, m.Project, env, ev, m.State, complete)
		if err != nil {
			return out, err
		}
		out.Environments = append(out.Environments, o)
	}
	if len(out.Environments) == 0 {
		out.Ignored = fmt.Sprintf("no registered environment names alarm %s", ev.Name)
	}
	return out, nil
}

// namedAlarm returns the entry of env's alarms that ev is about ("" and why not, if none): an
// ARN must be the event's alarm; a name is looked for where the environment lives.
func (s *Service) namedAlarm(env Environment, ev AlarmEvent) (string, string) {
	evWhere := Location{Account: ev.Account, Region: ev.Region}
	var why string
	for _, a := range env.Alarms {
		if AlarmName(a) != ev.Name {
			continue
		}
		where := env.Placement.In(s.Home)
		if arn, ok := parseAlarmARN(a); ok {
			where = arn.where
		} else if where.Account == "" || where.Region == "" {
			return "", fmt.Sprintf("alarm %s is named without an ARN, so it is in this shiplog's account and region, and this shiplog does not know its own account and region", ev.Name)
		}
		if where == evWhere {
			return a, ""
		}
		why = fmt.Sprintf("the event is about alarm %s of account %s, region %s; the environment's alarm of that name is in account %s, region %s",
			ev.Name, ev.Account, ev.Region, where.Account, where.Region)
	}
	if why == "" {
		why = "the environment does not name alarm " + ev.Name
	}
	return "", why
}

// alarmEventFor says what an alarm entering ALARM did in one environment; st is its state as
// read with the match if stateRead, else it is read here.
func (s *Service) alarmEventFor(ctx context.Context, p Project, env Environment, ev AlarmEvent, st *EnvironmentState, stateRead bool) (EnvironmentOutcome, error) {
	out := EnvironmentOutcome{ProjectID: p.ID, Environment: env.ID}
	alarm, why := s.namedAlarm(env, ev)
	if why != "" {
		out.Ignored = why
		return out, nil
	}
	if env.Bake == 0 {
		out.Ignored = fmt.Sprintf("%s/%s has no bake: its alarms refuse deploys, and fail none", p.ID, env.ID)
		return out, nil
	}
	if !stateRead {
		var err error
		if st, err = s.environmentState(ctx, p.ID, env.ID); err != nil {
			return out, err
		}
	}
	if st == nil || st.DeploymentID == "" {
		out.Ignored = "nothing is deployed in " + p.ID + "/" + env.ID
		return out, nil
	}
	out.DeploymentID, out.Status = st.DeploymentID, StatusOf(Deployment{Status: st.Status})
	if out.Status != StatusApplied && out.Status != StatusVerified {
		out.Ignored = fmt.Sprintf("deployment %s is %s: an alarm fails only an applied or verified deployment", st.DeploymentID, out.Status)
		return out, nil
	}
	rec, err := s.deployment(ctx, p.ID, st.DeploymentID)
	if err != nil {
		return out, err
	}
	bake := time.Duration(env.Bake) * time.Second
	from := appliedAt(rec)
	to := from + env.Bake
	switch {
	case ev.At < from:
		out.Ignored = fmt.Sprintf("alarm %s entered ALARM at %s, before deployment %s was applied (%s)", ev.Name, unixTime(ev.At), st.DeploymentID, unixTime(from))
		return out, nil
	case ev.At > to:
		out.Ignored = fmt.Sprintf("alarm %s entered ALARM at %s, after deployment %s's %s bake ended (%s)", ev.Name, unixTime(ev.At), st.DeploymentID, bake, unixTime(to))
		return out, nil
	}
	// CloudWatch must agree before anything is failed: anyone allowed to invoke the function can
	// send an event.
	states, unread, err := s.readAlarms(ctx, Environment{ID: env.ID, Placement: env.Placement, Alarms: []string{alarm}}, cloudwatchPerson.ID)
	if err != nil {
		return out, err
	}
	if unread != "" {
		return out, Errorf(Unavailable, "%s, so it cannot check CloudWatch's event %s about alarm %s against the alarm; report the deployment's status instead",
			unread, clip(ev.ID), ev.Name)
	}
	now := states[0]
	switch {
	case !now.Found:
		out.Ignored = fmt.Sprintf("CloudWatch has no alarm %s where the environment lives, so the event is not CloudWatch's", alarm)
		return out, nil
	case now.State != AlarmAlarm && now.UpdatedAt < ev.At:
		out.Ignored = fmt.Sprintf("CloudWatch says alarm %s is %s since %s, before the event's %s: the event is not CloudWatch's", ev.Name, now.State, unixTime(now.UpdatedAt), unixTime(ev.At))
		return out, nil
	}
	detail := fmt.Sprintf("CloudWatch alarm %s entered ALARM at %s, within the %s bake of the deployment", ev.Name, unixTime(ev.At), bake)
	if ev.Reason != "" {
		detail += ": " + ev.Reason
	}
	failed, err := s.setStatus(ctx, p.ID, st.DeploymentID, "", StatusEntry{Status: StatusFailed, By: cloudwatchPerson, Detail: cleanText(detail, MaxDescriptionLength)})
	out.Status = failed.Status
	return out, err
}

// BakeOutcome is what SettleBakes did: per environment with a bake and a deployment in it, the
// deployment and its status after, or why it was left as it is. NextAt (Unix seconds) is the
// earliest end of a bake still under way, when SettleBakes has something to do next (0: none).
type BakeOutcome struct {
	Environments []EnvironmentOutcome `json:"environments,omitempty"`
	NextAt       int64                `json:"next_at,omitempty"`
}

// SettleBakes settles the bakes that have ended, in every registered project (see
// SettleProjectBakes): a scheduled tick calls it. It reads the list of projects, then the
// environments' states of each project with an environment that bakes, then a deployment only
// for an applied one whose bake may have ended.
func (s *Service) SettleBakes(ctx context.Context) (BakeOutcome, error) {
	projects, err := s.Store.ListProjects(ctx)
	if err != nil {
		return BakeOutcome{}, fmt.Errorf("projects: %w", err)
	}
	var out BakeOutcome
	for _, p := range projects {
		if err := s.settleBakes(ctx, p, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// SettleProjectBakes settles the bakes of one project's environments that have ended: the
// current deployment of an environment with a bake, applied and neither verified nor failed
// since, whose bake ended with no alarm in ALARM, becomes verified (by "bake"). An alarm in ALARM
// when the bake ends fails it (its event was missed), with the alarm's name and reason.
func (s *Service) SettleProjectBakes(ctx context.Context, projectID string) (BakeOutcome, error) {
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return BakeOutcome{}, err
	}
	var out BakeOutcome
	err = s.settleBakes(ctx, p, &out)
	return out, err
}

func (s *Service) settleBakes(ctx context.Context, p Project, out *BakeOutcome) error {
	if !slices.ContainsFunc(p.Environments, func(e Environment) bool { return e.Bake > 0 }) {
		return nil
	}
	states, err := s.Store.EnvironmentStates(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("environments of %s: %w", p.ID, err)
	}
	now := s.Now().Unix()
	for _, st := range states {
		env, ok := p.Environment(st.Environment.ID)
		if !ok || env.Bake == 0 || st.DeploymentID == "" {
			continue
		}
		o := EnvironmentOutcome{ProjectID: p.ID, Environment: env.ID, DeploymentID: st.DeploymentID, Status: StatusOf(Deployment{Status: st.Status})}
		if o.Status != StatusApplied {
			continue // verified, failed or still requested: nothing for a bake to settle
		}
		end := st.DeployedAt + env.Bake
		if end > now {
			out.next(end)
			continue // applied no earlier than recorded: the bake cannot have ended
		}
		rec, err := s.deployment(ctx, p.ID, st.DeploymentID)
		if err != nil {
			return err
		}
		if end = appliedAt(rec) + env.Bake; end > now {
			out.next(end)
			continue
		}
		entry, why, err := s.bakeVerdict(ctx, env, end)
		if err != nil {
			return err
		}
		if why != "" {
			o.Ignored = why
			out.Environments = append(out.Environments, o)
			continue
		}
		set, err := s.setStatus(ctx, p.ID, st.DeploymentID, "", entry)
		if err != nil && !IsKind(err, Conflict) {
			return err
		}
		if err != nil {
			o.Ignored = MessageOf(err) // a deploy or a report since: the next tick sees it
		} else {
			o.Status = set.Status
		}
		out.Environments = append(out.Environments, o)
	}
	return nil
}

func (o *BakeOutcome) next(at int64) {
	if o.NextAt == 0 || at < o.NextAt {
		o.NextAt = at
	}
}

// bakeVerdict is what the end of env's bake (at end) decides: verified if no alarm is in ALARM
// now, failed (naming the alarms and their reasons) if some are; why, if set, says why it
// decides nothing (an alarm CloudWatch does not have).
func (s *Service) bakeVerdict(ctx context.Context, env Environment, end int64) (StatusEntry, string, error) {
	bake := time.Duration(env.Bake) * time.Second
	names := make([]string, len(env.Alarms))
	for i, a := range env.Alarms {
		names[i] = AlarmName(a)
	}
	states, unread, err := s.readAlarms(ctx, env, bakePerson.ID)
	if err != nil {
		return StatusEntry{}, "", err
	}
	if unread != "" {
		return StatusEntry{}, fmt.Sprintf("the bake ended at %s, but %s to check alarms %s at its end; the deployment stays applied", unixTime(end), unread, strings.Join(names, ", ")), nil
	}
	var firing, missing []string
	for _, st := range states {
		switch {
		case !st.Found:
			missing = append(missing, AlarmName(st.Alarm))
		case st.State == AlarmAlarm:
			f := AlarmName(st.Alarm)
			if st.Reason != "" {
				f += " (" + st.Reason + ")"
			}
			firing = append(firing, f)
		}
	}
	switch {
	case len(firing) > 0:
		return StatusEntry{Status: StatusFailed, By: cloudwatchPerson, Detail: cleanText(fmt.Sprintf("at the end of the %s bake, CloudWatch alarms are in ALARM: %s", bake, strings.Join(firing, "; ")), MaxDescriptionLength)}, "", nil
	case len(missing) > 0:
		return StatusEntry{}, fmt.Sprintf("the bake ended at %s, but CloudWatch has no alarm %s where the environment lives, so the bake verifies nothing; fix the manifest's alarms", unixTime(end), strings.Join(missing, ", ")), nil
	}
	return StatusEntry{Status: StatusVerified, By: bakePerson, Detail: fmt.Sprintf("the %s bake ended with no alarm in ALARM (%s)", bake, strings.Join(names, ", "))}, "", nil
}
