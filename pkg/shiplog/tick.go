package shiplog

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// TickOutcome is what one piece of the tick's work did.
type TickOutcome struct {
	Work string `json:"work"`
	// Projects are the projects it looked at; Actions what it did (deployments made).
	Projects int    `json:"projects"`
	Actions  int    `json:"actions"`
	Error    string `json:"error,omitempty"`
}

// tickWork is one piece of time-driven work: it answers how many projects it looked at and how
// many actions it took.
type tickWork struct {
	name string
	run  func(ctx context.Context, projects []Project) (looked, acted int, err error)
}

// tickWorks is the tick's work, in order. Each piece runs whatever the others did.
//
// TIME-DRIVEN WORK GOES HERE: what must happen when time passes rather than when an event
// arrives (a soak ends, a deploy window opens, an alarm's bake time ends) is one entry, named
// for the log and the answer. Bakes settle first, so that a deployment a bake fails is rolled
// back, and one it verifies promoted, in the same tick.
func (s *Service) tickWorks() []tickWork {
	return []tickWork{
		{name: "bakes", run: s.settleAllBakes},
		{name: "automation", run: s.automateAll},
	}
}

// settleAllBakes settles the ended bakes of every project with an environment that bakes (see
// settleBakes); the others cost nothing past the list of projects. It answers the projects it
// looked at and the deployments whose status it set. A project's error does not stop the others.
func (s *Service) settleAllBakes(ctx context.Context, projects []Project) (int, int, error) {
	looked, acted := 0, 0
	var errs []error
	for _, p := range projects {
		if !slices.ContainsFunc(p.Environments, func(e Environment) bool { return e.Bake > 0 }) {
			continue
		}
		looked++
		var out BakeOutcome
		if err := s.settleBakes(ctx, p, &out); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
		}
		for _, o := range out.Environments {
			if o.Ignored == "" {
				acted++
			}
		}
	}
	return looked, acted, errors.Join(errs...)
}

// Tick runs the time-driven work (tickWorks) once: the scheduler calls it every minute in AWS
// (EventBridge Scheduler, template.yaml's TickSchedule), `shiplog serve` on its own clock. It
// reads the list of projects once, for every piece of work; each piece reads further only for the
// projects it concerns. It answers what each piece did; an error is every piece's error, joined.
func (s *Service) Tick(ctx context.Context) ([]TickOutcome, error) {
	projects, err := s.Store.ListProjects(ctx)
	if err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	var errs []error
	out := make([]TickOutcome, 0, len(s.tickWorks()))
	for _, w := range s.tickWorks() {
		looked, acted, err := w.run(ctx, projects)
		o := TickOutcome{Work: w.name, Projects: looked, Actions: acted}
		if err != nil {
			o.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", w.name, err))
		}
		out = append(out, o)
	}
	return out, errors.Join(errs...)
}

// automateAll does the automation of every project with an auto_promote or auto_rollback
// environment (the others cost nothing past the list of projects): it rolls back the failures
// not rolled back yet, then auto-promotes. It answers the projects it looked at and the
// deployments it made.
func (s *Service) automateAll(ctx context.Context, projects []Project) (int, int, error) {
	looked, acted := 0, 0
	var errs []error
	for _, p := range projects {
		if !automated(p) {
			continue
		}
		looked++
		if slices.ContainsFunc(p.Environments, func(e Environment) bool { return e.AutoRollback }) {
			states, err := s.statesByID(ctx, p.ID)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
				continue
			}
			acted += s.rollBackFailures(ctx, p, states)
		}
		as, err := s.autoPromote(ctx, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
			continue
		}
		for _, a := range as {
			if a.DeploymentID != "" {
				acted++
			}
		}
	}
	return looked, acted, errors.Join(errs...)
}
