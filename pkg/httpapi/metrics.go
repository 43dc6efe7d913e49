package httpapi

import (
	"net/http"
	"strconv"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// getMetrics answers GET /projects/{project}/metrics?environment=E&since=&until=: the
// environment's DORA metrics over [since, until), Unix seconds (by default the 30 days to now).
func (h *Handler) getMetrics(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "environment", "since", "until")
	if err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	env := q.Get("environment")
	if env == "" {
		return shiplog.Errorf(shiplog.Invalid, "environment: is required: the environment whose metrics to compute, e.g. ?environment=prod")
	}
	since, err := unixSeconds("since", q.Get("since"))
	if err != nil {
		return err
	}
	until, err := unixSeconds("until", q.Get("until"))
	if err != nil {
		return err
	}
	m, err := h.svc.Metrics(r.Context(), shiplog.MetricsInput{ProjectID: project, Environment: env, Since: since, Until: until})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

// unixSeconds reads a time given as Unix seconds; "" is 0, the default.
func unixSeconds(name, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, shiplog.Errorf(shiplog.Invalid, "%s: %q is not a time in Unix seconds (a whole number above 0)", name, clip(s))
	}
	return n, nil
}
