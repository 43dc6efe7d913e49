package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The API's OpenAPI 3.1 document. Each route of Routes has an operation below; Document builds
// the document from them and from the Go types of the bodies (their JSON schemas by reflection,
// so that a field added to a type is in the document). openapi.json is that document, committed
// so that it can be read, diffed and linted, and served as is at GET /openapi.json. Tests hold
// the three to each other: every route has an operation and every operation a route, the
// document's paths and methods are the route table's, and openapi.json is what Document builds
// (go test ./pkg/httpapi -run TestOpenAPIDocument -update rewrites it).

// OpenAPIPath is where the API serves its OpenAPI document.
const OpenAPIPath = "/openapi.json"

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI document the API serves.
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

func (h *Handler) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
	return nil
}

// param is a query parameter of an operation.
type param struct {
	name, description string
	schema            map[string]any
}

// response is one answer of an operation: its status, what it means and its body's Go type.
type response struct {
	status      int
	description string
	body        any
	location    bool // sets Location to what it created
}

// operation describes a route for the document.
type operation struct {
	id, summary, description string
	tag                      string
	query                    []param
	body                     any            // the request body's Go type (a zero value), nil if none
	bodySchema               map[string]any // or its schema, where no Go type decodes it
	bodyRequired             bool
	idempotent               bool // takes Idempotency-Key
	write                    bool // needs a caller identity (401 without)
	responses                []response
	errors                   []int // the statuses of the errors it answers, besides 400 and 500
}

var (
	pageQuery = []param{
		{"limit", fmt.Sprintf("How many items, 1 to %d.", shiplog.MaxPageLimit), map[string]any{"type": "integer", "minimum": 1, "maximum": shiplog.MaxPageLimit}},
		{"cursor", "The next_cursor of the previous page.", map[string]any{"type": "string"}},
	}
	unixSecondsSchema = map[string]any{"type": "integer", "format": "int64", "minimum": 1, "description": "Unix seconds."}
)

// operations describes every route of Routes, by its key.
var operations = map[string]operation{
	"GET /projects": {id: "listProjects", tag: "projects", summary: "List the registered projects",
		responses: []response{{200, "The projects.", ItemsBody[shiplog.Project]{}, false}}},
	"GET /projects/{project}": {id: "getProject", tag: "projects", summary: "Get a project",
		responses: []response{{200, "The project.", shiplog.Project{}, false}}, errors: []int{404}},
	"PUT /projects/{project}": {id: "putProject", tag: "projects", summary: "Register a project from its entry of .wellcome_project",
		description: "The body is the project's entry of a .wellcome_project file (the value under the project's id). An admin's route. " +
			"An entry that drops environments deployed to is refused (409) unless ?retire names them.",
		query: []param{{"retire", "env1,env2: environments, deployed to before, that the entry drops.", map[string]any{"type": "string"}}},
		bodySchema: map[string]any{"type": "object", "description": "The project's entry of .wellcome_project.",
			"required": []string{"name", "environments", "image_repositories"},
			"properties": map[string]any{
				"name":                map[string]any{"type": "string"},
				"tag_deployed_images": map[string]any{"type": "boolean"},
				"environments": map[string]any{"type": "array", "items": map[string]any{"type": "object", "required": []string{"id"},
					"properties": map[string]any{"id": map[string]any{"type": "string"}, "name": map[string]any{"type": "string"},
						"requires":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
						"ecs":       map[string]any{"type": "object"},
						"approvals": map[string]any{"type": "object", "description": "{\"required\": 2, \"from\": [ids], \"self_approval\": false}"}}}},
				"image_repositories": map[string]any{"type": "array", "items": map[string]any{"type": "object", "required": []string{"id"},
					"properties": map[string]any{"id": map[string]any{"type": "string"}, "services": map[string]any{"type": "array"}}}},
			}},
		bodyRequired: true, write: true,
		responses: []response{{200, "The project, registered again.", shiplog.Project{}, false}, {201, "The project, registered for the first time.", shiplog.Project{}, true}},
		errors:    []int{403, 409, 413}},
	"GET /projects/{project}/images/{label}": {id: "getImages", tag: "releases", summary: "Get the images under a label (latest, or an environment's)",
		responses: []response{{200, "The images, by service.", ImagesBody{}, false}}, errors: []int{404}},
	"POST /projects/{project}/releases": {id: "createRelease", tag: "releases", summary: "Create a release from the images under a label",
		description: "Snapshots the images under label (default latest). A label with no images that is neither latest nor an environment is 404; one missing some services' images is 409.",
		body:        CreateReleaseBody{}, idempotent: true, write: true,
		responses: []response{{201, "The release.", shiplog.Release{}, true}}, errors: []int{403, 404, 409, 413}},
	"GET /projects/{project}/releases": {id: "listReleases", tag: "releases", summary: "List a project's releases, newest first", query: pageQuery,
		responses: []response{{200, "A page of releases.", shiplog.Page[shiplog.Release]{}, false}}, errors: []int{404}},
	"GET /projects/{project}/releases/{release}": {id: "getRelease", tag: "releases", summary: "Get a release and its deployments (release may be latest)",
		responses: []response{{200, "The release.", shiplog.Release{}, false}}, errors: []int{404}},
	"POST /projects/{project}/environments/{environment}/deployments": {id: "deploy", tag: "deployments", summary: "Deploy a release, or promote what another environment runs",
		description: "release_id (an id, or latest) or from_environment. With dry_run, answers the plan (200) and writes nothing.",
		body:        DeployBody{}, bodyRequired: true, idempotent: true, write: true,
		responses: []response{{200, "The plan (dry_run).", shiplog.PlanResult{}, false}, {201, "The deployment recorded.", shiplog.DeployResult{}, true}},
		errors:    []int{403, 404, 409, 413, 503}},
	"GET /projects/{project}/deployments": {id: "listDeployments", tag: "deployments", summary: "List a project's deployments, newest first",
		query: append(slices.Clone(pageQuery),
			param{"environment", "Only this environment's.", map[string]any{"type": "string"}},
			param{"release", "Only this release's.", map[string]any{"type": "string"}}),
		responses: []response{{200, "A page of deployments.", shiplog.Page[shiplog.DeploymentRecord]{}, false}}, errors: []int{404}},
	"GET /projects/{project}/deployments/{deployment}": {id: "getDeployment", tag: "deployments", summary: "Get a deployment and its status history",
		responses: []response{{200, "The deployment.", shiplog.DeploymentRecord{}, false}}, errors: []int{404}},
	"POST /projects/{project}/environments/{environment}/deployments/{deployment}/status": {id: "reportStatus", tag: "deployments",
		summary: "Report a deployment verified or failed", body: StatusBody{}, bodyRequired: true, write: true,
		responses: []response{{200, "The deployment.", shiplog.DeploymentRecord{}, false}}, errors: []int{403, 404, 409, 413}},
	"POST /projects/{project}/environments/{environment}/deployments/{deployment}/verify": {id: "verifyDeployment", tag: "deployments",
		summary: "Check on ECS now whether a deployment runs", write: true,
		responses: []response{{200, "The deployment and each service's check.", shiplog.VerifyResult{}, false}}, errors: []int{403, 404, 409, 503}},
	"POST /projects/{project}/deployments/{deployment}/status": {id: "reportStatusGone", tag: "deployments", summary: "Retired: use the route that names the environment",
		description: "Answers 410 and where the route went; changes nothing.", responses: []response{}, errors: []int{410}},
	"POST /projects/{project}/deployments/{deployment}/verify": {id: "verifyDeploymentGone", tag: "deployments", summary: "Retired: use the route that names the environment",
		description: "Answers 410 and where the route went; changes nothing.", responses: []response{}, errors: []int{410}},
	"GET /projects/{project}/environments": {id: "listEnvironments", tag: "environments", summary: "What each environment runs, its status, lock and drift",
		responses: []response{{200, "The environments.", ItemsBody[shiplog.EnvironmentStatus]{}, false}}, errors: []int{404}},
	"GET /projects/{project}/diff": {id: "getDiff", tag: "releases", summary: "Compare two releases, environments or labels",
		query: []param{
			{"from", "release:ID, release:latest, environment:ID or label:LABEL.", map[string]any{"type": "string"}},
			{"to", "As from.", map[string]any{"type": "string"}}},
		responses: []response{{200, "The services' changes.", shiplog.Diff{}, false}}, errors: []int{404}},
	"POST /projects/{project}/environments/{environment}/emergency-deployments": {id: "emergencyDeploy", tag: "deployments",
		summary: "Break glass: deploy past locks, freezes and gates, recording why", body: EmergencyDeployBody{}, bodyRequired: true, idempotent: true, write: true,
		responses: []response{{200, "The plan (dry_run).", shiplog.PlanResult{}, false}, {201, "The deployment recorded.", shiplog.DeployResult{}, true}},
		errors:    []int{403, 404, 409, 413, 503}},
	"PUT /projects/{project}/environments/{environment}/lock": {id: "lock", tag: "environments", summary: "Lock an environment against deploys",
		body: LockBody{}, bodyRequired: true, write: true,
		responses: []response{{200, "The lock.", LockResponse{}, false}}, errors: []int{403, 404, 413}},
	"DELETE /projects/{project}/environments/{environment}/lock": {id: "unlock", tag: "environments", summary: "Remove an environment's lock", write: true,
		responses: []response{{200, "The lock removed, or null if there was none.", UnlockResponse{}, false}}, errors: []int{403, 404}},
	"POST /projects/{project}/environments/{environment}/rollback": {id: "rollback", tag: "deployments", summary: "Deploy again the release an environment ran before",
		body: RollbackBody{}, bodyRequired: true, idempotent: true, write: true,
		responses: []response{{200, "The plan (dry_run).", shiplog.PlanResult{}, false}, {201, "The deployment recorded.", shiplog.DeployResult{}, true}},
		errors:    []int{403, 404, 409, 413, 503}},
	"POST /projects/{project}/environments/{environment}/approvals": {id: "approve", tag: "approvals", summary: "Approve a release for an environment",
		description: "Records the caller's approval (idempotent: approving again writes nothing and answers changed false). " +
			"Refused: an environment that needs no approvals (409), a caller not in its approvals.from, or the release's requester without self_approval (403).",
		body: ApprovalBody{}, bodyRequired: true, write: true,
		responses: []response{{200, "The release's approvals for the environment.", shiplog.ApprovalStatus{}, false}}, errors: []int{403, 404, 409, 413}},
	"DELETE /projects/{project}/environments/{environment}/approvals": {id: "withdrawApproval", tag: "approvals", summary: "Withdraw the caller's approval of a release",
		description: "Removes the caller's own approval; changed false, writing nothing, if there was none.",
		query:       []param{{"release_id", "The release (required).", map[string]any{"type": "string"}}}, write: true,
		responses: []response{{200, "The release's approvals for the environment.", shiplog.ApprovalStatus{}, false}}, errors: []int{403, 404}},
	"GET /projects/{project}/releases/{release}/approvals": {id: "listApprovals", tag: "approvals", summary: "A release's approvals for an environment, and which count",
		query:     []param{{"environment", "The environment (required).", map[string]any{"type": "string"}}},
		responses: []response{{200, "The release's approvals for the environment.", shiplog.ApprovalStatus{}, false}}, errors: []int{404}},
	"PUT /projects/{project}/environments/{environment}/freezes/{freeze}": {id: "putEnvironmentFreeze", tag: "freezes", summary: "Set a freeze of one environment",
		body: EnvironmentFreezeBody{}, bodyRequired: true, write: true,
		responses: []response{{200, "The freeze, replaced.", shiplog.Freeze{}, false}, {201, "The freeze, new.", shiplog.Freeze{}, true}}, errors: []int{403, 404, 409, 413}},
	"DELETE /projects/{project}/environments/{environment}/freezes/{freeze}": {id: "deleteEnvironmentFreeze", tag: "freezes", summary: "Lift a freeze of one environment", write: true,
		responses: []response{{200, "The freeze lifted.", shiplog.Freeze{}, false}}, errors: []int{403, 404, 409}},
	"PUT /projects/{project}/freezes/{freeze}": {id: "putFreeze", tag: "freezes", summary: "Set a freeze of several or all environments (an admin's route)",
		body: FreezeBody{}, bodyRequired: true, write: true,
		responses: []response{{200, "The freeze, replaced.", shiplog.Freeze{}, false}, {201, "The freeze, new.", shiplog.Freeze{}, true}}, errors: []int{403, 404, 409, 413}},
	"GET /projects/{project}/freezes": {id: "listFreezes", tag: "freezes", summary: "List the current and future freezes",
		responses: []response{{200, "The freezes.", ItemsBody[shiplog.Freeze]{}, false}}, errors: []int{404}},
	"DELETE /projects/{project}/freezes/{freeze}": {id: "deleteFreeze", tag: "freezes", summary: "Lift a freeze (an admin's route)", write: true,
		responses: []response{{200, "The freeze lifted.", shiplog.Freeze{}, false}}, errors: []int{403, 404}},
	"GET /projects/{project}/metrics": {id: "getMetrics", tag: "metrics", summary: "An environment's DORA figures",
		query: []param{
			{"environment", "The environment (required).", map[string]any{"type": "string"}},
			{"since", "From (default: 30 days before until).", unixSecondsSchema},
			{"until", "To (default: now).", unixSecondsSchema}},
		responses: []response{{200, "The figures.", shiplog.Metrics{}, false}}, errors: []int{404}},
	"GET /projects/{project}/events": {id: "listEvents", tag: "events", summary: "What happened in a project, newest first",
		query: append(slices.Clone(pageQuery),
			param{"type", "Only events of this type, e.g. deployment.failed.", map[string]any{"type": "string"}},
			param{"since", "Only events from then on.", unixSecondsSchema}),
		responses: []response{{200, "A page of events.", shiplog.Page[shiplog.Event]{}, false}}, errors: []int{404}},
	"GET " + OpenAPIPath: {id: "getOpenAPI", tag: "meta", summary: "This document",
		responses: []response{{200, "The API's OpenAPI 3.1 document.", nil, false}}},
}

// statusText says what each error status means in this API.
var statusText = map[int]string{
	400: "Invalid: the request is malformed, or names something in the wrong form.",
	401: "No caller identity: a write needs one (API Gateway's IAM authorizer supplies it).",
	403: "Forbidden: the caller may not do this (API Gateway's own 403 has another body: {\"message\": \"...\"}).",
	404: "Not found.",
	405: "Method not allowed; the Allow header lists the route's methods.",
	409: "Conflict: the current state forbids it (a lock, a freeze, a promotion gate, an idempotency key used for another request).",
	410: "Gone: a retired route; the message says which replaced it.",
	413: "The body is larger than 1 MiB.",
	500: "Internal error (details are logged, not shown).",
	503: "Unavailable: a dependency throttles or is down; the same request may succeed later.",
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// Document builds the API's OpenAPI document from the route table and the operations.
func Document() ([]byte, error) {
	g := &schemas{defs: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range Routes {
		op, ok := operations[rt.Key()]
		if !ok {
			return nil, fmt.Errorf("route %s has no operation in httpapi's OpenAPI operations", rt.Key())
		}
		item := paths[rt.Path]
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		item[strings.ToLower(rt.Method)] = g.operation(rt, op)
	}
	for key := range operations {
		if !slices.ContainsFunc(Routes, func(r Route) bool { return r.Key() == key }) {
			return nil, fmt.Errorf("operation %s has no route in httpapi.Routes", key)
		}
	}
	g.defs["Error"] = map[string]any{
		"type": "object", "required": []string{"error"},
		"description": "The body of every error shiplog answers.",
		"properties": map[string]any{"error": map[string]any{
			"type": "object", "required": []string{"kind", "message"},
			"properties": map[string]any{
				"kind":    map[string]any{"type": "string", "enum": kindNames()},
				"message": map[string]any{"type": "string", "description": "What is wrong, for a person to act on."},
			}}},
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "shiplog HTTP API",
			"version":     "1",
			"description": "Release and deployment tracking for container services on AWS. Served by the api Lambda function behind API Gateway (HTTP API, every route with IAM authorization: sign requests with SigV4 for execute-api), and by the local stack (shiplog serve), which has no IAM and takes the caller from the X-Shiplog-User header.",
			"license":     map[string]any{"name": "Apache-2.0", "identifier": "Apache-2.0"},
		},
		"servers": []any{
			map[string]any{"url": "https://{api_id}.execute-api.{region}.amazonaws.com", "description": "API Gateway (the stack's ApiUrl output)",
				"variables": map[string]any{"api_id": map[string]any{"default": "abc123"}, "region": map[string]any{"default": "eu-west-1"}}},
			map[string]any{"url": "http://127.0.0.1:8080", "description": "The local stack (make run, shiplog serve)"},
		},
		"security": []any{map[string]any{"sigv4": []any{}}},
		"tags": []any{
			tagDoc("projects", "Projects and their registration"), tagDoc("releases", "Releases, images and diffs"),
			tagDoc("deployments", "Deploys, promotions, rollbacks and their statuses"), tagDoc("environments", "What environments run, and their locks"),
			tagDoc("freezes", "Change windows in which deploys are refused"), tagDoc("approvals", "Who approved a release for an environment"),
			tagDoc("metrics", "DORA figures"),
			tagDoc("events", "The event log"), tagDoc("meta", "About the API"),
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.defs,
			"securitySchemes": map[string]any{
				"sigv4": map[string]any{"type": "apiKey", "name": "Authorization", "in": "header",
					"description": "AWS IAM: every request is signed with Signature Version 4 for the execute-api service (Authorization, X-Amz-Date, X-Amz-Security-Token), with credentials allowed execute-api:Invoke on arn:aws:execute-api:REGION:ACCOUNT:API_ID/$default/METHOD/PATH. API Gateway's authorizer refuses unsigned or unallowed requests with 403 before shiplog sees them. The local stack reads X-Shiplog-User instead."},
			},
			"parameters": map[string]any{
				"IdempotencyKey": map[string]any{"name": IdempotencyKeyHeader, "in": "header", "required": false,
					"description": "Makes a retry safe: a request the project has seen with this key in the last 24 hours answers what the first one created, and writes nothing. The same key with another request is 409.",
					"schema":      map[string]any{"type": "string", "maxLength": shiplog.MaxIDLength, "pattern": idPattern}},
			},
			"responses": g.errorResponses(),
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// idPattern is ValidateID's rule as a pattern (it also refuses "..").
const idPattern = `^[A-Za-z0-9._-]+$`

func tagDoc(name, description string) map[string]any {
	return map[string]any{"name": name, "description": description}
}

func kindNames() []string {
	var out []string
	for _, k := range shiplog.Kinds() {
		out = append(out, k.String())
	}
	return out
}

func (g *schemas) errorResponses() map[string]any {
	out := map[string]any{}
	for status, text := range statusText {
		out[fmt.Sprint(status)] = map[string]any{"description": text,
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	}
	return out
}

func (g *schemas) operation(rt Route, op operation) map[string]any {
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true,
			"description": "The " + strings.ReplaceAll(m[1], "_", " ") + "'s id.",
			"schema":      map[string]any{"type": "string", "maxLength": shiplog.MaxIDLength, "pattern": idPattern}})
	}
	for _, q := range op.query {
		params = append(params, map[string]any{"name": q.name, "in": "query", "required": false, "description": q.description, "schema": q.schema})
	}
	if op.idempotent {
		params = append(params, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
	}
	out := map[string]any{"operationId": op.id, "summary": op.summary, "tags": []string{op.tag}}
	if len(op.responses) == 0 {
		out["deprecated"] = true // a retired route, which answers only 410
	}
	if op.description != "" {
		out["description"] = op.description
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if op.body != nil || op.bodySchema != nil {
		schema := op.bodySchema
		if schema == nil {
			schema = g.schema(reflect.TypeOf(op.body))
		}
		out["requestBody"] = map[string]any{"required": op.bodyRequired,
			"content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	}
	responses := map[string]any{}
	for _, r := range op.responses {
		res := map[string]any{"description": r.description}
		switch {
		case r.body != nil:
			res["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.body))}}
		case rt.Path == OpenAPIPath:
			res["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		if r.location {
			res["headers"] = map[string]any{"Location": map[string]any{"description": "Where what was created is read.", "schema": map[string]any{"type": "string"}}}
		}
		responses[fmt.Sprint(r.status)] = res
	}
	errs := append([]int{400, 500}, op.errors...)
	if op.write {
		errs = append(errs, 401)
	}
	errs = append(errs, 405)
	for _, s := range errs {
		responses[fmt.Sprint(s)] = map[string]any{"$ref": fmt.Sprintf("#/components/responses/%d", s)}
	}
	out["responses"] = responses
	return out
}

// schemas turns Go types into JSON schemas, each named struct once, in components.
type schemas struct {
	defs map[string]any
}

var rawMessage = reflect.TypeOf(json.RawMessage{})

func (g *schemas) schema(t reflect.Type) map[string]any {
	switch {
	case t == rawMessage:
		return map[string]any{"description": "Any JSON value."}
	case t.Kind() == reflect.Pointer:
		return map[string]any{"anyOf": []any{g.schema(t.Elem()), map[string]any{"type": "null"}}}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		s := map[string]any{"type": "integer"}
		if t.Kind() == reflect.Int64 {
			s["format"] = "int64"
		}
		return s
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{"description": "Any JSON value."}
	case reflect.Struct:
		name := schemaName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // a type that contains itself refers to itself
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic(fmt.Sprintf("openapi: no schema for %v", t))
}

// object is a struct's schema: its JSON fields, the ones without omitempty required.
func (g *schemas) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || !f.IsExported() && !f.Anonymous {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				walk(ft)
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = g.schema(f.Type)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

// schemaName names a struct type's schema: its name, with a generic type's argument in front
// (Page[Release] is ReleasePage).
func schemaName(t reflect.Type) string {
	name := t.Name()
	base, arg, generic := strings.Cut(name, "[")
	if !generic {
		return name
	}
	arg = strings.TrimSuffix(arg, "]")
	if i := strings.LastIndexByte(arg, '.'); i >= 0 {
		arg = arg[i+1:]
	}
	return arg + strings.TrimSuffix(base, "Body")
}
