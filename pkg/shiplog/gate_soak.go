package shiplog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// soakGate refuses a release that has not soaked long enough in the environments whose requires
// entry names a soak ({"environment": "stage", "soak": "30m"}): it must have been verified there
// at least that long ago, with no failure of it there since. A rollback passes it, as it passes
// the requires gate.
type soakGate struct{}

func (soakGate) Name() string     { return "soak" }
func (soakGate) BreakGlass() bool { return true }

func (soakGate) Evaluate(in GateInput) Decision {
	env, r := in.Environment, in.Release
	if len(env.Soak) == 0 {
		return allow("%s requires no soak", env.ID)
	}
	if in.Kind == KindRollback {
		return allow("a rollback deploys again a release %s ran before: %s's soaks are not checked", env.ID, env.ID)
	}
	var passed, refused []string
	var wait time.Duration
	waits := true // every refusal ends by itself
	for _, req := range env.Requires {
		need, ok := env.Soak[req]
		if !ok {
			continue
		}
		soak := time.Duration(need) * time.Second
		s := soakOf(r, req)
		switch {
		case s.verifiedAt == 0 && s.failedAt != 0:
			refused = append(refused, fmt.Sprintf("it failed in %s at %s (deployment %s) and has not been verified there since", req, unixTime(s.failedAt), s.failedBy))
			waits = false
		case s.verifiedAt == 0:
			refused = append(refused, fmt.Sprintf("it has not been verified in %s yet, and must soak %s there once it is", req, soak))
			waits = false
		default:
			soaked := in.Now.Sub(time.Unix(s.verifiedAt, 0))
			if soaked >= soak {
				passed = append(passed, fmt.Sprintf("%s in %s (%s required)", roundDuration(soaked), req, soak))
				continue
			}
			refused = append(refused, fmt.Sprintf("it has soaked %s in %s since it was verified at %s, of the %s required, until %s",
				roundDuration(soaked), req, unixTime(s.verifiedAt), soak, unixTime(s.verifiedAt+need)))
			wait = max(wait, soak-soaked)
		}
	}
	if len(refused) == 0 {
		return allow("release %s has soaked %s with no failure since", r.ID, strings.Join(passed, ", "))
	}
	if !waits {
		wait = 0
	}
	return refuse(wait, "release %s cannot be deployed to %s yet: %s; %s requires a release to soak after it is verified upstream, with no failure since (or, in an emergency, use an emergency deployment)",
		r.ID, env.ID, strings.Join(refused, "; "), env.ID)
}

// soak is what a release's deployments to one environment say about its soak there: when it was
// first verified after its last failure there (0: not since), and that failure (0: none).
type soak struct {
	verifiedAt int64
	failedAt   int64
	failedBy   string
}

// soakOf reads the soak of r in env from r's deployments (the newest ReleaseDeploymentsShown of
// them) and their status histories.
func soakOf(r Release, env string) soak {
	var s soak
	for _, d := range r.Deployments {
		if d.Environment.ID != env {
			continue
		}
		for _, e := range d.StatusHistory {
			if e.Status == StatusFailed && e.At >= s.failedAt {
				s.failedAt, s.failedBy = e.At, d.ID
			}
		}
	}
	for _, d := range r.Deployments {
		if d.Environment.ID != env {
			continue
		}
		for _, e := range d.StatusHistory {
			if e.Status == StatusVerified && (s.failedAt == 0 || e.At > s.failedAt) && (s.verifiedAt == 0 || e.At < s.verifiedAt) {
				s.verifiedAt = e.At
			}
		}
	}
	return s
}

// roundDuration shows a duration to the second.
func roundDuration(d time.Duration) time.Duration { return d.Round(time.Second) }

// validateSoak checks an environment's soaks: each names one of its requires, and lasts from a
// second to MaxSoak.
func validateSoak(field string, e Environment) error {
	for _, req := range sortedKeys(e.Soak) {
		secs := e.Soak[req]
		j := slices.Index(e.Requires, req)
		if j < 0 {
			return Errorf(Invalid, "%s.soak: %q is not one of the environments it requires (%s); a soak applies to a requires entry", field, req, strings.Join(e.Requires, ", "))
		}
		f := fmt.Sprintf("%s.requires[%d].soak", field, j)
		if secs <= 0 {
			return Errorf(Invalid, "%s: must be positive; leave soak out for none", f)
		}
		if secs > int64(MaxSoak/time.Second) {
			return Errorf(Invalid, "%s: %ds is longer than the limit of %s (MaxSoak); for a longer stop, use a freeze", f, secs, MaxSoak)
		}
	}
	return nil
}
