// Package httpapi is shiplog's HTTP API for people: an ordinary net/http handler over
// *shiplog.Service. The local stack serves it directly; the api Lambda function wraps it behind
// API Gateway. Routes live in one table, Routes, which the SAM template test also reads.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/shiplog/shiplog/pkg/logctx"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/version"
)

// Route is one route of the API. Method and Path are in the syntax that both Go's ServeMux and
// API Gateway's route keys use, e.g. "GET" and "/projects/{project}".
type Route struct {
	Method string
	Path   string
	handle func(*Handler, http.ResponseWriter, *http.Request) error
}

// Key returns "METHOD /path": the route's ServeMux pattern, which is also its API Gateway route key.
func (r Route) Key() string { return r.Method + " " + r.Path }

// Routes is the API's route table: every route the handler serves, and nothing else.
var Routes = []Route{
	{"GET", "/projects", (*Handler).listProjects},
	{"GET", "/projects/{project}", (*Handler).getProject},
	{"PUT", "/projects/{project}", (*Handler).putProject},
	{"GET", "/projects/{project}/images/{label}", (*Handler).getImages},
	{"POST", "/projects/{project}/releases", (*Handler).createRelease},
	{"GET", "/projects/{project}/releases", (*Handler).listReleases},
	{"GET", "/projects/{project}/releases/{release}", (*Handler).getRelease},
	// A release's approvals are read outside the environment's path, as every read is, so that a
	// policy that denies a role an environment (NeverProd) does not hide them.
	{"GET", "/projects/{project}/releases/{release}/approvals", (*Handler).listApprovals},
	{"POST", "/projects/{project}/environments/{environment}/deployments", (*Handler).deploy},
	{"GET", "/projects/{project}/deployments", (*Handler).listDeployments},
	{"GET", "/projects/{project}/deployments/{deployment}", (*Handler).getDeployment},
	{"POST", "/projects/{project}/environments/{environment}/deployments/{deployment}/status", (*Handler).reportStatus},
	{"POST", "/projects/{project}/environments/{environment}/deployments/{deployment}/verify", (*Handler).verifyDeployment},
	// The routes before 0.x named no environment, so a policy could not keep a role to stage's
	// deployments; they stay only to say where the route went, and change nothing.
	{"POST", "/projects/{project}/deployments/{deployment}/status", gone("POST /projects/{project}/environments/{environment}/deployments/{deployment}/status")},
	{"POST", "/projects/{project}/deployments/{deployment}/verify", gone("POST /projects/{project}/environments/{environment}/deployments/{deployment}/verify")},
	{"GET", "/projects/{project}/environments", (*Handler).listEnvironments},
	{"GET", "/projects/{project}/diff", (*Handler).getDiff},
	{"POST", "/projects/{project}/environments/{environment}/emergency-deployments", (*Handler).emergencyDeploy},
	{"PUT", "/projects/{project}/environments/{environment}/lock", (*Handler).putLock},
	{"DELETE", "/projects/{project}/environments/{environment}/lock", (*Handler).deleteLock},
	{"POST", "/projects/{project}/environments/{environment}/rollback", (*Handler).rollback},
	{"POST", "/projects/{project}/environments/{environment}/approvals", (*Handler).approve},
	{"DELETE", "/projects/{project}/environments/{environment}/approvals", (*Handler).withdrawApproval},
	{"PUT", "/projects/{project}/environments/{environment}/freezes/{freeze}", (*Handler).putEnvironmentFreeze},
	{"DELETE", "/projects/{project}/environments/{environment}/freezes/{freeze}", (*Handler).deleteEnvironmentFreeze},
	// A freeze over several or all environments names none in its path: an admin's route, as
	// PUT /projects/{project} is (README, "The HTTP API and who may deploy where").
	{"PUT", "/projects/{project}/freezes/{freeze}", (*Handler).putFreeze},
	{"GET", "/projects/{project}/freezes", (*Handler).listFreezes},
	{"DELETE", "/projects/{project}/freezes/{freeze}", (*Handler).deleteFreeze},
	{"GET", "/projects/{project}/metrics", (*Handler).getMetrics},
	{"GET", "/projects/{project}/events", (*Handler).listEvents},
	// The API's OpenAPI document (openapi.go), which describes every route here.
	{"GET", OpenAPIPath, (*Handler).getOpenAPI},
}

// Handler serves the API over a shiplog.Service.
//
// Writes need to know who asks: creating a release or deploying takes requested_by from the
// caller identity in the request context (see WithIdentity), never from the body. A write with no
// identity in its context is refused with 401 and changes nothing: deploys are never recorded
// without a requester. Reads need no identity.
type Handler struct {
	svc     *shiplog.Service
	log     *slog.Logger
	mux     *http.ServeMux
	methods []string // every method some route uses, for Allow headers
}

// NewHandler returns the API handler over svc. log receives internal errors with their causes; nil
// discards them.
func NewHandler(svc *shiplog.Service, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: svc, log: log, mux: http.NewServeMux()}
	seen := map[string]bool{}
	for _, rt := range Routes {
		handle := rt.handle
		h.mux.HandleFunc(rt.Key(), func(w http.ResponseWriter, r *http.Request) {
			// The request's log lines name what its path names (logctx.New is the caller's).
			logctx.Add(r.Context(), logctx.Project, r.PathValue("project"), logctx.Environment, r.PathValue("environment"),
				logctx.Deployment, r.PathValue("deployment"))
			if err := handle(h, w, r); err != nil {
				h.fail(w, r, err)
			}
		})
		if !seen[rt.Method] {
			seen[rt.Method] = true
			h.methods = append(h.methods, rt.Method)
		}
	}
	return h
}

// ServeHTTP dispatches to the route table, answering unknown routes (404), wrong methods (405)
// and unclean or percent-encoded paths (400) with JSON errors rather than ServeMux's plain text
// and redirects.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer names the version that gave it (the dashboard's footer shows it).
	w.Header().Set("X-Shiplog-Version", version.String())
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.fail(w, r, fmt.Errorf("panic: %v", v))
		}
	}()
	p := r.URL.EscapedPath()
	// ServeMux decodes the path before matching, so "/environments/pro%64/..." would act on prod
	// while an IAM resource pattern, an access log or a reviewer reads "pro%64". No id needs
	// encoding (ids are letters, digits, '.', '_' and '-'), so any '%' means the path is not what
	// it seems. EscapedPath shows a '%' both for an encoded byte and for a character that only
	// travels encoded ('?', a space), which is how the api function hands over such a path.
	if strings.Contains(p, "%") {
		h.fail(w, r, statusError{http.StatusBadRequest, shiplog.Errorf(shiplog.Invalid,
			"path %q: percent-encoded characters are not allowed; ids are letters, digits, '.', '_' and '-', which need no encoding", p)})
		return
	}
	// ServeMux would redirect an unclean path to its cleaned form, which for "/projects/a/../b"
	// is another resource; refuse instead.
	if !cleanPath(p) {
		h.fail(w, r, statusError{http.StatusBadRequest, shiplog.Errorf(shiplog.Invalid,
			"path %q: empty, \".\" and \"..\" segments are not allowed", p)})
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.noRoute(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// cleanPath reports whether p is absolute with no empty (but a trailing one), "." or ".." segment.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "." || s == ".." || (s == "" && i != len(segs)-1) {
			return false
		}
	}
	return true
}

func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range h.methods {
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := h.mux.Handler(other); pattern != "" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead) // ServeMux serves HEAD on GET routes
			}
		}
	}
	if len(allow) == 0 {
		h.fail(w, r, shiplog.Errorf(shiplog.NotFound, "no route %s %s", r.Method, r.URL.EscapedPath()))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	h.fail(w, r, statusError{http.StatusMethodNotAllowed, shiplog.Errorf(shiplog.Invalid,
		"method %s is not allowed on %s; allowed: %s", r.Method, r.URL.EscapedPath(), strings.Join(allow, ", "))})
}

// gone answers a retired route with 410 and where it went, reading and writing nothing.
func gone(route string) func(*Handler, http.ResponseWriter, *http.Request) error {
	return func(_ *Handler, _ http.ResponseWriter, r *http.Request) error {
		return statusError{http.StatusGone, shiplog.Errorf(shiplog.NotFound,
			"%s %s: this route named no environment, so IAM could not scope it to one; use %s, with the deployment's environment",
			r.Method, r.URL.EscapedPath(), route)}
	}
}

// statusByKind is the one table from error kinds to HTTP statuses.
var statusByKind = map[shiplog.Kind]int{
	shiplog.Internal:    http.StatusInternalServerError,
	shiplog.Invalid:     http.StatusBadRequest,
	shiplog.NotFound:    http.StatusNotFound,
	shiplog.Conflict:    http.StatusConflict,
	shiplog.Unavailable: http.StatusServiceUnavailable,
	shiplog.Forbidden:   http.StatusForbidden,
}

// StatusOf returns the HTTP status for an error kind.
func StatusOf(kind shiplog.Kind) int {
	if s, ok := statusByKind[kind]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// statusError is an error of the HTTP layer itself (wrong method, body too large) whose status is
// more precise than its kind's.
type statusError struct {
	status int
	err    *shiplog.Error
}

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Unwrap() error { return e.err }

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong: Kind is a shiplog.Kind's name.
type ErrorDetail struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, h.log, err)
}

// writeError answers with err as JSON. Internal and Unavailable errors are logged with their
// cause; callers see only MessageOf(err).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	kind := shiplog.KindOf(err)
	status := StatusOf(kind)
	var se statusError
	if errors.As(err, &se) {
		status = se.status
	}
	if kind == shiplog.Internal || kind == shiplog.Unavailable {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.EscapedPath(),
			"kind", kind.String(), "err", err)
	}
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Kind: kind.String(), Message: shiplog.MessageOf(err)}})
}

// writeJSON answers with v as JSON, ending in a newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a programming error gets here (the API's types all encode); say so without detail.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"kind":"Internal","message":"internal error"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pathID returns the path wildcard name, validated as a shiplog id so that errors name the URL part.
func pathID(r *http.Request, name string) (string, error) {
	v := r.PathValue(name)
	return v, shiplog.ValidateID(name, v)
}

// releaseLocation is the URL of a release, for Location headers.
func releaseLocation(projectID, releaseID string) string {
	return "/projects/" + url.PathEscape(projectID) + "/releases/" + url.PathEscape(releaseID)
}

// deploymentLocation is the URL of a deployment, for Location headers.
func deploymentLocation(projectID, deploymentID string) string {
	return "/projects/" + url.PathEscape(projectID) + "/deployments/" + url.PathEscape(deploymentID)
}
