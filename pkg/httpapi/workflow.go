package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The routes of the release workflow: diff, plan, promote, locks, break glass, rollback, freezes.

// IdempotencyKeyHeader carries the idempotency key of a create-release, a deploy or a rollback: a
// retry with the same key and request answers the original result (the same status, the same
// release or deployment) and writes nothing.
const IdempotencyKeyHeader = "Idempotency-Key"

func (h *Handler) getDiff(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "from", "to")
	if err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	d, err := h.svc.Diff(r.Context(), project, q.Get("from"), q.Get("to"))
	if err != nil {
		return err
	}
	d.Services = nonNil(d.Services)
	writeJSON(w, http.StatusOK, d)
	return nil
}

// EmergencyDeployBody is the body of POST
// /projects/{project}/environments/{environment}/emergency-deployments: a deploy that passes the
// environment's lock and promotion gates, and says why.
type EmergencyDeployBody struct {
	ReleaseID       string `json:"release_id,omitempty"`
	FromEnvironment string `json:"from_environment,omitempty"`
	Description     string `json:"description,omitempty"`
	Reason          string `json:"reason"`
	DryRun          bool   `json:"dry_run,omitempty"`
}

// LockBody is the body of PUT /projects/{project}/environments/{environment}/lock.
type LockBody struct {
	Reason    string `json:"reason"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
}

// LockResponse answers PUT .../lock with the environment's lock.
type LockResponse struct {
	Lock *shiplog.EnvironmentLock `json:"lock"`
}

// UnlockResponse answers DELETE .../lock: the environment's lock, now null, and the lock removed
// (null if there was none, and nothing was written).
type UnlockResponse struct {
	Lock    *shiplog.EnvironmentLock `json:"lock"`
	Removed *shiplog.EnvironmentLock `json:"removed"`
}

// RollbackBody is the body of POST /projects/{project}/environments/{environment}/rollback.
type RollbackBody struct {
	Reason       string `json:"reason"`
	ToDeployment string `json:"to_deployment,omitempty"`
	Hold         bool   `json:"hold,omitempty"`
	DryRun       bool   `json:"dry_run,omitempty"`
}

// idempotencyKey returns the request's Idempotency-Key header. Given twice, it is refused: a
// retry would have to guess which of the two the first request meant.
func idempotencyKey(r *http.Request) (string, error) {
	vs := r.Header.Values(IdempotencyKeyHeader)
	if len(vs) > 1 {
		return "", shiplog.Errorf(shiplog.Invalid, "%s: is given %d times", IdempotencyKeyHeader, len(vs))
	}
	return r.Header.Get(IdempotencyKeyHeader), nil
}

// runDeploy deploys, or plans, what a deploy body asks of the environment din names.
func (h *Handler) runDeploy(w http.ResponseWriter, r *http.Request, din shiplog.DeployInput, in DeployBody) error {
	din.ReleaseID, din.FromEnvironment, din.Description = in.ReleaseID, in.FromEnvironment, in.Description
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	din.IdempotencyKey = key
	return planOrRun(w, r, in.DryRun, din, h.svc.Plan, h.svc.Deploy)
}

// planOrRun answers a write that may be a dry run: the plan (200), or the deployment it recorded
// (201).
func planOrRun[In any](w http.ResponseWriter, r *http.Request, dryRun bool, in In,
	plan func(context.Context, In) (shiplog.PlanResult, error), run func(context.Context, In) (shiplog.DeployResult, error)) error {
	if dryRun {
		p, err := plan(r.Context(), in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, normalizePlan(p))
		return nil
	}
	res, err := run(r.Context(), in)
	if err != nil {
		return err
	}
	res.Release = normalizeRelease(res.Release)
	w.Header().Set("Location", deploymentLocation(res.Release.ProjectID, res.Deployment.ID))
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (h *Handler) emergencyDeploy(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	var in EmergencyDeployBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	if strings.TrimSpace(in.Reason) == "" {
		return shiplog.Errorf(shiplog.Invalid, "reason: is required: an emergency deployment passes locks and gates, and records why")
	}
	din := shiplog.DeployInput{ProjectID: project, Environment: env, RequestedBy: by, OverrideReason: in.Reason}
	return h.runDeploy(w, r, din, DeployBody{ReleaseID: in.ReleaseID, FromEnvironment: in.FromEnvironment, Description: in.Description, DryRun: in.DryRun})
}

func (h *Handler) putLock(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	var in LockBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	lock, err := h.svc.Lock(r.Context(), shiplog.LockInput{ProjectID: project, Environment: env, Reason: in.Reason, ExpiresAt: in.ExpiresAt, RequestedBy: by})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, LockResponse{Lock: &lock})
	return nil
}

func (h *Handler) deleteLock(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	removed, err := h.svc.Unlock(r.Context(), project, env, by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, UnlockResponse{Removed: removed})
	return nil
}

func (h *Handler) rollback(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in RollbackBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	rin := shiplog.RollbackInput{ProjectID: project, Environment: env, Reason: in.Reason, ToDeployment: in.ToDeployment, Hold: in.Hold, RequestedBy: by,
		IdempotencyKey: key}
	return planOrRun(w, r, in.DryRun, rin, h.svc.PlanRollback, h.svc.Rollback)
}

// envRequest reads the project and environment of the path and who asks (writes need to know).
func envRequest(r *http.Request) (project, env string, by shiplog.Person, err error) {
	if project, err = pathID(r, "project"); err != nil {
		return
	}
	if env, err = pathID(r, "environment"); err != nil {
		return
	}
	by, err = identity(r)
	return
}

func normalizePlan(p shiplog.PlanResult) shiplog.PlanResult {
	p.Plan.Services = nonNil(p.Plan.Services)
	p.Plan.ParametersToWrite = nonNil(p.Plan.ParametersToWrite)
	return p
}

// FreezeBody is the body of PUT /projects/{project}/freezes/{freeze}: a freeze of several or all
// (empty) environments.
type FreezeBody struct {
	Environments []string `json:"environments"`
	StartsAt     int64    `json:"starts_at"`
	EndsAt       int64    `json:"ends_at"`
	Reason       string   `json:"reason"`
}

func (h *Handler) putFreeze(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	id, err := pathID(r, "freeze")
	if err != nil {
		return err
	}
	by, err := identity(r)
	if err != nil {
		return err
	}
	var in FreezeBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	return h.writeFreeze(w, r, shiplog.FreezeInput{
		ProjectID: project, ID: id, Environments: in.Environments, StartsAt: in.StartsAt, EndsAt: in.EndsAt, Reason: in.Reason, RequestedBy: by,
	})
}

// writeFreeze sets a freeze and answers it: 201, with where it is listed, for a freeze that did not
// exist, else 200.
func (h *Handler) writeFreeze(w http.ResponseWriter, r *http.Request, in shiplog.FreezeInput) error {
	existing, err := h.svc.Freezes(r.Context(), in.ProjectID)
	if err != nil {
		return err
	}
	created := !slices.ContainsFunc(existing, func(f shiplog.Freeze) bool { return f.ID == in.ID })
	f, err := h.svc.PutFreeze(r.Context(), in)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/projects/"+url.PathEscape(in.ProjectID)+"/freezes")
	}
	writeJSON(w, status, f)
	return nil
}

// EnvironmentFreezeBody is the body of PUT
// /projects/{project}/environments/{environment}/freezes/{freeze}: a freeze of that environment
// alone, which the path names.
type EnvironmentFreezeBody struct {
	StartsAt int64  `json:"starts_at"`
	EndsAt   int64  `json:"ends_at"`
	Reason   string `json:"reason"`
}

func (h *Handler) putEnvironmentFreeze(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "freeze")
	if err != nil {
		return err
	}
	var in EnvironmentFreezeBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	return h.writeFreeze(w, r, shiplog.FreezeInput{
		ProjectID: project, ID: id, Scope: env, StartsAt: in.StartsAt, EndsAt: in.EndsAt, Reason: in.Reason, RequestedBy: by,
	})
}

func (h *Handler) deleteEnvironmentFreeze(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "freeze")
	if err != nil {
		return err
	}
	f, err := h.svc.DeleteEnvironmentFreeze(r.Context(), project, env, id, by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (h *Handler) listFreezes(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	fs, err := h.svc.Freezes(r.Context(), project)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ItemsBody[shiplog.Freeze]{Items: nonNil(fs)})
	return nil
}

func (h *Handler) deleteFreeze(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	id, err := pathID(r, "freeze")
	if err != nil {
		return err
	}
	by, err := identity(r)
	if err != nil {
		return err
	}
	f, err := h.svc.DeleteFreeze(r.Context(), project, id, by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, f)
	return nil
}
