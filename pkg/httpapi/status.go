package httpapi

import (
	"net/http"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// StatusBody is the body of POST
// /projects/{project}/environments/{environment}/deployments/{deployment}/status.
type StatusBody struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func (h *Handler) getDeployment(w http.ResponseWriter, r *http.Request) error {
	project, id, err := deploymentRequest(r)
	if err != nil {
		return err
	}
	d, err := h.svc.Deployment(r.Context(), project, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (h *Handler) reportStatus(w http.ResponseWriter, r *http.Request) error {
	project, id, err := deploymentRequest(r)
	if err != nil {
		return err
	}
	env, err := pathID(r, "environment")
	if err != nil {
		return err
	}
	by, err := identity(r)
	if err != nil {
		return err
	}
	var in StatusBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	d, err := h.svc.ReportStatus(r.Context(), shiplog.ReportInput{ProjectID: project, Environment: env, DeploymentID: id, Status: in.Status, Detail: in.Detail, By: by})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (h *Handler) verifyDeployment(w http.ResponseWriter, r *http.Request) error {
	project, id, err := deploymentRequest(r)
	if err != nil {
		return err
	}
	env, err := pathID(r, "environment")
	if err != nil {
		return err
	}
	if _, err := identity(r); err != nil {
		return err // a check may change the status: it is a write
	}
	if err := decodeBody(w, r, &struct{}{}, false); err != nil {
		return err
	}
	res, err := h.svc.Verify(r.Context(), project, env, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// deploymentRequest reads a deployment route's path; the routes take no query.
func deploymentRequest(r *http.Request) (project, deployment string, err error) {
	if err = checkQuery(r); err != nil {
		return
	}
	if project, err = pathID(r, "project"); err != nil {
		return
	}
	deployment, err = pathID(r, "deployment")
	return
}
