package httpapi

import (
	"net/http"
)

// The routes of the release workflow: diff, plan, promote, locks, break glass and rollback.

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
