package shiplog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// Where the candidate of an auto-promoted environment that requires none comes from
// (Environment.AutoPromoteFrom): the newest release (the default, "release" in the manifest's
// long form), or the newest build ("latest"): the images under the latest label, released by
// shiplog when no release has them yet.
const (
	AutoPromoteFromRelease = "release"
	AutoPromoteFromLatest  = "latest"
)

// rollbackLookback is how many of an environment's newest deployments auto-promotion reads to
// tell whether its candidate failed or was rolled back there.
const rollbackLookback = 50

// validateAutomation checks an environment's auto_promote and auto_rollback.
func validateAutomation(field string, e Environment) error {
	switch e.AutoPromoteFrom {
	case "":
		return nil
	case AutoPromoteFromLatest:
	default:
		return Errorf(Invalid, "%s.auto_promote.from: %q is not %q (the newest build) or %q (the newest release)",
			field, clip(e.AutoPromoteFrom), AutoPromoteFromLatest, AutoPromoteFromRelease)
	}
	if !e.AutoPromote {
		return Errorf(Invalid, "%s.auto_promote.from: is set but auto_promote is not", field)
	}
	if len(e.Requires) > 0 {
		return Errorf(Invalid, "%s.auto_promote.from: %q applies only to an environment that requires no other (the first one); %s requires %s, so its candidate is the newest release verified there: write \"auto_promote\": true",
			field, e.AutoPromoteFrom, e.ID, strings.Join(e.Requires, ", "))
	}
	return nil
}

// AutoPromotion is what auto-promotion did, or would do, in one auto-promoted environment: the
// candidate release, and either the deployment it made, the gates that refuse the candidate (each
// with when it opens by itself, RetryAt, if it does), or why there is nothing to deploy.
type AutoPromotion struct {
	Environment string `json:"environment"`
	// ReleaseID is the candidate ("" when there is none); From the environment it was verified
	// in, for an environment that requires others.
	ReleaseID string `json:"release_id,omitempty"`
	From      string `json:"from,omitempty"`
	// DeploymentID is the deployment auto-promotion made now.
	DeploymentID string `json:"deployment_id,omitempty"`
	// Waiting are the decisions of the gates that refuse the candidate.
	Waiting []GateDecision `json:"waiting,omitempty"`
	// Idle says why there is nothing to deploy: no candidate, the environment runs it already,
	// or it failed or was rolled back there (until a newer release is the candidate).
	Idle string `json:"idle,omitempty"`
	// Error says what went wrong trying (AutoPromote's answer only; the log has it too).
	Error string `json:"error,omitempty"`
}

// autoPromoted reports whether some environment of p is auto-promoted.
func autoPromoted(p Project) bool {
	return slices.ContainsFunc(p.Environments, func(e Environment) bool { return e.AutoPromote })
}

// automated reports whether some environment of p is auto-promoted or auto-rolled back.
func automated(p Project) bool {
	return slices.ContainsFunc(p.Environments, func(e Environment) bool { return e.AutoPromote || e.AutoRollback })
}

// rollBackFailures rolls back the failed current deployments of p's auto_rollback environments
// that were not rolled back when they failed (recorded by a Service that does not automate, or
// a rollback that did not happen then: the function died, a person's lock refused it). It
// answers how many it rolled back.
func (s *Service) rollBackFailures(ctx context.Context, p Project, states map[string]*EnvironmentState) int {
	n := 0
	for _, env := range p.Environments {
		st := states[env.ID]
		if !env.AutoRollback || st == nil || st.Status != StatusFailed || st.DeploymentID == "" {
			continue
		}
		rec, err := s.deployment(ctx, p.ID, st.DeploymentID)
		if err != nil {
			s.logger().WarnContext(ctx, "auto-rollback", "project", p.ID, "environment", env.ID, "error", err)
			continue
		}
		if s.autoRollback(ctx, p, withStatus(rec)) {
			n++
		}
	}
	return n
}

// AutoPromote deploys, to each auto-promoted environment of a project (Environment.AutoPromote),
// its candidate release, if every gate passes it (never by breaking glass). Each deployment is
// requested by shiplog, and its deployment.requested event says it was automatic. It answers
// what it did, or why not, per auto-promoted environment; nothing when the project has none.
// Failures in one environment do not stop the others; they are in the answer and the log.
func (s *Service) AutoPromote(ctx context.Context, projectID string) ([]AutoPromotion, error) {
	p, err := s.Project(ctx, projectID)
	if err != nil {
		return nil, err
	}
	return s.autoPromote(ctx, p)
}

func (s *Service) autoPromote(ctx context.Context, p Project) ([]AutoPromotion, error) {
	if !autoPromoted(p) {
		return nil, nil
	}
	var buildErr error
	if slices.ContainsFunc(p.Environments, func(e Environment) bool { return e.AutoPromoteFrom == AutoPromoteFromLatest }) {
		buildErr = s.releaseNewestBuild(ctx, p)
	}
	states, err := s.statesByID(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	var out []AutoPromotion
	for _, env := range p.Environments {
		if !env.AutoPromote {
			continue
		}
		a, err := s.pendingIn(ctx, p, env, states)
		if err == nil && env.AutoPromoteFrom == AutoPromoteFromLatest && buildErr != nil && a.Idle != "" {
			err = buildErr
		}
		if err != nil {
			a.Error = err.Error()
			s.logger().WarnContext(ctx, "auto-promotion", "project", p.ID, "environment", env.ID, "error", err)
			out = append(out, a)
			continue
		}
		if a.ReleaseID != "" && a.Idle == "" && len(a.Waiting) == 0 {
			res, err := s.Deploy(ctx, autoDeployInput(p.ID, env.ID, a))
			if err != nil {
				a.Error = err.Error()
				s.logger().WarnContext(ctx, "auto-promotion", "project", p.ID, "environment", env.ID, "release", a.ReleaseID, "error", err)
			} else {
				a.DeploymentID = res.Deployment.ID
				s.logger().InfoContext(ctx, "auto-promotion", "project", p.ID, "environment", env.ID, "release", a.ReleaseID, "deployment", a.DeploymentID)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// autoDeployInput is the deploy auto-promotion makes of a's candidate: by shiplog, with a key
// per release, so that two runs at once (a tick and a verification) deploy it once.
func autoDeployInput(projectID, envID string, a AutoPromotion) DeployInput {
	in := DeployInput{
		ProjectID: projectID, Environment: envID, RequestedBy: shiplogPerson,
		IdempotencyKey: "auto-promote-" + a.ReleaseID,
	}
	if a.From != "" {
		in.FromEnvironment = a.From
		in.Description = fmt.Sprintf("automatic promotion of release %s, verified in %s", a.ReleaseID, a.From)
	} else {
		in.ReleaseID = a.ReleaseID
		in.Description = fmt.Sprintf("automatic deployment of the newest release, %s", a.ReleaseID)
	}
	return in
}

// statesByID reads every environment state of a project, in one read.
func (s *Service) statesByID(ctx context.Context, projectID string) (map[string]*EnvironmentState, error) {
	states, err := s.Store.EnvironmentStates(ctx, projectID)
	if err != nil {
		return nil, fmt.Errorf("environments of %s: %w", projectID, err)
	}
	out := make(map[string]*EnvironmentState, len(states))
	for i := range states {
		out[states[i].Environment.ID] = &states[i]
	}
	return out, nil
}

// pendingIn works out an auto-promoted environment's candidate and what it waits for, with the
// gates a deploy evaluates (the plan's), writing nothing.
func (s *Service) pendingIn(ctx context.Context, p Project, env Environment, states map[string]*EnvironmentState) (AutoPromotion, error) {
	a := AutoPromotion{Environment: env.ID}
	if len(env.Requires) == 0 {
		r, err := s.Store.LatestRelease(ctx, p.ID)
		if errors.Is(err, ErrReleaseNotFound) {
			a.Idle = p.ID + " has no release yet"
			return a, nil
		}
		if err != nil {
			return a, fmt.Errorf("newest release of %s: %w", p.ID, err)
		}
		a.ReleaseID = r.ID
	} else {
		// The newest release that runs verified in an environment this one requires; the
		// requires gate then checks that it was verified in all of them.
		for _, req := range env.Requires {
			st := states[req]
			if st == nil || st.ReleaseID == "" || (st.Status != StatusVerified && st.Status != "") {
				continue
			}
			if st.ReleaseID > a.ReleaseID {
				a.ReleaseID, a.From = st.ReleaseID, req
			}
		}
		if a.ReleaseID == "" {
			a.Idle = fmt.Sprintf("no release runs verified in %s", strings.Join(env.Requires, " or "))
			return a, nil
		}
	}
	if st := states[env.ID]; st != nil && st.ReleaseID == a.ReleaseID {
		a.Idle = fmt.Sprintf("%s runs release %s already", env.ID, a.ReleaseID)
		return a, nil
	}
	why, err := s.failedIn(ctx, p.ID, env.ID, a.ReleaseID)
	if err != nil {
		return a, err
	}
	if why != "" {
		a.Idle = why + "; it is not promoted there again: a newer release will be"
		return a, nil
	}
	in := autoDeployInput(p.ID, env.ID, a)
	req := deployRequest{DeployInput: in, releaseID: a.ReleaseID, by: shiplogPerson, kind: KindDeploy}
	if a.From != "" {
		req.kind = KindPromote
	}
	rd, err := s.readDeploy(ctx, req)
	if err != nil {
		return a, err
	}
	for _, g := range rd.gates {
		if !g.Allow {
			a.Waiting = append(a.Waiting, g)
		}
	}
	if rd.refusal != nil && len(a.Waiting) == 0 {
		a.Idle = MessageOf(rd.refusal)
	}
	return a, nil
}

// failedIn says whether release failed, or was rolled back, in the environment, among its newest
// rollbackLookback deployments ("" if not): such a release stays out (kargo #3016).
func (s *Service) failedIn(ctx context.Context, projectID, envID, releaseID string) (string, error) {
	got, err := s.Store.ListDeployments(ctx, projectID, DeploymentFilter{Environment: envID}, PageRequest{Limit: rollbackLookback})
	if err != nil {
		return "", fmt.Errorf("deployments of %s/%s: %w", projectID, envID, err)
	}
	release := make(map[string]string, len(got.Items))
	for _, d := range got.Items {
		release[d.ID] = d.ReleaseID
	}
	for _, d := range got.Items {
		switch {
		case d.Kind == KindRollback && d.Reverts != "" && release[d.Reverts] == releaseID:
			return fmt.Sprintf("release %s was rolled back in %s (rollback %s)", releaseID, envID, d.ID), nil
		case d.ReleaseID == releaseID && d.Status == StatusFailed:
			return fmt.Sprintf("release %s failed in %s (deployment %s)", releaseID, envID, d.ID), nil
		}
	}
	return "", nil
}

// releaseNewestBuild creates, by shiplog, a release of the images under the latest label, unless
// the newest release has them already (or latest is incomplete, which waits for the pushes).
func (s *Service) releaseNewestBuild(ctx context.Context, p Project) error {
	images, err := s.labelImages(ctx, p, LatestLabel, p.Services())
	if IsKind(err, Conflict) {
		return nil // a service has no image under latest yet
	}
	if err != nil {
		return err
	}
	newest, err := s.Store.LatestRelease(ctx, p.ID)
	switch {
	case errors.Is(err, ErrReleaseNotFound):
	case err != nil:
		return fmt.Errorf("newest release of %s: %w", p.ID, err)
	case sameImages(newest.Images, images):
		return nil
	}
	sum := sha256.New()
	for _, svc := range slices.Sorted(maps.Keys(images)) {
		fmt.Fprintf(sum, "%s=%s\n", svc, images[svc])
	}
	r, err := s.createRelease(ctx, CreateReleaseInput{
		ProjectID: p.ID, Label: LatestLabel, RequestedBy: shiplogPerson,
		Description:    "automatic release of the newest build",
		IdempotencyKey: "auto-build-" + hex.EncodeToString(sum.Sum(nil))[:32],
	}, nil)
	if err != nil {
		return fmt.Errorf("release of the newest build of %s: %w", p.ID, err)
	}
	s.logger().InfoContext(ctx, "auto-promotion: released the newest build", "project", p.ID, "release", r.ID)
	return nil
}

// sameImages reports whether two services-to-images maps name the same images.
func sameImages(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !SameImage(v, w) {
			return false
		}
	}
	return true
}

// afterStatus is what follows a deployment's new status, once it is recorded, where the
// Service automates (Automate; elsewhere the tick does it): a failure in an
// environment with auto_rollback rolls it back; a verification promotes onwards. Neither can
// undo or delay the record, which has been written; their failures go to the log.
func (s *Service) afterStatus(ctx context.Context, rec DeploymentRecord, changed, current bool) {
	if !s.Automate || !current || (rec.Status != StatusFailed && rec.Status != StatusVerified) || (rec.Status == StatusVerified && !changed) {
		return
	}
	p, err := s.Project(ctx, rec.ProjectID)
	if err != nil {
		s.logger().WarnContext(ctx, "automation after a status", "project", rec.ProjectID, "deployment", rec.ID, "error", err)
		return
	}
	switch rec.Status {
	case StatusFailed:
		s.autoRollback(ctx, p, rec)
	case StatusVerified:
		if _, err := s.autoPromote(ctx, p); err != nil {
			s.logger().WarnContext(ctx, "auto-promotion after a verification", "project", p.ID, "deployment", rec.ID, "error", err)
		}
	}
}

// autoRollback rolls back a failed deployment of an environment with auto_rollback, by shiplog,
// to the release the environment ran before, with a hold that names the failure. A rollback
// that fails is not rolled back (that would deploy the failed release again). The rollback's
// key is the failed deployment's, so that a failure reported twice (an event delivered again)
// rolls back once; a failure reported again after a rollback that did not happen (the function
// died) tries again.
func (s *Service) autoRollback(ctx context.Context, p Project, rec DeploymentRecord) bool {
	env, ok := p.Environment(rec.Environment.ID)
	if !ok || !env.AutoRollback {
		return false
	}
	log := s.logger().With("project", p.ID, "environment", env.ID, "deployment", rec.ID)
	if rec.Kind == KindRollback {
		log.WarnContext(ctx, "auto-rollback: a failed rollback is not rolled back again; a person decides")
		return false
	}
	detail := "no detail"
	for i := len(rec.StatusHistory) - 1; i >= 0; i-- {
		if e := rec.StatusHistory[i]; e.Status == StatusFailed {
			detail = e.By.Name + ": " + e.Detail
			if e.Detail == "" {
				detail = "reported failed by " + e.By.Name
			}
			break
		}
	}
	reason := cleanText(fmt.Sprintf("automatic rollback: deployment %s of release %s failed (%s)", rec.ID, rec.ReleaseID, detail), MaxDescriptionLength)
	in := RollbackInput{ProjectID: p.ID, Environment: env.ID, Reason: reason, Hold: true, RequestedBy: shiplogPerson, IdempotencyKey: "auto-rollback-" + rec.ID}
	hash := requestHash("rollback", in)
	if res, found, err := s.replayStored(ctx, in.ProjectID, in.Environment, in.IdempotencyKey, hash); found || err != nil {
		if err != nil {
			log.WarnContext(ctx, "auto-rollback", "error", err)
		}
		_ = res
		return false
	}
	req, err := s.newRollbackRequest(ctx, in)
	if IsKind(err, Conflict) {
		// Nothing ran before it: the tick finds the failure again, so this is not a warning.
		log.InfoContext(ctx, "auto-rollback: nothing to roll back to", "reason", MessageOf(err))
		return false
	}
	if err != nil {
		log.WarnContext(ctx, "auto-rollback", "error", err)
		return false
	}
	if req.reverts != rec.ID {
		log.InfoContext(ctx, "auto-rollback: the failed deployment is no longer current", "current", req.reverts)
		return false
	}
	req.hash = hash
	res, err := s.deployInTurn(ctx, req)
	if err != nil {
		log.WarnContext(ctx, "auto-rollback", "error", err)
		return false
	}
	log.InfoContext(ctx, "auto-rollback", "rollback", res.Deployment.ID, "release", res.Release.ID)
	return true
}

// logger is the Service's log, or one that discards, for a Service built without one.
func (s *Service) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
