package shiplog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shiplog/shiplog/pkg/backoff"
	"github.com/shiplog/shiplog/pkg/logctx"
)

// DeployInput is a request to deploy a release to an environment.
type DeployInput struct {
	ProjectID string
	ReleaseID string // or "latest"
	// FromEnvironment, in place of ReleaseID, promotes the release deployed there.
	FromEnvironment string
	Environment     string
	Description     string
	RequestedBy     Person
	// OverrideReason makes the deploy a break-glass one: it passes the environment's lock and its
	// promotion gates, and the deployment records the override.
	OverrideReason string
	// IdempotencyKey, if set, makes a retry of the same request answer the original result and
	// write nothing; the same key with another request is refused.
	IdempotencyKey string
}

// DeployResult is the recorded deployment and the release as it now stands.
type DeployResult struct {
	Deployment Deployment `json:"deployment"`
	Release    Release    `json:"release"`
}

// deployRequest is a validated deploy, its release resolved: an id, or LatestRelease, which the
// store resolves in the read of each attempt (DeployContext), so that it costs no read of its own
// and every attempt deploys the newest release there is.
type deployRequest struct {
	DeployInput
	releaseID string
	by        Person
	kind      string
	// reverts and hold are a rollback's: the deployment it undoes (which must still be the
	// environment's current one), and whether it locks the environment too.
	reverts string
	hold    bool
	// hash identifies the request for its idempotency key.
	hash string
	// retry names this deploy's attempts once an earlier one waited or lost a race
	// (EnvironmentWrite.Retry); empty on the first attempt.
	retry string
}

// Deploy records a deployment of a release to an environment and points the environment's image
// parameters at the release's images, writing only the parameters that change.
//
// The order makes a failure at any step recoverable: the release is checked against the
// environment's rules (lock, promotion gates) and its images against the registry before anything
// is written; the deployment is recorded, with the environment write-locked and the services to
// write marked pending, in one atomic change; then the parameters are written and the environment
// settled. If writing fails, the services stay pending and the next deploy writes them.
//
// Deploys to one environment take turns: a deploy that finds another one writing, or that loses
// the race to record, waits (with jitter) and tries again, for up to DeployWait; only then does
// it answer Conflict.
func (s *Service) Deploy(ctx context.Context, in DeployInput) (DeployResult, error) {
	logctx.Add(ctx, logctx.Project, in.ProjectID, logctx.Environment, in.Environment)
	hash := requestHash("deploy", in)
	if res, found, err := s.replayStored(ctx, in.ProjectID, in.Environment, in.IdempotencyKey, hash); found || err != nil {
		return res, err
	}
	req, err := s.newDeployRequest(ctx, in)
	if err != nil {
		return DeployResult{}, err
	}
	req.hash = hash
	return s.deployInTurn(ctx, req)
}

// newDeployRequest validates a deploy and resolves the release of the environment it promotes
// from; "latest" is left to the store.
func (s *Service) newDeployRequest(ctx context.Context, in DeployInput) (deployRequest, error) {
	req := deployRequest{DeployInput: in, kind: KindDeploy}
	if err := in.Validate(); err != nil {
		return req, err
	}
	req.by = normalizePerson(in.RequestedBy)
	var err error
	switch {
	case in.FromEnvironment != "":
		if req.releaseID, err = s.promotedRelease(ctx, in); err != nil {
			return req, err
		}
		req.kind = KindPromote
	default:
		req.releaseID = in.ReleaseID
	}
	return req, nil
}

// promotedRelease returns the release deployed in the environment a promotion takes it from.
func (s *Service) promotedRelease(ctx context.Context, in DeployInput) (string, error) {
	if in.FromEnvironment == in.Environment {
		return "", Errorf(Invalid, "from_environment: is the environment deployed to (%s); promote from another one", in.Environment)
	}
	p, err := s.Project(ctx, in.ProjectID)
	if err != nil {
		return "", err
	}
	if _, err := environmentOf(p, in.FromEnvironment); err != nil {
		return "", err
	}
	st, err := s.environmentState(ctx, in.ProjectID, in.FromEnvironment)
	if err != nil {
		return "", err
	}
	if st == nil || st.ReleaseID == "" {
		return "", Errorf(Conflict, "cannot promote from %s to %s: nothing is deployed in %s yet", in.FromEnvironment, in.Environment, in.FromEnvironment)
	}
	return st.ReleaseID, nil
}

// errBusy says that another deployment holds the environment's write lock.
type errBusy struct{ holder EnvironmentState }

func (e errBusy) Error() string { return "environment locked by deployment " + e.holder.DeploymentID }

// errLost says that the deploy lost the race to record over version of the environment.
type errLost struct {
	version int64
	err     error
}

func (e errLost) Error() string { return e.err.Error() }
func (e errLost) Unwrap() error { return e.err }

// deployInTurn runs deployOnce until it is the environment's turn or DeployWait has passed.
//
// Between attempts it reads only the environment's state, and attempts again once no other
// deployment holds the lock, nor (for up to raceWait) is still recording over the version this
// deploy lost the race on: whoever waits on an environment finds it free at the same moment, and
// reading all of a deploy, and writing, again each time costs the store far more.
func (s *Service) deployInTurn(ctx context.Context, in deployRequest) (DeployResult, error) {
	start := s.Now()
	waits := deployBackoff.Waits(s.Sleep)
	request := strconv.FormatUint(mrand.Uint64(), 36)
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			in.retry = request
		}
		res, err := s.deployOnce(ctx, in)
		var busy errBusy
		isBusy := errors.As(err, &busy)
		// Only a deploy that found the environment busy, or lost the race to record, tries
		// again: a conflict after its record (its settle finding that another deploy took the
		// environment over) would record it a second time.
		var lost errLost
		raced := errors.As(err, &lost)
		if !isBusy && !raced {
			return res, err
		}
		lostAt := s.Now()
		for {
			waited := s.Now().Sub(start)
			if waited >= s.DeployWait {
				return DeployResult{}, waitedTooLong(in, busy, isBusy, waited, attempt)
			}
			if err := waits.Wait(ctx); err != nil {
				return DeployResult{}, Wrap(Unavailable, err, "deploy to %s/%s: gave up waiting for its turn", in.ProjectID, in.Environment)
			}
			st, err := s.environmentState(ctx, in.ProjectID, in.Environment)
			if err != nil {
				return DeployResult{}, err
			}
			now := s.Now()
			if st != nil && st.LockedUntil > now.Unix() {
				busy, isBusy = errBusy{*st}, true
				continue
			}
			var version int64
			if st != nil {
				version = st.Version
			}
			if !raced || version != lost.version || now.Sub(lostAt) >= raceWait {
				break
			}
		}
	}
}

// raceWait bounds how long a deploy that lost the race to record waits for the winner's record
// to show before it reads everything again: a winner may die before it writes.
const raceWait = time.Second

// deployBackoff spaces a deploy's attempts, and the writes of an environment's state that lose to
// other writers: jittered, so that deploys waiting on one environment do not all try again at
// the same moment.
var deployBackoff = backoff.Policy{First: 10 * time.Millisecond, Max: 250 * time.Millisecond}

func waitedTooLong(in deployRequest, busy errBusy, isBusy bool, waited time.Duration, attempts int) error {
	waited = waited.Round(time.Second)
	if isBusy {
		h := busy.holder
		return Errorf(Conflict, "deployment %s (by %s) is still writing the parameters of %s/%s after %s of waiting; "+
			"its lock expires at %s at the latest, when the next deploy takes over",
			h.DeploymentID, h.RequestedBy.ID, in.ProjectID, in.Environment, waited,
			time.Unix(h.LockedUntil, 0).UTC().Format(time.RFC3339))
	}
	return Errorf(Conflict, "%s/%s kept changing under this deploy: %d attempts in %s lost the race to other deploys; retry",
		in.ProjectID, in.Environment, attempts, waited)
}

// deployRead is what a deploy has read and checked, before it writes anything.
type deployRead struct {
	dc  DeployContext
	env Environment
	// refusal is why the deploy may not go ahead (a Conflict), nil if it may.
	refusal error
	// gates are every gate's decision (none if the deploy was refused before them).
	gates []GateDecision
}

// readDeploy reads the project, the release and the environment, and checks the deploy against
// the environment's rules and the release's images against the registry. Only what makes the
// request itself wrong (an unknown project, release or environment) is an error; what the
// environment's state forbids is the read's refusal, so that a plan can show it.
func (s *Service) readDeploy(ctx context.Context, in deployRequest) (deployRead, error) {
	dc, err := s.Store.DeployContext(ctx, in.ProjectID, in.releaseID, in.Environment)
	if err != nil {
		return deployRead{}, s.notFound(err, in.ProjectID, in.releaseID)
	}
	env, err := environmentOf(dc.Project, in.Environment)
	if err != nil {
		return deployRead{}, err
	}
	rd := deployRead{dc: dc, env: env}
	// The soak gate reads the release's deployments and their statuses, which the deploy's read
	// leaves out: only a deploy to an environment with a soak pays for the read.
	gated := dc.Release
	if len(env.Soak) > 0 && in.kind != KindRollback {
		full, err := s.withDeployments(ctx, dc.Release)
		if err != nil {
			return deployRead{}, err
		}
		gated.Deployments = full.Deployments
	}
	// Likewise the approvals gate reads the release's approvals for the environment only when
	// the environment requires approvals: one bounded query.
	var approvals []Approval
	if env.Approvals != nil && in.kind != KindRollback {
		if approvals, err = s.Store.ListApprovals(ctx, in.ProjectID, env.ID, dc.Release.ID); err != nil {
			return deployRead{}, fmt.Errorf("list approvals of %s for %s/%s: %w", dc.Release.ID, in.ProjectID, env.ID, err)
		}
	}
	reads, err := s.readGateInputs(ctx, in, env, dc.Release)
	if err != nil {
		return deployRead{}, err
	}
	reads.Approvals = approvals
	gates, err := s.checkRules(in, dc, env, gated, reads)
	rd.gates = gates
	if err != nil {
		if !IsKind(err, Conflict) {
			return deployRead{}, err
		}
		rd.refusal = err
	}
	return rd, nil
}

// readGateInputs reads what the alarms and findings gates decide on, from CloudWatch and ECR:
// only for a deploy (not a rollback, which both let through) to an environment that names
// alarms or a max_finding_severity, so that no other deploy pays for the reads. A read that
// cannot be made (no access) is left for the gate to refuse; one that fails is the deploy's error.
func (s *Service) readGateInputs(ctx context.Context, in deployRequest, env Environment, r Release) (GateInput, error) {
	var gin GateInput
	if in.kind == KindRollback {
		return gin, nil
	}
	var err error
	if len(env.Alarms) > 0 {
		if gin.Alarms, gin.AlarmsUnread, err = s.readAlarms(ctx, env, sessionName(in.by)); err != nil {
			return gin, err
		}
	}
	if env.MaxFindingSeverity != "" {
		if gin.Findings, gin.FindingsUnread, err = s.readFindings(ctx, r); err != nil {
			return gin, err
		}
	}
	return gin, nil
}

// checkRules checks a deploy against the environment's rules: a keyed deploy must find room for
// its key; a rollback must undo what is current; and every gate (Gates) decides, a break-glass
// deploy passing those that break glass passes; release is the deploy's, with its deployments
// when a gate needs them. It answers every gate's decision, and the refusal (a Conflict), if any.
func (s *Service) checkRules(in deployRequest, dc DeployContext, env Environment, release Release, reads GateInput) ([]GateDecision, error) {
	now := s.Now()
	if err := checkKeyRoom(dc.Current, in.ProjectID, in.IdempotencyKey, now); err != nil {
		return nil, err
	}
	if in.kind == KindRollback && (dc.Current == nil || dc.Current.DeploymentID != in.reverts) {
		return nil, Errorf(Conflict, "%s/%s changed while the rollback was prepared: deployment %s is no longer current; look again and retry",
			in.ProjectID, in.Environment, in.reverts)
	}
	gin := reads
	gin.ProjectID, gin.Environment, gin.Release, gin.Current, gin.Kind, gin.RequestedBy, gin.Now = in.ProjectID, env, release, dc.Current, in.kind, in.by, now
	return evaluateGates(Gates, gin, in.OverrideReason != "")
}

// deployOnce reads the environment, checks the release against it, records the deployment as the
// environment's next version, writes the parameters and settles.
func (s *Service) deployOnce(ctx context.Context, in deployRequest) (DeployResult, error) {
	rd, err := s.readDeploy(ctx, in)
	if err != nil {
		return DeployResult{}, err
	}
	// Another call with the same key may have recorded since this one looked.
	if res, found, err := s.replay(ctx, rd.dc.Current, in.IdempotencyKey, in.hash); found || err != nil {
		return res, err
	}
	if rd.refusal != nil {
		if s.Observer != nil {
			s.Observer.DeployRefused(ctx, in.ProjectID, in.Environment, in.kind, refusingGate(rd.gates))
		}
		return DeployResult{}, rd.refusal
	}
	dc, env := rd.dc, rd.env
	now := s.Now()
	prev := dc.Current
	if prev != nil && prev.LockedUntil > now.Unix() {
		return DeployResult{}, errBusy{*prev}
	}
	untagged, err := s.checkRelease(ctx, dc.Project, dc.Release, env)
	if err != nil {
		return DeployResult{}, err
	}
	// The parameters are reached before anything is recorded: a role that cannot be assumed
	// refuses the deploy with nothing written.
	params, err := s.paramsAt(ctx, env, sessionName(in.by))
	if err != nil {
		return DeployResult{}, err
	}
	if err := s.checkPulled(ctx, dc.Release, env, sessionName(in.by)); err != nil {
		return DeployResult{}, err
	}

	toWrite := changedServices(prev, dc.Release.Images)
	leads := leadsOf(prev, dc.Release)
	changes := changesOf(prev, dc.Release.Images, ParameterPath(dc.Project.ID, env.ID), toWrite)
	var before map[string]string
	if prev != nil {
		before = prev.Images
	}
	changes.Ranges = rangesOf(withRanges(diffImages(before, dc.Release.Images), stateSet(prev), releaseSet(dc.Release), in.kind == KindRollback))
	s.withCommits(ctx, changes.Ranges)
	d := Deployment{
		ID:           s.NewID(),
		Environment:  Environment{ID: env.ID, Name: env.Name},
		CreatedAt:    now.Unix(),
		RequestedBy:  in.by,
		Description:  in.Description,
		Kind:         in.kind,
		PromotedFrom: in.FromEnvironment,
		Reverts:      in.reverts,
		Changes:      &changes,
		Status:       StatusRequested,
		Leads:        leads,
	}
	d.StatusHistory = []StatusEntry{{Status: StatusRequested, At: d.CreatedAt, By: in.by}}
	logctx.Add(ctx, logctx.Deployment, d.ID)
	atomic := s.atomicParameters(dc.Project, env)
	switch {
	case len(toWrite) == 0:
		// Nothing to write: the environment runs the release's images already.
		d.Status = StatusApplied
		d.StatusHistory = append(d.StatusHistory, StatusEntry{Status: StatusApplied, At: d.CreatedAt, By: shiplogPerson, Detail: "no parameter to write"})
	case atomic != nil:
		// The parameters are written in the record's own write.
		d.Status = StatusApplied
		d.StatusHistory = append(d.StatusHistory, StatusEntry{Status: StatusApplied, At: d.CreatedAt, By: shiplogPerson, Detail: "every parameter written"})
	}
	d.Exceptions = exceptions(rd.gates)
	if in.OverrideReason != "" {
		d.Override = &Override{Reason: in.OverrideReason, By: in.by, Gates: overridden(rd.gates)}
	}
	var hold *EnvironmentLock
	if in.hold {
		hold = &EnvironmentLock{Environment: env.ID, Reason: in.Description, LockedBy: in.by, LockedAt: d.CreatedAt, Rollback: d.ID}
	}
	key := RequestKey{Key: in.IdempotencyKey, Hash: in.hash, DeploymentID: d.ID, ReleaseID: dc.Release.ID, At: d.CreatedAt}
	state, err := s.record(ctx, prev, dc.Release, d, toWrite, len(untagged) > 0, hold, key, atomic, in.retry)
	if errors.Is(err, ErrVersionConflict) {
		var version int64
		if prev != nil {
			version = prev.Version
		}
		return DeployResult{}, errLost{version: version, err: err}
	}
	if err != nil {
		return DeployResult{}, err
	}
	if s.Observer != nil {
		s.Observer.DeploymentRecorded(ctx, dc.Project.ID, d)
	}
	if atomic != nil {
		return deployed(d, dc.Release), nil
	}
	if err := s.writeParameters(ctx, params, state, toWrite); err != nil {
		return DeployResult{}, err
	}
	// A deploy that moves tags holds the environment's write lock from the record to the settle,
	// as one that writes parameters does, and every deploy to it checks after the one before it
	// settled: the tags this deploy's check found were where it puts them (unless its lock
	// expired first, which only a deploy that hung for LockTTL sees).
	if len(untagged) > 0 {
		if err := s.Registry.TagImages(ctx, untagged, envTag(env)); err != nil {
			_, _ = s.settle(ctx, state, nil) // the lock expires if this fails too
			return DeployResult{}, Wrap(Unavailable, err, "deployment %s is recorded but tagging its images env.%s failed; deploy again to finish", d.ID, env.ID)
		}
		if len(toWrite) == 0 {
			if _, err := s.settle(ctx, state, nil); err != nil {
				return DeployResult{}, err
			}
		}
	}
	if len(toWrite) > 0 {
		at, err := s.settle(ctx, state, nil)
		if err != nil {
			return DeployResult{}, err
		}
		d.Status = StatusApplied
		d.StatusHistory = append(d.StatusHistory, StatusEntry{Status: StatusApplied, At: at, By: shiplogPerson, Detail: "every parameter written"})
	}
	return deployed(d, dc.Release), nil
}

// deployed is a deploy's answer: the deployment, and its release as it now stands.
func deployed(d Deployment, rel Release) DeployResult {
	rel.Deployments = []Deployment{} // the release's history is read with the release, not with a deploy
	rel.LastDateDeployed = d.CreatedAt
	rel.DeploymentCount++
	return DeployResult{Deployment: d, Release: rel}
}

// atomicParameters returns the store's atomic write of state and parameters (Service.Atomic),
// for a deploy that moves no ECR tag between the two (tagging needs the parameters written first
// and the settle after).
func (s *Service) atomicParameters(p Project, env Environment) AtomicParameters {
	if s.Atomic == nil || (p.TagDeployedImages && s.Registry != nil) || (s.Places != nil && !env.Placement.IsZero()) {
		return nil
	}
	return s.Atomic
}

// leadsOf works out the images that deploying r over prev runs for the first time in the
// environment (see Leads), from the push times of what ran there (prev.Pushed); nil if prev's
// state predates them, for then nobody knows.
func leadsOf(prev *EnvironmentState, r Release) *Leads {
	if prev != nil && !prev.PushedTracked && prev.DeploymentID != "" {
		return nil
	}
	var ran map[string]int64
	if prev != nil {
		ran = prev.Pushed
	}
	leads := &Leads{Images: []ImageLead{}}
	seen := map[string]bool{}
	for _, svc := range sortedKeys(r.Images) {
		uri := r.Images[svc]
		if seen[uri] {
			continue
		}
		seen[uri] = true
		at, ok := pushedAt(r, uri)
		if !ok {
			continue // no push time: no lead time
		}
		first := true
		for other, u := range r.Images {
			t, pushed := r.PushedAt[other]
			if high, before := ran[other]; u == uri && pushed && before && t <= high {
				first = false
			}
		}
		if first {
			leads.Images = append(leads.Images, ImageLead{URI: uri, PushedAt: at})
		}
	}
	return leads
}

// raisePushed is prev's Pushed (none if it predates it) raised by the push times of r's images.
func raisePushed(prev *EnvironmentState, r Release) map[string]int64 {
	out := map[string]int64{}
	if prev != nil && prev.PushedTracked {
		maps.Copy(out, prev.Pushed)
	}
	for svc, t := range r.PushedAt {
		if _, runs := r.Images[svc]; runs && t > out[svc] {
			out[svc] = t
		}
	}
	return out
}

// changesOf says what deploying images over prev changes, and which parameters under path it
// writes (those of toWrite).
func changesOf(prev *EnvironmentState, images map[string]string, path string, toWrite []string) Changes {
	c := Changes{Changed: []string{}, Added: []string{}, Removed: []string{}, ParametersWritten: []string{}}
	var before map[string]string
	if prev != nil {
		before = prev.Images
	}
	for _, sc := range diffImages(before, images) {
		switch sc.Change {
		case ChangeAdded:
			c.Added = append(c.Added, sc.Service)
		case ChangeRemoved:
			c.Removed = append(c.Removed, sc.Service)
		case ChangeChanged:
			c.Changed = append(c.Changed, sc.Service)
		}
	}
	for _, svc := range toWrite {
		c.ParametersWritten = append(c.ParametersWritten, path+svc)
	}
	return c
}

// checkRelease refuses, before anything is written, a release whose images are gone from the
// registry or cannot all carry the environment's tag. For a project that tags its deployed
// images, it answers those that do not carry the environment's tag yet, read in the same check.
func (s *Service) checkRelease(ctx context.Context, p Project, r Release, env Environment) ([]string, error) {
	if s.Registry == nil {
		return nil, nil
	}
	tag := ""
	if p.TagDeployedImages {
		if err := checkTaggable(r, env); err != nil {
			return nil, err
		}
		tag = envTag(env)
	}
	return s.checkImages(ctx, r, tag)
}

// EnvTagPrefix begins every tag shiplog writes: a project with tag_deployed_images has
// EnvTagPrefix+environment moved onto the images deployed there. ECR reports each move as a push
// of a deployed (older) image, which RecordPush and the template's ECR rule ignore.
const EnvTagPrefix = "env."

// envTag is the tag a project with tag_deployed_images moves onto the images deployed to env.
func envTag(env Environment) string { return EnvTagPrefix + env.ID }

// record writes the environment's next state with the deployment, locked while the changed
// services' parameters are written (they are pending until then).
//
// With atomic, the parameters are written in the same write, and the state is settled at once.
//
// The environment is write-locked until the settle when parameters are to be written, or tags
// moved: either must not interleave with another deploy's.
func (s *Service) record(ctx context.Context, prev *EnvironmentState, r Release, d Deployment, changed []string, tagging bool, hold *EnvironmentLock, key RequestKey, atomic AtomicParameters, retry string) (EnvironmentState, error) {
	next := EnvironmentState{
		ProjectID:    r.ProjectID,
		Environment:  d.Environment,
		ReleaseID:    r.ID,
		DeploymentID: d.ID,
		DeployedAt:   d.CreatedAt,
		RequestedBy:  d.RequestedBy,
		Description:  d.Description,
		Images:       r.Images,
		Sources:      r.Sources,
		PushedAt:     r.PushedAt,
		Pending:      changed,
		Lock:         hold,
		Status:       d.Status,
		// What ran here, by push time, so that the next deploy tells the images it runs first.
		Pushed:        raisePushed(prev, r),
		PushedTracked: true,
	}
	var keys []RequestKey
	if prev != nil {
		keys = prev.Requests
	}
	next.Requests = rememberKey(keys, key, s.Now())
	if prev != nil {
		next.Freezes = prev.Freezes
		if hold == nil {
			next.Lock = prev.Lock // an override passes a lock, and leaves it in place
		}
	}
	if (len(changed) > 0 || tagging) && atomic == nil {
		next.LockedUntil = s.Now().Add(s.LockTTL).Unix()
	}
	var params map[string]string
	if atomic != nil {
		next.Pending = nil
		params = make(map[string]string, len(changed))
		for _, svc := range changed {
			params[ParameterName(r.ProjectID, d.Environment.ID, svc)] = r.Images[svc]
		}
	}
	w := prev.Next(next)
	w.Retry = retry
	w.Deployment = &DeploymentRecord{Deployment: d, ProjectID: r.ProjectID, ReleaseID: r.ID}
	w.Statuses = supersede(prev, d.RequestedBy, d.CreatedAt, d.ID)
	w.Events = append(w.Events, s.deploymentEvent(r.ProjectID, r.ID, d))
	if d.Status == StatusApplied {
		w.Events = append(w.Events, s.statusEvents([]StatusUpdate{{
			ProjectID: r.ProjectID, ReleaseID: r.ID, Environment: d.Environment.ID, DeploymentID: d.ID, Entry: d.StatusHistory[len(d.StatusHistory)-1],
		}})...)
	}
	w.Events = append(w.Events, s.statusEvents(w.Statuses)...)
	w.Events = append(w.Events, s.stateEvents(prev, w.State, d.RequestedBy, d.CreatedAt)...)
	var err error
	if atomic != nil {
		err = atomic.WriteEnvironmentAndParameters(ctx, w, params)
	} else {
		err = s.Store.WriteEnvironment(ctx, w)
	}
	switch {
	case err == nil:
		return w.State, nil
	case errors.Is(err, ErrVersionConflict):
		return EnvironmentState{}, err
	case errors.Is(err, ErrReleaseNotFound):
		return EnvironmentState{}, s.notFound(err, r.ProjectID, r.ID)
	case errors.Is(err, ErrEnvironmentNotFound):
		return EnvironmentState{}, Wrap(NotFound, err, "environment %q is no longer one of %s's: a registration dropped it while deployment %s was being recorded, which was not recorded",
			d.Environment.ID, r.ProjectID, d.ID)
	case errors.Is(err, ErrDeploymentExists):
		return EnvironmentState{}, Wrap(Internal, err, "deployment id %s was issued twice", d.ID)
	}
	return EnvironmentState{}, fmt.Errorf("record deployment %s: %w", d.ID, err)
}

// writeParameters points the changed services' parameters, in params (the environment's
// account and region), at the state's images. If that fails, the services stay pending and the
// lock is released, so that the next deploy finishes the job.
func (s *Service) writeParameters(ctx context.Context, params ParameterStore, state EnvironmentState, changed []string) error {
	if len(changed) == 0 {
		return nil
	}
	values := make(map[string]string, len(changed))
	for _, svc := range changed {
		values[ParameterName(state.ProjectID, state.Environment.ID, svc)] = state.Images[svc]
	}
	if err := params.PutParameters(ctx, values); err != nil {
		if _, serr := s.settle(ctx, state, changed); serr != nil {
			s.Log.ErrorContext(ctx, "release lock after failed writes", "deployment", state.DeploymentID, "err", serr)
		}
		return Wrap(Unavailable, err,
			"deployment %s is recorded but writing its parameters failed; deploy again to finish", state.DeploymentID)
	}
	return nil
}

// settle writes the state's next version with the write lock released and pending as given. If
// the state has moved on meanwhile while the deployment is still the current one (a person locked
// or unlocked the environment), it settles the newer version. It answers the time it marked the
// deployment applied (when nothing is left pending).
func (s *Service) settle(ctx context.Context, state EnvironmentState, pending []string) (int64, error) {
	cur := state
	at := s.Now().Unix()
	for attempt := 0; ; attempt++ {
		next := cur
		next.Pending = pending
		next.LockedUntil = 0
		w := cur.Next(next)
		if len(pending) == 0 {
			w.Statuses = applied(cur, at)
			if len(w.Statuses) > 0 {
				w.State.Status = StatusApplied
			}
			w.Events = s.statusEvents(w.Statuses)
		}
		err := s.Store.WriteEnvironment(ctx, w)
		if err == nil {
			return at, nil
		}
		if !errors.Is(err, ErrVersionConflict) {
			return 0, fmt.Errorf("settle deployment %s: %w", state.DeploymentID, err)
		}
		now, rerr := s.environmentState(ctx, state.ProjectID, state.Environment.ID)
		if rerr != nil {
			return 0, fmt.Errorf("settle deployment %s: %w", state.DeploymentID, rerr)
		}
		if now == nil || now.DeploymentID != state.DeploymentID || attempt >= settleAttempts {
			return 0, Wrap(Conflict, err, "deployment %s wrote its parameters after its lock of %s/%s had expired and another deployment took over; check the environment",
				state.DeploymentID, state.ProjectID, state.Environment.ID)
		}
		cur = *now
	}
}

// settleAttempts bounds how often settle reads again a state that people keep changing.
const settleAttempts = 8

// changedServices returns the services whose environment parameter must be written: those whose
// image differs from what the environment has, and those a failed deployment left pending.
func changedServices(prev *EnvironmentState, images map[string]string) []string {
	set := map[string]bool{}
	for svc, uri := range images {
		if prev == nil || prev.Images[svc] != uri {
			set[svc] = true
		}
	}
	if prev != nil {
		for _, svc := range prev.Pending {
			if _, ok := images[svc]; ok {
				set[svc] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for svc := range set {
		out = append(out, svc)
	}
	sort.Strings(out)
	return out
}

// checkImages refuses a release whose images are gone from the registry, and answers those
// that do not carry tag (if set).
func (s *Service) checkImages(ctx context.Context, r Release, tag string) ([]string, error) {
	check, err := s.Registry.CheckImages(ctx, sortedValues(r.Images), tag)
	if err != nil {
		return nil, fmt.Errorf("check images of release %s: %w", r.ID, err)
	}
	if len(check.Missing) == 0 {
		return check.Untagged, nil
	}
	gone := map[string]bool{}
	for _, m := range check.Missing {
		gone[m] = true
	}
	var names []string
	for svc, uri := range r.Images {
		if gone[uri] {
			names = append(names, fmt.Sprintf("%s (%s)", svc, uri))
		}
	}
	sort.Strings(names)
	return nil, Errorf(Conflict, "release %s cannot be deployed: these images are no longer in ECR: %s", r.ID, strings.Join(names, ", "))
}

// checkTaggable refuses, before anything is written, a release whose images cannot all carry the
// tag env.{environment}: a tag names one image per repository.
func checkTaggable(r Release, env Environment) error {
	byRepo := map[string]map[string]bool{}
	for _, uri := range r.Images {
		repo, _, _ := strings.Cut(uri, "@")
		if byRepo[repo] == nil {
			byRepo[repo] = map[string]bool{}
		}
		byRepo[repo][uri] = true
	}
	var clashes []string
	for repo, uris := range byRepo {
		if len(uris) > 1 {
			clashes = append(clashes, fmt.Sprintf("%s (%d images)", repo, len(uris)))
		}
	}
	if len(clashes) == 0 {
		return nil
	}
	sort.Strings(clashes)
	return Errorf(Conflict, "release %s cannot be deployed with tag %s: its services run different images of %s, and a tag names one image per repository",
		r.ID, envTag(env), strings.Join(clashes, ", "))
}

func environmentOf(p Project, id string) (Environment, error) {
	if e, ok := p.Environment(id); ok {
		return e, nil
	}
	return Environment{}, Errorf(NotFound, "environment %q is not one of %s's: %s", id, p.ID, strings.Join(p.EnvironmentIDs(), ", "))
}
