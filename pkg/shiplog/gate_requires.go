package shiplog

import (
	"fmt"
	"strings"
)

// requiresGate refuses a release that has not yet been verified in each environment the target
// environment requires (its promotion gates). A rollback passes it: the release it deploys again
// passed it when it was first deployed there.
type requiresGate struct{}

func (requiresGate) Name() string     { return "requires" }
func (requiresGate) BreakGlass() bool { return true }

func (requiresGate) Evaluate(in GateInput) Decision {
	env, r := in.Environment, in.Release
	if len(env.Requires) == 0 {
		return allow("%s requires no other environment first", env.ID)
	}
	if in.Kind == KindRollback {
		return allow("a rollback deploys again a release %s ran before: %s's requires are not checked", env.ID, env.ID)
	}
	var missing []string
	for _, req := range env.Requires {
		if !verifiedIn(r, req) {
			missing = append(missing, req)
		}
	}
	if len(missing) == 0 {
		return allow("release %s is verified in %s", r.ID, strings.Join(env.Requires, ", "))
	}
	return refuse(0, "release %s cannot be deployed to %s: %s requires a release verified in %s first, and this one has not been verified in %s; "+
		"deploy or promote it there and report it verified (or let ECS verify it) first (or, in an emergency, use an emergency deployment)",
		r.ID, env.ID, env.ID, strings.Join(env.Requires, ", "), strings.Join(missing, ", "))
}

// validateRequires checks the promotion gates of a project's environments: each names another
// environment of the project, once, and no environment requires itself through others.
func validateRequires(projectID string, envs []Environment) error {
	index := map[string]int{}
	for i, e := range envs {
		index[e.ID] = i
	}
	for i, e := range envs {
		seen := map[string]bool{}
		for j, req := range e.Requires {
			field := fmt.Sprintf("%s.environments[%d].requires[%d]", projectID, i, j)
			if err := ValidateID(field, req); err != nil {
				return err
			}
			if _, ok := index[req]; !ok {
				return Errorf(Invalid, "%s: %q is not an environment of %s; the environments are %s", field, req, projectID, strings.Join(ids(envs), ", "))
			}
			if req == e.ID {
				return Errorf(Invalid, "%s: environment %s cannot require itself", field, e.ID)
			}
			if seen[req] {
				return Errorf(Invalid, "%s: %q is listed twice", field, req)
			}
			seen[req] = true
		}
	}
	// A cycle would make every environment on it undeployable but by breaking glass.
	const (
		unvisited = iota
		visiting
		done
	)
	mark := make([]int, len(envs))
	var path []string
	var visit func(i int) error
	visit = func(i int) error {
		switch mark[i] {
		case visiting:
			return Errorf(Invalid, "%s.environments: the requires form a cycle (%s -> %s); no release could ever be deployed there",
				projectID, strings.Join(path, " -> "), envs[i].ID)
		case done:
			return nil
		}
		mark[i] = visiting
		path = append(path, envs[i].ID)
		for _, req := range envs[i].Requires {
			if err := visit(index[req]); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		mark[i] = done
		return nil
	}
	for i := range envs {
		if err := visit(i); err != nil {
			return err
		}
	}
	return nil
}

func ids(envs []Environment) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.ID
	}
	return out
}
