package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// ItemsBody is the body of the unpaginated lists: projects and environments.
type ItemsBody[T any] struct {
	Items []T `json:"items"`
}

// ImagesBody is the body of GET /projects/{project}/images/{label}.
type ImagesBody struct {
	ProjectID string            `json:"project_id"`
	Label     string            `json:"label"`
	Images    map[string]string `json:"images"`
}

// CreateReleaseBody is the body of POST /projects/{project}/releases; an empty body means
// {"label": "latest"}.
type CreateReleaseBody struct {
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	// Sources is what CI knows of services' sources (docs/change-notes.md).
	Sources map[string]shiplog.SourceInput `json:"sources,omitempty"`
}

// DeployBody is the body of POST /projects/{project}/environments/{environment}/deployments:
// release_id, or from_environment to promote what runs there; dry_run answers the plan instead.
type DeployBody struct {
	ReleaseID       string `json:"release_id,omitempty"`
	FromEnvironment string `json:"from_environment,omitempty"`
	Description     string `json:"description,omitempty"`
	DryRun          bool   `json:"dry_run,omitempty"`
}

func (h *Handler) listProjects(w http.ResponseWriter, r *http.Request) error {
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	out, err := h.svc.ProjectsPage(r.Context(), page)
	if err != nil {
		return err
	}
	out.Items = nonNil(out.Items)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getProject(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	id, err := pathID(r, "project")
	if err != nil {
		return err
	}
	p, err := h.svc.Project(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// putProject registers a project from its entry of .wellcome_project.
//
// ?retire=env1,env2 says that the entry drops those environments although they have been deployed
// to; without it, such a registration is refused with 409.
func (h *Handler) putProject(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "retire")
	if err != nil {
		return err
	}
	id, err := pathID(r, "project")
	if err != nil {
		return err
	}
	by, err := identity(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return shiplog.Errorf(shiplog.Invalid, "request body: is empty; want the project's entry of .wellcome_project (an object with name, environments and image_repositories)")
	}
	if wholeManifest(id, body) {
		return shiplog.Errorf(shiplog.Invalid, "request body: looks like a whole .wellcome_project file; send only the entry of %s (the value under %q)", id, id)
	}
	p, err := manifest.ParseProject(id, body)
	if err != nil {
		return err
	}
	in := shiplog.RegisterInput{Projects: []shiplog.Project{p}, By: by}
	if v := q.Get("retire"); v != "" {
		for _, env := range strings.Split(v, ",") {
			in.Retired = append(in.Retired, shiplog.EnvironmentRef{ProjectID: id, EnvironmentID: env})
		}
	}
	// A registration that creates the project answers 201, with where it now is.
	_, lookErr := h.svc.Project(r.Context(), id)
	created := shiplog.IsKind(lookErr, shiplog.NotFound)
	if _, err := h.svc.RegisterProjects(r.Context(), in); err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/projects/"+url.PathEscape(id))
	}
	writeJSON(w, status, p)
	return nil
}

func (h *Handler) getImages(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	label, err := pathID(r, "label")
	if err != nil {
		return err
	}
	images, err := h.svc.Images(r.Context(), project, label)
	if err != nil {
		return err
	}
	if images == nil {
		images = map[string]string{}
	}
	writeJSON(w, http.StatusOK, ImagesBody{ProjectID: project, Label: label, Images: images})
	return nil
}

func (h *Handler) createRelease(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	by, err := identity(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var in CreateReleaseBody
	if err := decodeBody(w, r, &in, false); err != nil {
		return err
	}
	rel, err := h.svc.CreateRelease(r.Context(), shiplog.CreateReleaseInput{
		ProjectID: project, Label: in.Label, Description: in.Description, RequestedBy: by,
		IdempotencyKey: key, Sources: in.Sources,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", releaseLocation(rel.ProjectID, rel.ID))
	writeJSON(w, http.StatusCreated, normalizeRelease(rel))
	return nil
}

func (h *Handler) listReleases(w http.ResponseWriter, r *http.Request) error {
	page, err := pageRequest(r)
	if err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	out, err := h.svc.Releases(r.Context(), project, page)
	if err != nil {
		return err
	}
	out.Items = nonNil(out.Items)
	for i := range out.Items {
		out.Items[i] = normalizeRelease(out.Items[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getRelease(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	release, err := pathID(r, "release")
	if err != nil {
		return err
	}
	rel, err := h.svc.Release(r.Context(), project, release)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, normalizeRelease(rel))
	return nil
}

func (h *Handler) deploy(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, env, by, err := envRequest(r)
	if err != nil {
		return err
	}
	var in DeployBody
	if err := decodeBody(w, r, &in, true); err != nil {
		return err
	}
	return h.runDeploy(w, r, shiplog.DeployInput{ProjectID: project, Environment: env, RequestedBy: by}, in)
}

func (h *Handler) listDeployments(w http.ResponseWriter, r *http.Request) error {
	page, err := pageRequest(r, "environment", "release")
	if err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	filter := shiplog.DeploymentFilter{Environment: r.URL.Query().Get("environment"), Release: r.URL.Query().Get("release")}
	out, err := h.svc.Deployments(r.Context(), project, filter, page)
	if err != nil {
		return err
	}
	out.Items = nonNil(out.Items)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listEvents serves a project's event log, newest first: ?type= narrows it to one type, ?since=
// (Unix seconds) to what happened from then on.
func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) error {
	page, err := pageRequest(r, "type", "since")
	if err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	filter := shiplog.EventFilter{Type: r.URL.Query().Get("type")}
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return shiplog.Errorf(shiplog.Invalid, "since: %q is not a time in Unix seconds", clip(s))
		}
		filter.Since = n
	}
	out, err := h.svc.Events(r.Context(), project, filter, page)
	if err != nil {
		return err
	}
	out.Items = nonNil(out.Items)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	project, err := pathID(r, "project")
	if err != nil {
		return err
	}
	envs, err := h.svc.Environments(r.Context(), project)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ItemsBody[shiplog.EnvironmentStatus]{Items: nonNil(envs)})
	return nil
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// normalizeRelease makes a release's empty collections encode as {} and [] rather than null.
func normalizeRelease(r shiplog.Release) shiplog.Release {
	if r.Images == nil {
		r.Images = map[string]string{}
	}
	r.Deployments = nonNil(r.Deployments)
	return r
}

// wholeManifest reports whether body is a whole manifest that holds the project's entry, rather
// than the entry itself: the likeliest mistake when registering a project by hand.
func wholeManifest(id string, body []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	_, hasEntry := top[id]
	_, hasName := top["name"]
	return hasEntry && !hasName
}
