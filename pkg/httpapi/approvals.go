package httpapi

import (
	"net/http"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// ApprovalBody is the body of POST /projects/{project}/environments/{environment}/approvals: the
// release the caller approves for the environment.
type ApprovalBody struct {
	ReleaseID string `json:"release_id"`
}

// approve records the caller's approval of a release for the environment (idempotent: approving
// again answers the same, with changed false).
func (h *Handler) approve(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	var in ApprovalBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	if in.ReleaseID == "" {
		return shiplog.Errorf(shiplog.Invalid, "release_id: is required: the release to approve for %s", env)
	}
	st, err := h.svc.Approve(r.Context(), shiplog.ApprovalInput{ProjectID: project, Environment: env, ReleaseID: in.ReleaseID, RequestedBy: by})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// withdrawApproval removes the caller's own approval of the release ?release_id= (a query
// parameter: a DELETE carries no body).
func (h *Handler) withdrawApproval(w http.ResponseWriter, r *http.Request) error {
	release, err := releaseQuery(r)
	if err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	st, err := h.svc.Withdraw(r.Context(), shiplog.ApprovalInput{ProjectID: project, Environment: env, ReleaseID: release, RequestedBy: by})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// listApprovals answers the approvals of a release for the environment ?environment=, and which
// of them count.
func (h *Handler) listApprovals(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "environment")
	if err != nil {
		return err
	}
	env := q.Get("environment")
	if env == "" {
		return shiplog.Errorf(shiplog.Invalid, "environment: is required (?environment=...): the environment the approvals are for")
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	release, err := pathID(r, "release")
	if err != nil {
		return err
	}
	st, err := h.svc.ApprovalsOf(r.Context(), project, env, release)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// releaseQuery reads the required ?release_id=, the route's only parameter.
func releaseQuery(r *http.Request) (string, error) {
	q, err := query(r, "release_id")
	if err != nil {
		return "", err
	}
	id := q.Get("release_id")
	if id == "" {
		return "", shiplog.Errorf(shiplog.Invalid, "release_id: is required (?release_id=...): the release whose approval to withdraw")
	}
	return id, nil
}
