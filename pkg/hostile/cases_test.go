package hostile_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shiplog/shiplog/pkg/awslambda"
)

// The routes, by their keys in httpapi.Routes: a case naming a key the table no longer has fails
// the coverage check.
const (
	rProjects    = "GET /projects"
	rProject     = "GET /projects/{project}"
	rRegister    = "PUT /projects/{project}"
	rImages      = "GET /projects/{project}/images/{label}"
	rCreate      = "POST /projects/{project}/releases"
	rReleases    = "GET /projects/{project}/releases"
	rRelease     = "GET /projects/{project}/releases/{release}"
	rDeploy      = "POST /projects/{project}/environments/{environment}/deployments"
	rDeployments = "GET /projects/{project}/deployments"
	rDeployment  = "GET /projects/{project}/deployments/{deployment}"
	rStatus      = "POST /projects/{project}/environments/{environment}/deployments/{deployment}/status"
	rVerify      = "POST /projects/{project}/environments/{environment}/deployments/{deployment}/verify"
	rOldStatus   = "POST /projects/{project}/deployments/{deployment}/status"
	rOldVerify   = "POST /projects/{project}/deployments/{deployment}/verify"
	rEnvs        = "GET /projects/{project}/environments"
	rDiff        = "GET /projects/{project}/diff"
	rEmergency   = "POST /projects/{project}/environments/{environment}/emergency-deployments"
	rLock        = "PUT /projects/{project}/environments/{environment}/lock"
	rUnlock      = "DELETE /projects/{project}/environments/{environment}/lock"
	rRollback    = "POST /projects/{project}/environments/{environment}/rollback"
	rApprove     = "POST /projects/{project}/environments/{environment}/approvals"
	rWithdraw    = "DELETE /projects/{project}/environments/{environment}/approvals"
	rApprovals   = "GET /projects/{project}/releases/{release}/approvals"
	rEnvFreeze   = "PUT /projects/{project}/environments/{environment}/freezes/{freeze}"
	rEnvThaw     = "DELETE /projects/{project}/environments/{environment}/freezes/{freeze}"
	rFreeze      = "PUT /projects/{project}/freezes/{freeze}"
	rFreezes     = "GET /projects/{project}/freezes"
	rThaw        = "DELETE /projects/{project}/freezes/{freeze}"
	rMetrics     = "GET /projects/{project}/metrics"
	rEvents      = "GET /projects/{project}/events"
	rOpenAPI     = "GET /openapi.json"
)

// retiredRoutes are the routes that named no environment, so that IAM could not scope them (issue
// 16 §3), and the routes that replaced them. A retired route answers 410 (gone) to every request
// that reaches it, and changes nothing.
var retiredRoutes = map[string]string{
	rOldStatus: rStatus,
	rOldVerify: rVerify,
}

const (
	fCreate = awslambda.CreateReleaseName
	fDeploy = awslambda.DeployName
	fPush   = awslambda.ECRPushName
	fECS    = awslambda.ECSEventsName
)

// writtenCases are the hostile requests written for each route and function.
func writtenCases(ids seeded) []hostileCase {
	long := func(n int) string { return strings.Repeat("x", n) }
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	t0, t1 := now.Unix()+3600, now.Unix()+7200
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	const base = "/projects/" + project
	stage, prod := base+"/environments/stage", base+"/environments/prod"
	oversized := `{"description": "` + long(1<<20) + `"}`
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	envFreeze := func(fields string) string {
		return fmt.Sprintf(`{"starts_at": %d, "ends_at": %d, "reason": "release train"%s}`, t0, t1, fields)
	}
	freeze := func(fields string) string {
		return fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": %d, "reason": "release train"%s}`, t0, t1, fields)
	}
	reg := func(envs, repos string) string {
		return `{"name": "Bug farm", "environments": ` + envs + `, "image_repositories": ` + repos + `}`
	}
	envsOK := `[{"id": "stage", "ecs": {"cluster": "bugfarm-stage"}}, {"id": "prod", "ecs": {"cluster": "bugfarm-prod"}}]`
	reposOK := `[{"id": "bugfarm/hatching"}, {"id": "bugfarm/feeding"}]`
	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf(`{"id": "e%d"}`, i))
	}

	cases := []hostileCase{
		// GET /projects
		{name: "projects: a parameter it does not take", route: rProjects, target: "/projects?type=x", want: invalid},
		{name: "projects: limit zero", route: rProjects, target: "/projects?limit=0", want: invalid},
		{name: "projects: limit over the page size", route: rProjects, target: "/projects?limit=101", want: invalid},
		{name: "projects: limit not a number", route: rProjects, target: "/projects?limit=ten", want: invalid},
		{name: "projects: garbage cursor", route: rProjects, target: "/projects?cursor=garbage", want: invalid},
		{name: "projects: a cursor of another list", route: rProjects, target: "/projects?cursor=eyJwayI6InByb2plY3QjYnVnZmFybSIsInNrIjoiZXZlbnQjMDEifQ", want: invalid},
		{name: "projects: huge cursor", route: rProjects, target: "/projects?cursor=" + long(10000), want: invalid},
		{name: "projects: repeated parameter", route: rProjects, target: "/projects?x=1&x=2", want: invalid},
		{name: "projects: malformed query", route: rProjects, target: "/projects?%zz", want: invalid},
		{name: "projects: POST", route: rProjects, method: http.MethodPost, target: "/projects", body: `{}`, want: invalid, status: http.StatusMethodNotAllowed},

		// GET /openapi.json takes no input (no path parameter, query or body): what it can be sent
		// is a query, a body or another method, and all are refused.
		{name: "openapi: a query it does not take", route: rOpenAPI, target: "/openapi.json?format=yaml", want: invalid},
		{name: "openapi: malformed query", route: rOpenAPI, target: "/openapi.json?%zz", want: invalid},
		{name: "openapi: PUT of a document", route: rOpenAPI, method: http.MethodPut, target: "/openapi.json", body: `{"openapi": "3.1.0", "paths": {}}`, want: invalid, status: http.StatusMethodNotAllowed},
		{name: "openapi: path below it", route: rOpenAPI, target: "/openapi.json/../projects", want: invalid},

		// GET /projects/{project}
		{name: "project: retire on a read", route: rProject, target: base + "?retire=prod", want: invalid},
		{name: "project: trailing dot-dot", route: rProject, target: base + "/..", want: invalid},
		{name: "project: encoded traversal to another project", route: rProject, target: "/projects/x%2F..%2F" + other, want: invalid},
		{name: "project: backslash", route: rProject, target: "/projects/bug%5Cfarm", want: invalid},

		// PUT /projects/{project}
		{name: "register: empty body", route: rRegister, target: base, want: invalid},
		{name: "register: malformed JSON", route: rRegister, target: base, body: `{"name": "Bug farm",`, want: invalid},
		{name: "register: duplicate key", route: rRegister, target: base, body: `{"name": "A", "name": "B", "environments": [{"id": "stage"}, {"id": "prod"}], "image_repositories": [{"id": "bugfarm/hatching"}, {"id": "bugfarm/feeding"}]}`, want: invalid, msg: "twice"},
		{name: "register: duplicate environment key", route: rRegister, target: base, body: reg(`[{"id": "stage", "id": "prod"}]`, reposOK), want: invalid},
		{name: "register: unknown field", route: rRegister, target: base, body: `{"name": "Bug farm", "owner": "mallory", "environments": ` + envsOK + `, "image_repositories": ` + reposOK + `}`, want: invalid},
		{name: "register: environments of the wrong type", route: rRegister, target: base, body: reg(`"stage"`, reposOK), want: invalid},
		{name: "register: a whole manifest", route: rRegister, target: base, body: `{"bugfarm": ` + bugfarmEntry + `}`, want: invalid},
		{name: "register: array body", route: rRegister, target: base, body: `[]`, want: invalid},
		{name: "register: null body", route: rRegister, target: base, body: `null`, want: invalid},
		{name: "register: name with RLO", route: rRegister, target: base, body: `{"name": "abc\u202edorp", "environments": ` + envsOK + `, "image_repositories": ` + reposOK + `}`, want: invalid},
		{name: "register: name with zero-width space", route: rRegister, target: base, body: `{"name": "Bug\u200bfarm", "environments": ` + envsOK + `, "image_repositories": ` + reposOK + `}`, want: invalid},
		{name: "register: name with ESC", route: rRegister, target: base, body: `{"name": "Bug\u001b[2Jfarm", "environments": ` + envsOK + `, "image_repositories": ` + reposOK + `}`, want: invalid},
		{name: "register: environment named latest", route: rRegister, target: base, body: reg(`[{"id": "stage"}, {"id": "prod"}, {"id": "latest"}]`, reposOK), want: invalid},
		{name: "register: environment id with traversal", route: rRegister, target: base, body: reg(`[{"id": "stage"}, {"id": "prod"}, {"id": "../x"}]`, reposOK), want: invalid},
		{name: "register: environment name with RLO", route: rRegister, target: base, body: reg(`[{"id": "stage", "name": "s\u202et"}, {"id": "prod"}]`, reposOK), want: invalid},
		{name: "register: repository with traversal", route: rRegister, target: base, body: reg(envsOK, `[{"id": "../bugfarm/hatching"}]`), want: invalid},
		{name: "register: repository in capitals", route: rRegister, target: base, body: reg(envsOK, `[{"id": "Bugfarm/Hatching"}]`), want: invalid},
		{name: "register: 101 environments", route: rRegister, target: base, body: reg("["+strings.Join(many, ", ")+"]", reposOK), want: invalid},
		{name: "register: drops deployed prod unretired", route: rRegister, target: base, body: reg(`[{"id": "stage", "ecs": {"cluster": "bugfarm-stage"}}]`, reposOK), want: conflict},
		{name: "register: retires an environment it keeps", route: rRegister, target: base + "?retire=prod", body: bugfarmEntry, want: invalid},
		{name: "register: retires a traversal id", route: rRegister, target: base + "?retire=..%2Fprod", body: bugfarmEntry, want: invalid},
		{name: "register: retire given twice", route: rRegister, target: base + "?retire=prod&retire=stage", body: bugfarmEntry, want: invalid},
		{name: "register: body over 1 MiB", route: rRegister, target: base, body: oversized, want: invalid, status: http.StatusRequestEntityTooLarge},
		{name: "register: entry over 64 KiB", route: rRegister, target: base, body: `{"name": "Bug farm", "description": "` + long(70<<10) + `", "environments": ` + envsOK + `, "image_repositories": ` + reposOK + `}`, want: invalid},
		{name: "register: deeply nested", route: rRegister, target: base, body: deep, want: invalid},
		{name: "register: invalid UTF-8", route: rRegister, target: base, body: "{\"name\": \"Bug \xff farm\", \"environments\": " + envsOK + ", \"image_repositories\": " + reposOK + "}", want: invalid},
		{name: "register: cluster ARN of another service", route: rRegister, target: base, body: reg(`[{"id": "stage", "ecs": {"cluster": "arn:aws:s3:::bucket"}}, {"id": "prod"}]`, reposOK), want: invalid},

		// POST /projects/{project}/releases
		{name: "release: label of the wrong type", route: rCreate, target: base + "/releases", body: `{"label": 1}`, want: invalid},
		{name: "release: duplicate label", route: rCreate, target: base + "/releases", body: `{"label": "latest", "label": "stage"}`, want: invalid, msg: "twice"},
		{name: "release: unknown field", route: rCreate, target: base + "/releases", body: `{"labels": "latest"}`, want: invalid},
		{name: "release: requested_by in the body", route: rCreate, target: base + "/releases", body: `{"requested_by": {"id": "ecs", "name": "Amazon ECS"}}`, want: invalid, msg: "comes from your identity"},
		{name: "release: label with traversal", route: rCreate, target: base + "/releases", body: `{"label": "../stage"}`, want: invalid},
		{name: "release: label with zero-width space", route: rCreate, target: base + "/releases", body: `{"label": "lat\u200best"}`, want: invalid},
		{name: "release: label with nothing under it", route: rCreate, target: base + "/releases", body: `{"label": "nosuch"}`, want: notFound, msg: "the label has no images"},
		{name: "release: description over the limit", route: rCreate, target: base + "/releases", body: `{"description": "` + long(1025) + `"}`, want: invalid},
		{name: "release: description with RLO", route: rCreate, target: base + "/releases", body: `{"description": "fix \u202e"}`, want: invalid},
		{name: "release: description with raw RLO", route: rCreate, target: base + "/releases", body: "{\"description\": \"fix \u202e\"}", want: invalid},
		{name: "release: description with ESC", route: rCreate, target: base + "/releases", body: `{"description": "\u001b]0;pwned\u0007"}`, want: invalid},
		{name: "release: description with NUL", route: rCreate, target: base + "/releases", body: `{"description": "a\u0000b"}`, want: invalid},
		{name: "release: trailing data", route: rCreate, target: base + "/releases", body: `{} {}`, want: invalid},
		{name: "release: stray closing brace", route: rCreate, target: base + "/releases", body: `{}}`, want: invalid},
		{name: "release: array body", route: rCreate, target: base + "/releases", body: `[]`, want: invalid},
		{name: "release: string body", route: rCreate, target: base + "/releases", body: `"latest"`, want: invalid},
		{name: "release: source revision a branch", route: rCreate, target: base + "/releases", body: `{"sources": {"app": {"revision": "main"}}}`, want: invalid, msg: "sources.app.revision"},
		{name: "release: source repository a script URL", route: rCreate, target: base + "/releases", body: `{"sources": {"app": {"repository": "javascript:alert(1)"}}}`, want: invalid, msg: "sources.app.repository"},
		{name: "release: source keyed by traversal", route: rCreate, target: base + "/releases", body: `{"sources": {"../app": {"revision": "0123456789abcdef"}}}`, want: invalid},
		{name: "release: sources of the wrong type", route: rCreate, target: base + "/releases", body: `{"sources": ["0123456789abcdef"]}`, want: invalid},
		{name: "release: source with an unknown field", route: rCreate, target: base + "/releases", body: `{"sources": {"app": {"sha": "0123456789abcdef"}}}`, want: invalid},
		{name: "release: malformed JSON", route: rCreate, target: base + "/releases", body: `{"label": `, want: invalid},
		{name: "release: huge number", route: rCreate, target: base + "/releases", body: `{"label": 1e999}`, want: invalid},
		{name: "release: lone surrogate", route: rCreate, target: base + "/releases", body: `{"description": "\ud800"}`, want: invalid},
		{name: "release: byte order mark", route: rCreate, target: base + "/releases", body: "\ufeff{}", want: invalid},
		{name: "release: deeply nested", route: rCreate, target: base + "/releases", body: deep, want: invalid},
		{name: "release: body over 1 MiB", route: rCreate, target: base + "/releases", body: oversized, want: invalid, status: http.StatusRequestEntityTooLarge},
		{name: "release: idempotency key reused for another request", route: rCreate, target: base + "/releases", header: hdr("Idempotency-Key", key), body: `{"description": "other"}`, want: conflict},
		{name: "release: idempotency key with control characters", route: rCreate, target: base + "/releases", header: hdr("Idempotency-Key", "k\x01ey"), body: `{}`, want: invalid},
		{name: "release: idempotency key too long", route: rCreate, target: base + "/releases", header: hdr("Idempotency-Key", long(1000)), body: `{}`, want: invalid},
		{name: "release: idempotency key given twice", route: rCreate, target: base + "/releases", header: hdr("Idempotency-Key", "a", "Idempotency-Key", "b"), body: `{}`, want: invalid},
		{name: "release: user header with ESC", route: rCreate, target: base + "/releases", header: hdr("X-Shiplog-User", "al\x1bice"), body: `{}`, want: invalid, only: "local"},
		{name: "release: user header with RLO", route: rCreate, target: base + "/releases", header: hdr("X-Shiplog-User", "al\u202eice"), body: `{}`, want: invalid, only: "local"},
		{name: "release: user header given twice", route: rCreate, target: base + "/releases", header: hdr("X-Shiplog-User", "alice", "X-Shiplog-User", "ecs"), body: `{}`, want: invalid, only: "local"},
		{name: "release: user name without id", route: rCreate, target: base + "/releases", header: hdr("X-Shiplog-User-Name", "Amazon ECS"), body: `{}`, want: invalid, anon: true, only: "local"},
		{name: "release: project of the manifest but not registered", route: rCreate, target: "/projects/bugfarm_73649/releases", body: `{}`, want: notFound},

		// GET /projects/{project}/images/{label}
		{name: "images: recursive", route: rImages, target: base + "/images/latest?recursive=true", want: invalid},
		{name: "images: label of a parameter path", route: rImages, target: base + "/images/latest%2Fhatching", want: invalid},
		{name: "images: unregistered project", route: rImages, target: "/projects/bugfarm_73649/images/latest", want: notFound},
		{name: "images: project with a slash", route: rImages, target: "/projects/bugfarm%2Fimages/images/latest", want: invalid},

		// GET /projects/{project}/releases
		{name: "releases: limit zero", route: rReleases, target: base + "/releases?limit=0", want: invalid},
		{name: "releases: negative limit", route: rReleases, target: base + "/releases?limit=-1", want: invalid},
		{name: "releases: limit over the page size", route: rReleases, target: base + "/releases?limit=1001", want: invalid},
		{name: "releases: limit past int64", route: rReleases, target: base + "/releases?limit=99999999999999999999", want: invalid},
		{name: "releases: limit not a number", route: rReleases, target: base + "/releases?limit=ten", want: invalid},
		{name: "releases: limit in exponent form", route: rReleases, target: base + "/releases?limit=1e2", want: invalid},
		{name: "releases: limit given twice", route: rReleases, target: base + "/releases?limit=1&limit=2", want: invalid},
		{name: "releases: garbage cursor", route: rReleases, target: base + "/releases?cursor=garbage", want: invalid},
		{name: "releases: cursor with traversal", route: rReleases, target: base + "/releases?cursor=..%2F..%2Fother", want: invalid},
		{name: "releases: huge cursor", route: rReleases, target: base + "/releases?cursor=" + long(10000), want: invalid},

		// GET /projects/{project}/releases/{release}
		{name: "release read: another project's release", route: rRelease, target: base + "/releases/" + ids.r3, want: notFound},
		{name: "release read: query", route: rRelease, target: base + "/releases/" + ids.r1 + "?expand=all", want: invalid},
		{name: "release read: encoded id", route: rRelease, target: base + "/releases/%30" + ids.r1[1:], want: invalid},

		// POST .../environments/{environment}/deployments
		{name: "deploy route: empty body", route: rDeploy, target: stage + "/deployments", want: invalid},
		{name: "deploy route: nothing to deploy", route: rDeploy, target: stage + "/deployments", body: `{}`, want: invalid},
		{name: "deploy route: another project's release", route: rDeploy, target: stage + "/deployments", body: `{"release_id": ` + q(ids.r3) + `}`, want: notFound},
		{name: "deploy route: unknown release", route: rDeploy, target: stage + "/deployments", body: `{"release_id": "01JHOSTILE9999999999999999"}`, want: notFound},
		{name: "deploy route: release and from_environment", route: rDeploy, target: stage + "/deployments", body: `{"release_id": ` + q(ids.r1) + `, "from_environment": "prod"}`, want: invalid},
		{name: "deploy route: promote from itself", route: rDeploy, target: stage + "/deployments", body: `{"from_environment": "stage"}`, want: invalid},
		{name: "deploy route: promote from an unknown environment", route: rDeploy, target: stage + "/deployments", body: `{"from_environment": "prd"}`, want: notFound},
		{name: "deploy route: promote from latest", route: rDeploy, target: stage + "/deployments", body: `{"from_environment": "latest"}`, want: notFound},
		{name: "deploy route: release id with RLO", route: rDeploy, target: stage + "/deployments", body: `{"release_id": "01J\u202eX"}`, want: invalid},
		{name: "deploy route: release id of the wrong type", route: rDeploy, target: stage + "/deployments", body: `{"release_id": 123}`, want: invalid},
		{name: "deploy route: duplicate release_id", route: rDeploy, target: stage + "/deployments", body: `{"release_id": ` + q(ids.r1) + `, "release_id": ` + q(ids.r2) + `}`, want: invalid, msg: "twice"},
		{name: "deploy route: dry_run as a string", route: rDeploy, target: stage + "/deployments", body: `{"release_id": ` + q(ids.r1) + `, "dry_run": "yes"}`, want: invalid},
		{name: "deploy route: override_reason smuggled in", route: rDeploy, target: prod + "/deployments", body: `{"release_id": ` + q(ids.r1) + `, "override_reason": "because"}`, want: invalid},
		{name: "deploy route: requested_by in the body", route: rDeploy, target: stage + "/deployments", body: `{"release_id": ` + q(ids.r1) + `, "requested_by": {"id": "ecs"}}`, want: invalid},
		{name: "deploy route: description over the limit", route: rDeploy, target: stage + "/deployments", body: `{"release_id": ` + q(ids.r1) + `, "description": "` + long(1025) + `"}`, want: invalid},
		{name: "deploy route: description with RLO", route: rDeploy, target: stage + "/deployments", body: `{"release_id": ` + q(ids.r1) + `, "description": "ok\u202e"}`, want: invalid},
		{name: "deploy route: to the locked prod", route: rDeploy, target: prod + "/deployments", body: `{"release_id": ` + q(ids.r2) + `}`, want: conflict},
		{name: "deploy route: to latest", route: rDeploy, target: base + "/environments/latest/deployments", body: `{"release_id": ` + q(ids.r1) + `}`, want: invalid},
		{name: "deploy route: to prod spelled encoded", route: rDeploy, target: base + "/environments/pro%64/deployments", body: `{"release_id": ` + q(ids.r1) + `}`, want: invalid},
		{name: "deploy route: idempotency key too long", route: rDeploy, target: stage + "/deployments", header: hdr("Idempotency-Key", long(1000)), body: `{"release_id": ` + q(ids.r1) + `}`, want: invalid},
		{name: "deploy route: null body", route: rDeploy, target: stage + "/deployments", body: `null`, want: invalid},

		// GET /projects/{project}/deployments
		{name: "deployments: unknown environment filter", route: rDeployments, target: base + "/deployments?environment=prd", want: notFound},
		{name: "deployments: environment filter with traversal", route: rDeployments, target: base + "/deployments?environment=..%2Fprod", want: invalid},
		{name: "deployments: release filter with RLO", route: rDeployments, target: base + "/deployments?release=%E2%80%AE", want: invalid},
		{name: "deployments: limit zero", route: rDeployments, target: base + "/deployments?limit=0", want: invalid},
		{name: "deployments: garbage cursor", route: rDeployments, target: base + "/deployments?cursor=%00%01", want: invalid},
		{name: "deployments: environment given twice", route: rDeployments, target: base + "/deployments?environment=stage&environment=prod", want: invalid},

		// GET /projects/{project}/deployments/{deployment}
		{name: "deployment read: another project's deployment", route: rDeployment, target: base + "/deployments/" + ids.d3, want: notFound},
		{name: "deployment read: a release id", route: rDeployment, target: base + "/deployments/" + ids.r1, want: notFound},
		{name: "deployment read: query", route: rDeployment, target: base + "/deployments/" + ids.d1 + "?x=1", want: invalid},

		// POST .../environments/{environment}/deployments/{deployment}/status
		{name: "status: another project's deployment", route: rStatus, target: stage + "/deployments/" + ids.d3 + "/status", body: `{"status": "failed"}`, want: notFound},
		{name: "status: unknown status", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "bogus"}`, want: invalid},
		{name: "status: applied is not reported", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "applied"}`, want: invalid},
		{name: "status: in capitals", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "VERIFIED"}`, want: invalid},
		{name: "status: empty", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{}`, want: invalid},
		{name: "status: duplicate status", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "verified", "status": "failed"}`, want: invalid, msg: "twice"},
		{name: "status: unknown field", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "verified", "by": "ecs"}`, want: invalid},
		{name: "status: environment in the body", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "verified", "environment": "prod"}`, want: invalid},
		{name: "status: detail over the limit", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "failed", "detail": "` + long(1025) + `"}`, want: invalid},
		{name: "status: detail with RLO", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": "failed", "detail": "ok\u202e"}`, want: invalid},
		{name: "status: superseded deployment", route: rStatus, target: stage + "/deployments/" + ids.d1 + "/status", body: `{"status": "failed"}`, want: conflict},
		{name: "status: status of the wrong type", route: rStatus, target: stage + "/deployments/" + ids.d4 + "/status", body: `{"status": true}`, want: invalid},
		{name: "status: prod's deployment through stage", route: rStatus, target: stage + "/deployments/" + ids.d2 + "/status", body: `{"status": "failed"}`, want: conflict, msg: "prod, not stage"},
		{name: "status: stage's deployment through prod", route: rStatus, target: prod + "/deployments/" + ids.d4 + "/status", body: `{"status": "verified"}`, want: conflict, msg: "stage, not prod"},
		{name: "status: unknown environment", route: rStatus, target: base + "/environments/prd/deployments/" + ids.d4 + "/status", body: `{"status": "failed"}`, want: notFound},
		{name: "status: another project's environment and deployment", route: rStatus, target: "/projects/" + other + "/environments/stage/deployments/" + ids.d4 + "/status", body: `{"status": "failed"}`, want: notFound},
		{name: "status: environment with traversal", route: rStatus, target: base + "/environments/..%2Fprod/deployments/" + ids.d2 + "/status", body: `{"status": "failed"}`, want: invalid},

		// POST .../environments/{environment}/deployments/{deployment}/verify
		{name: "verify: a body", route: rVerify, target: stage + "/deployments/" + ids.d4 + "/verify", body: `{"status": "verified"}`, want: invalid},
		{name: "verify: array body", route: rVerify, target: stage + "/deployments/" + ids.d4 + "/verify", body: `[]`, want: invalid},
		{name: "verify: another project's deployment", route: rVerify, target: stage + "/deployments/" + ids.d3 + "/verify", want: notFound},
		{name: "verify: superseded deployment", route: rVerify, target: stage + "/deployments/" + ids.d1 + "/verify", want: conflict},
		{name: "verify: prod's deployment through stage", route: rVerify, target: stage + "/deployments/" + ids.d2 + "/verify", want: conflict, msg: "prod, not stage"},
		{name: "verify: stage's deployment through prod", route: rVerify, target: prod + "/deployments/" + ids.d4 + "/verify", want: conflict, msg: "stage, not prod"},
		{name: "verify: unknown environment", route: rVerify, target: base + "/environments/prd/deployments/" + ids.d4 + "/verify", want: notFound},
		{name: "verify: environment in a query", route: rVerify, target: stage + "/deployments/" + ids.d4 + "/verify?environment=prod", want: invalid},

		// The retired routes, which named no environment: 410 to a request the new route would take
		// as to any other (more below, one for each of the new routes' cases).
		{name: "retired status: a report the new route takes", route: rOldStatus, target: base + "/deployments/" + ids.d4 + "/status", body: `{"status": "verified"}`, want: gone, msg: "use " + rStatus},
		{name: "retired status: a report of prod's deployment", route: rOldStatus, target: base + "/deployments/" + ids.d2 + "/status", body: `{"status": "failed", "detail": "smoke"}`, want: gone, msg: "use " + rStatus},
		{name: "retired status: with an idempotency key", route: rOldStatus, target: base + "/deployments/" + ids.d4 + "/status", header: hdr("Idempotency-Key", "retry-1"), body: `{"status": "failed"}`, want: gone},
		{name: "retired verify: the current deployment", route: rOldVerify, target: base + "/deployments/" + ids.d4 + "/verify", want: gone, msg: "use " + rVerify},
		{name: "retired verify: prod's deployment", route: rOldVerify, target: base + "/deployments/" + ids.d2 + "/verify", want: gone, msg: "use " + rVerify},

		// GET /projects/{project}/environments
		{name: "environments: query", route: rEnvs, target: base + "/environments?environment=prod", want: invalid},
		{name: "environments: trailing encoded slash", route: rEnvs, target: base + "/environments%2F", want: invalid},
		{name: "environments: unregistered project", route: rEnvs, target: "/projects/bugfarm_73649/environments", want: notFound},

		// GET /projects/{project}/diff
		{name: "diff: unknown from", route: rDiff, target: base + "/diff?from=environment:prd&to=environment:prod", want: notFound},
		{name: "diff: to with traversal", route: rDiff, target: base + "/diff?from=environment:stage&to=environment:..%2Fprod", want: invalid},
		{name: "diff: from with RLO", route: rDiff, target: base + "/diff?from=environment:st%E2%80%AEage&to=environment:prod", want: invalid},
		{name: "diff: given twice", route: rDiff, target: base + "/diff?from=environment:stage&from=environment:prod&to=environment:prod", want: invalid},
		{name: "diff: unknown parameter", route: rDiff, target: base + "/diff?from=environment:stage&to=environment:prod&limit=1", want: invalid},

		// POST .../emergency-deployments
		{name: "emergency: blank reason", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r2) + `, "reason": "   "}`, want: invalid},
		{name: "emergency: no reason", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r2) + `}`, want: invalid},
		{name: "emergency: reason with RLO", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r2) + `, "reason": "sev1\u202e"}`, want: invalid},
		{name: "emergency: reason with zero-width space", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r2) + `, "reason": "\u200b"}`, want: invalid},
		{name: "emergency: reason over the limit", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r2) + `, "reason": "` + long(1025) + `"}`, want: invalid},
		{name: "emergency: another project's release", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r3) + `, "reason": "sev1"}`, want: notFound},
		{name: "emergency: override_reason too", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r2) + `, "reason": "sev1", "override_reason": "x"}`, want: invalid},
		{name: "emergency: reason of the wrong type", route: rEmergency, target: prod + "/emergency-deployments", body: `{"release_id": ` + q(ids.r2) + `, "reason": ["sev1"]}`, want: invalid},

		// PUT .../lock
		{name: "lock: blank reason", route: rLock, target: stage + "/lock", body: `{"reason": "   "}`, want: invalid},
		{name: "lock: tab and newline reason", route: rLock, target: stage + "/lock", body: `{"reason": "\t\n"}`, want: invalid},
		{name: "lock: no reason", route: rLock, target: stage + "/lock", body: `{}`, want: invalid},
		{name: "lock: reason with RLO", route: rLock, target: stage + "/lock", body: `{"reason": "x\u202e"}`, want: invalid},
		{name: "lock: reason with NUL", route: rLock, target: stage + "/lock", body: `{"reason": "x\u0000"}`, want: invalid},
		{name: "lock: negative expiry", route: rLock, target: stage + "/lock", body: `{"reason": "x", "expires_at": -1}`, want: invalid},
		{name: "lock: expiry in the past", route: rLock, target: stage + "/lock", body: fmt.Sprintf(`{"reason": "x", "expires_at": %d}`, now.Unix()-60), want: invalid},
		{name: "lock: expiry past int64", route: rLock, target: stage + "/lock", body: `{"reason": "x", "expires_at": 1e30}`, want: invalid},
		{name: "lock: expiry as a string", route: rLock, target: stage + "/lock", body: `{"reason": "x", "expires_at": "tomorrow"}`, want: invalid},
		{name: "lock: fractional expiry", route: rLock, target: stage + "/lock", body: fmt.Sprintf(`{"reason": "x", "expires_at": %d.5}`, t0), want: invalid},
		{name: "lock: duplicate reason", route: rLock, target: stage + "/lock", body: `{"reason": "x", "reason": "   "}`, want: invalid},

		// DELETE .../lock
		{name: "unlock: query", route: rUnlock, target: prod + "/lock?force=true", want: invalid},
		{name: "unlock: latest", route: rUnlock, target: base + "/environments/latest/lock", want: notFound},
		{name: "unlock: another project's prod through an encoded path", route: rUnlock, target: "/projects/x%2F..%2F" + other + "/environments/prod/lock", want: invalid},

		// POST .../rollback
		{name: "rollback: blank reason", route: rRollback, target: stage + "/rollback", body: `{"reason": "  "}`, want: invalid},
		{name: "rollback: no reason", route: rRollback, target: stage + "/rollback", body: `{}`, want: invalid},
		{name: "rollback: to another project's deployment", route: rRollback, target: stage + "/rollback", body: `{"reason": "bad", "to_deployment": ` + q(ids.d3) + `}`, want: notFound},
		{name: "rollback: to another environment's deployment", route: rRollback, target: stage + "/rollback", body: `{"reason": "bad", "to_deployment": ` + q(ids.d2) + `}`, want: notFound},
		{name: "rollback: to a traversal id", route: rRollback, target: stage + "/rollback", body: `{"reason": "bad", "to_deployment": "../x"}`, want: invalid},
		{name: "rollback: hold as a string", route: rRollback, target: stage + "/rollback", body: `{"reason": "bad", "hold": "yes"}`, want: invalid},
		{name: "rollback: the locked prod", route: rRollback, target: prod + "/rollback", body: `{"reason": "bad"}`, want: conflict},
		{name: "rollback: release_id smuggled in", route: rRollback, target: stage + "/rollback", body: `{"reason": "bad", "release_id": ` + q(ids.r1) + `}`, want: invalid},
		{name: "rollback: reason with RLO", route: rRollback, target: stage + "/rollback", body: `{"reason": "bad\u202e"}`, want: invalid},
		{name: "rollback: to the current deployment", route: rRollback, target: stage + "/rollback", body: `{"reason": "bad", "to_deployment": ` + q(ids.d4) + `}`, want: conflict},

		// POST .../approvals (bugfarm's environments need no approvals: a valid approval is refused 409)
		{name: "approve: no release_id", route: rApprove, target: prod + "/approvals", body: `{}`, want: invalid, msg: "release_id: is required"},
		{name: "approve: release_id as a number", route: rApprove, target: prod + "/approvals", body: `{"release_id": 1}`, want: invalid},
		{name: "approve: another project's release", route: rApprove, target: prod + "/approvals", body: `{"release_id": ` + q(ids.r3) + `}`, want: notFound},
		{name: "approve: a traversal release id", route: rApprove, target: prod + "/approvals", body: `{"release_id": "../` + ids.r1 + `"}`, want: invalid},
		{name: "approve: latest", route: rApprove, target: prod + "/approvals", body: `{"release_id": "latest"}`, want: invalid, msg: "by its id"},
		{name: "approve: someone else named in the body", route: rApprove, target: prod + "/approvals", body: `{"release_id": ` + q(ids.r1) + `, "by": {"id": "alice"}}`, want: invalid},
		{name: "approve: release_id in the query", route: rApprove, target: prod + "/approvals?release_id=" + ids.r1, body: `{"release_id": ` + q(ids.r1) + `}`, want: invalid},
		{name: "approve: an environment that needs none", route: rApprove, target: stage + "/approvals", body: `{"release_id": ` + q(ids.r1) + `}`, want: conflict, msg: "needs no approvals"},
		{name: "approve: duplicate release_id", route: rApprove, target: prod + "/approvals", body: `{"release_id": ` + q(ids.r1) + `, "release_id": ` + q(ids.r3) + `}`, want: invalid, msg: "twice"},

		// DELETE .../approvals
		{name: "withdraw: no release_id", route: rWithdraw, target: prod + "/approvals", want: invalid, msg: "release_id: is required"},
		{name: "withdraw: release_id twice", route: rWithdraw, target: prod + "/approvals?release_id=" + ids.r1 + "&release_id=" + ids.r3, want: invalid},
		{name: "withdraw: someone else's, named in the query", route: rWithdraw, target: prod + "/approvals?release_id=" + ids.r1 + "&by=alice", want: invalid},
		{name: "withdraw: another project's release", route: rWithdraw, target: prod + "/approvals?release_id=" + ids.r3, want: notFound},
		{name: "withdraw: a release id with RLO", route: rWithdraw, target: prod + "/approvals?release_id=01J%E2%80%AE", want: invalid},

		// GET .../approvals
		{name: "approvals: no environment", route: rApprovals, target: base + "/releases/" + ids.r1 + "/approvals", want: invalid, msg: "environment: is required"},
		{name: "approvals: latest", route: rApprovals, target: base + "/releases/latest/approvals?environment=prod", want: invalid, msg: "by its id"},
		{name: "approvals: a traversal environment", route: rApprovals, target: base + "/releases/" + ids.r1 + "/approvals?environment=..%2Fprod", want: invalid},
		{name: "approvals: a limit it does not take", route: rApprovals, target: base + "/releases/" + ids.r1 + "/approvals?environment=prod&limit=1", want: invalid},
		{name: "approvals: another project's release", route: rApprovals, target: base + "/releases/" + ids.r3 + "/approvals?environment=prod", want: notFound},
		{name: "approvals: an environment named twice", route: rApprovals, target: base + "/releases/" + ids.r1 + "/approvals?environment=prod&environment=stage", want: invalid},

		// PUT /projects/{project}/freezes/{freeze}
		{name: "freeze: unknown environment", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["prd"], "starts_at": %d, "ends_at": %d, "reason": "x"}`, t0, t1), want: notFound},
		{name: "freeze: latest", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["latest"], "starts_at": %d, "ends_at": %d, "reason": "x"}`, t0, t1), want: notFound},
		{name: "freeze: environments as a string", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": "stage", "starts_at": %d, "ends_at": %d, "reason": "x"}`, t0, t1), want: invalid},
		{name: "freeze: ends before it starts", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": %d, "reason": "x"}`, t1, t0), want: invalid},
		{name: "freeze: already over", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": %d, "reason": "x"}`, now.Unix()-7200, now.Unix()-3600), want: invalid},
		{name: "freeze: negative start", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": -1, "ends_at": %d, "reason": "x"}`, t1), want: invalid},
		{name: "freeze: no end", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "reason": "x"}`, t0), want: invalid},
		{name: "freeze: end past int64", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": 1e20, "reason": "x"}`, t0), want: invalid},
		{name: "freeze: blank reason", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": %d, "reason": " \t "}`, t0, t1), want: invalid},
		{name: "freeze: reason with RLO", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": %d, "reason": "x\u202e"}`, t0, t1), want: invalid},
		{name: "freeze: reason over the limit", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["stage"], "starts_at": %d, "ends_at": %d, "reason": "%s"}`, t0, t1, long(1025)), want: invalid},
		{name: "freeze: unknown field", route: rFreeze, target: base + "/freezes/f1", body: freeze(`, "project_id": "other"`), want: invalid},
		{name: "freeze: duplicate environments", route: rFreeze, target: base + "/freezes/f1", body: freeze(`, "environments": []`), want: invalid, msg: "twice"},
		{name: "freeze: environment with traversal", route: rFreeze, target: base + "/freezes/f1", body: fmt.Sprintf(`{"environments": ["../prod"], "starts_at": %d, "ends_at": %d, "reason": "x"}`, t0, t1), want: notFound},
		{name: "freeze: empty body", route: rFreeze, target: base + "/freezes/f1", want: invalid},

		// PUT .../environments/{environment}/freezes/{freeze}
		{name: "environment freeze: body naming environments", route: rEnvFreeze, target: stage + "/freezes/f1", body: envFreeze(`, "environments": ["prod"]`), want: invalid, msg: "environments"},
		{name: "environment freeze: body naming its own environment", route: rEnvFreeze, target: stage + "/freezes/f1", body: envFreeze(`, "environments": ["stage"]`), want: invalid, msg: "environments"},
		{name: "environment freeze: body naming all environments", route: rEnvFreeze, target: stage + "/freezes/f1", body: envFreeze(`, "environments": []`), want: invalid, msg: "environments"},
		{name: "environment freeze: prod's freeze rewritten through stage", route: rEnvFreeze, target: stage + "/freezes/xmas", body: envFreeze(``), want: conflict, msg: "covers prod"},
		{name: "environment freeze: stage's freeze rewritten through prod", route: rEnvFreeze, target: prod + "/freezes/" + stageFreeze, body: envFreeze(``), want: conflict, msg: "covers stage"},
		{name: "environment freeze: a freeze of every environment rewritten through stage", route: rEnvFreeze, target: "/projects/" + other + "/environments/stage/freezes/audit", body: envFreeze(``), want: conflict, msg: "all environments"},
		{name: "environment freeze: unknown environment", route: rEnvFreeze, target: base + "/environments/prd/freezes/f1", body: envFreeze(``), want: notFound},
		{name: "environment freeze: latest", route: rEnvFreeze, target: base + "/environments/latest/freezes/f1", body: envFreeze(``), want: notFound},
		{name: "environment freeze: ends before it starts", route: rEnvFreeze, target: stage + "/freezes/f1", body: fmt.Sprintf(`{"starts_at": %d, "ends_at": %d, "reason": "x"}`, t1, t0), want: invalid},
		{name: "environment freeze: already over", route: rEnvFreeze, target: stage + "/freezes/f1", body: fmt.Sprintf(`{"starts_at": %d, "ends_at": %d, "reason": "x"}`, now.Unix()-7200, now.Unix()-3600), want: invalid},
		{name: "environment freeze: blank reason", route: rEnvFreeze, target: stage + "/freezes/f1", body: fmt.Sprintf(`{"starts_at": %d, "ends_at": %d, "reason": "  "}`, t0, t1), want: invalid},
		{name: "environment freeze: reason with RLO", route: rEnvFreeze, target: stage + "/freezes/f1", body: fmt.Sprintf(`{"starts_at": %d, "ends_at": %d, "reason": "x\u202e"}`, t0, t1), want: invalid},
		{name: "environment freeze: duplicate reason", route: rEnvFreeze, target: stage + "/freezes/f1", body: envFreeze(`, "reason": " "`), want: invalid, msg: "twice"},
		{name: "environment freeze: project in the body", route: rEnvFreeze, target: stage + "/freezes/f1", body: envFreeze(`, "project_id": "other"`), want: invalid},
		{name: "environment freeze: empty body", route: rEnvFreeze, target: stage + "/freezes/f1", want: invalid},
		{name: "environment freeze: body over 1 MiB", route: rEnvFreeze, target: stage + "/freezes/f1", body: oversized, want: invalid, status: http.StatusRequestEntityTooLarge},
		{name: "environment freeze: freeze id with traversal", route: rEnvFreeze, target: stage + "/freezes/..%2F..%2Ffreezes%2Fxmas", body: envFreeze(``), want: invalid},

		// DELETE .../environments/{environment}/freezes/{freeze}
		{name: "environment thaw: prod's freeze lifted through stage", route: rEnvThaw, target: stage + "/freezes/xmas", want: notFound, msg: "no freeze"},
		{name: "environment thaw: stage's freeze lifted through prod", route: rEnvThaw, target: prod + "/freezes/" + stageFreeze, want: notFound, msg: "no freeze"},
		{name: "environment thaw: a freeze of every environment lifted through stage", route: rEnvThaw, target: "/projects/" + other + "/environments/stage/freezes/audit", want: conflict, msg: "all environments"},
		{name: "environment thaw: another project's freeze", route: rEnvThaw, target: stage + "/freezes/audit", want: notFound},
		{name: "environment thaw: unknown environment", route: rEnvThaw, target: base + "/environments/prd/freezes/" + stageFreeze, want: notFound},
		{name: "environment thaw: query", route: rEnvThaw, target: stage + "/freezes/" + stageFreeze + "?environment=stage", want: invalid},
		{name: "environment thaw: freeze id in capitals", route: rEnvThaw, target: stage + "/freezes/STAGE-WINDOW", want: notFound},

		// GET /projects/{project}/freezes
		{name: "freezes: query", route: rFreezes, target: base + "/freezes?environment=prod", want: invalid},
		{name: "freezes: unregistered project", route: rFreezes, target: "/projects/bugfarm_73649/freezes", want: notFound},
		{name: "freezes: HEAD with a query", route: rFreezes, method: http.MethodHead, target: base + "/freezes?x=1", want: invalid},

		// DELETE /projects/{project}/freezes/{freeze}
		{name: "thaw: another project's freeze", route: rThaw, target: base + "/freezes/audit", want: notFound},
		{name: "thaw: query", route: rThaw, target: base + "/freezes/xmas?environment=stage", want: invalid},
		{name: "thaw: freeze id in capitals", route: rThaw, target: base + "/freezes/XMAS", want: notFound},

		// GET /projects/{project}/metrics
		{name: "metrics: no environment", route: rMetrics, target: base + "/metrics", want: invalid},
		{name: "metrics: unknown environment", route: rMetrics, target: base + "/metrics?environment=prd", want: notFound},
		{name: "metrics: since after until", route: rMetrics, target: fmt.Sprintf("%s/metrics?environment=prod&since=%d&until=%d", base, t1, t0), want: invalid},
		{name: "metrics: since not a number", route: rMetrics, target: base + "/metrics?environment=prod&since=yesterday", want: invalid},
		{name: "metrics: window over the limit", route: rMetrics, target: fmt.Sprintf("%s/metrics?environment=prod&since=0&until=%d", base, now.Unix()), want: invalid},
		{name: "metrics: until past int64", route: rMetrics, target: base + "/metrics?environment=prod&until=99999999999999999999", want: invalid},
		{name: "metrics: environment with RLO", route: rMetrics, target: base + "/metrics?environment=pro%E2%80%AEd", want: invalid},

		// GET /projects/{project}/events
		{name: "events: unknown type", route: rEvents, target: base + "/events?type=nosuch", want: invalid},
		{name: "events: since not a number", route: rEvents, target: base + "/events?since=yesterday", want: invalid},
		{name: "events: since past int64", route: rEvents, target: base + "/events?since=99999999999999999999", want: invalid},
		{name: "events: limit zero", route: rEvents, target: base + "/events?limit=0", want: invalid},
		{name: "events: garbage cursor", route: rEvents, target: base + "/events?cursor=AAAA", want: invalid},
		{name: "events: type given twice", route: rEvents, target: base + "/events?type=release.created&type=deployment.requested", want: invalid},
	}
	for i := range cases {
		if cases[i].method == "" {
			cases[i].method, _, _ = strings.Cut(cases[i].route, " ")
		}
	}
	// Each case of a route that replaced a retired one, sent to the retired route (its path
	// without the environment): 410, whatever the new route answers.
	for _, c := range slices.Clone(cases) {
		for old, successor := range retiredRoutes {
			if c.route != successor {
				continue
			}
			c.name = "retired " + c.name
			c.route = old
			c.target = environmentSegment.ReplaceAllString(c.target, "")
			c.want, c.status, c.msg = gone, 0, "use "+successor
			cases = append(cases, c)
		}
	}
	return append(cases, invokeCases(ids)...)
}

// environmentSegment is the part of a path that names the environment.
var environmentSegment = regexp.MustCompile(`/environments/[^/?]+`)

// ecrEvent is an ECR Image Action event for a repository bugfarm claims, with detail's fields
// replaced or added by extra (JSON members, each starting with a comma).
func ecrEvent(envelope, detail string) string {
	return `{"version": "0", "id": "4f1d2c3e-9a51-4c1b-8a3e-2b7f0c6d5e11", "detail-type": "ECR Image Action", "source": "aws.ecr",
		"account": "760097843905", "region": "eu-west-1", "resources": []` + envelope + `, "detail": {"result": "SUCCESS",
		"action-type": "PUSH", "manifest-media-type": "application/vnd.oci.image.index.v1+json"` + detail + `}}`
}

// ecsEvent is an ECS Deployment State Change (or, with the detail-type in envelope, another) about
// service arn, dated at, with detail's members.
func ecsEvent(detailType, at, arn, envelope, detail string) string {
	return `{"version": "0", "id": "e41a0c5d-8b2f-4f36-a7d9-03c6b9e1f258", "detail-type": "` + detailType + `", "source": "aws.ecs",
		"time": "` + at + `", "resources": ["` + arn + `"]` + envelope + `, "detail": {"eventType": "ERROR"` + detail + `}}`
}

// invokeCases are the hostile payloads of each function, and requests the Invoke API itself
// must refuse.
func invokeCases(ids seeded) []hostileCase {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	long := func(n int) string { return strings.Repeat("x", n) }
	const (
		dsc     = "ECS Deployment State Change"
		sa      = "ECS Service Action"
		svcARN  = "arn:aws:ecs:eu-west-1:760097843905:service/bugfarm-stage/hatching"
		failed  = `, "eventName": "SERVICE_DEPLOYMENT_FAILED", "deploymentId": "ecs-svc/4710394721049382715", "reason": "circuit breaker"`
		where   = `, "account": "760097843905", "region": "eu-west-1"`
		digest  = `, "repository-name": "bugfarm/hatching", "image-digest": "sha256:` + "00000000000000000000000000000000000000000000000000000000000000ff" + `"`
		pushTag = `, "image-tag": "build-99"`
	)
	at := now.Add(time.Minute).Format(time.RFC3339)
	pushAt := `, "time": "` + now.Add(-time.Minute).Format(time.RFC3339) + `"`
	release := func(fields string) string { return `{"project_id": "bugfarm"` + fields + `}` }
	dep := func(fields string) string { return `{"project_id": "bugfarm", "environment": "stage"` + fields + `}` }
	// report is a report the deploy function would take (stage's current deployment failed),
	// with fields added.
	report := func(fields string) string {
		return `{"project_id": "bugfarm", "report": {"deployment_id": ` + q(ids.d4) + `, "status": "failed"}` + fields + `}`
	}
	// requester is a requested_by member naming who.
	requester := func(who string) string { return `, "requested_by": ` + who }
	r1 := `, "release_id": ` + q(ids.r1)
	return []hostileCase{
		// create-release
		{name: "create-release: empty payload", fn: fCreate, body: ``, want: invalid},
		{name: "create-release: null", fn: fCreate, body: `null`, want: invalid},
		{name: "create-release: array", fn: fCreate, body: `[{"project_id": "bugfarm"}]`, want: invalid},
		{name: "create-release: malformed JSON", fn: fCreate, body: `{"project_id": "bugfarm"`, want: invalid},
		{name: "create-release: duplicate project_id", fn: fCreate, body: `{"project_id": "bugfarm", "project_id": "other"}`, want: invalid, msg: "twice"},
		{name: "create-release: unknown project", fn: fCreate, body: `{"project_id": "nosuch"}`, want: notFound},
		{name: "create-release: empty project", fn: fCreate, body: `{"project_id": ""}`, want: invalid},
		{name: "create-release: project with traversal", fn: fCreate, body: `{"project_id": "../other"}`, want: invalid},
		{name: "create-release: project with a slash", fn: fCreate, body: `{"project_id": "bugfarm/images"}`, want: invalid},
		{name: "create-release: project with RLO", fn: fCreate, body: `{"project_id": "bugfarm\u202e"}`, want: invalid},
		{name: "create-release: project of the wrong type", fn: fCreate, body: `{"project_id": 7}`, want: invalid},
		{name: "create-release: unknown field", fn: fCreate, body: release(`, "labl": "latest"`), want: invalid},
		{name: "create-release: label with nothing under it", fn: fCreate, body: release(`, "label": "nosuch"`), want: notFound, msg: "the label has no images"},
		{name: "create-release: description over the limit", fn: fCreate, body: release(`, "description": "` + long(1025) + `"`), want: invalid},
		{name: "create-release: description with zero-width space", fn: fCreate, body: release(`, "description": "\u200b"`), want: invalid},
		{name: "create-release: requester with RLO", fn: fCreate, body: release(`, "requested_by": {"id": "alice\u202e"}`), want: invalid},
		{name: "create-release: requester blank", fn: fCreate, body: release(`, "requested_by": {"id": "   "}`), want: invalid},
		{name: "create-release: requester as a string", fn: fCreate, body: release(`, "requested_by": "alice"`), want: invalid},
		{name: "create-release: requester names its channel", fn: fCreate, body: release(`, "requested_by": {"id": "alice", "via": "api"}`), want: invalid},
		{name: "create-release: requester name over the limit", fn: fCreate, body: release(`, "requested_by": {"id": "alice", "name": "` + long(257) + `"}`), want: invalid},
		{name: "create-release: requester ecs", fn: fCreate, body: release(requester(`{"id": "ecs", "name": "Amazon ECS"}`)), want: invalid, msg: "what shiplog records for Amazon ECS"},
		{name: "create-release: requester shiplog", fn: fCreate, body: release(requester(`{"id": "shiplog"}`)), want: invalid, msg: "what shiplog records for shiplog"},
		{name: "create-release: requester IAM role ARN", fn: fCreate, body: release(requester(`{"id": "arn:aws:iam::760097843905:role/deployer"}`)), want: invalid, msg: "shaped like an ARN"},
		{name: "create-release: requester service principal", fn: fCreate, body: release(requester(`{"id": "ci", "name": "ecs.amazonaws.com"}`)), want: invalid, msg: "service principal"},
		{name: "create-release: requester id twice", fn: fCreate, body: release(`, "requested_by": {"id": "alice", "id": "ecs"}`), want: invalid},
		{name: "create-release: manifest of another project only", fn: fCreate, body: release(`, "manifest": {"other": ` + otherEntry + `}`), want: invalid},
		{name: "create-release: manifest as a number", fn: fCreate, body: release(`, "manifest": 42`), want: invalid},
		{name: "create-release: manifest string with a duplicate key", fn: fCreate, body: release(`, "manifest": ` + q(`{"bugfarm": `+bugfarmEntry+`, "bugfarm": `+bugfarmEntry+`}`)), want: invalid},
		{name: "create-release: manifest with a duplicate name", fn: fCreate, body: release(`, "manifest": {"bugfarm": {"name": "A", "name": "B", "environments": [{"id": "stage"}, {"id": "prod"}], "image_repositories": [{"id": "bugfarm/hatching"}]}}`), want: invalid},
		{name: "create-release: manifest name with RLO", fn: fCreate, body: release(`, "manifest": {"bugfarm": {"name": "a\u202eb", "environments": [{"id": "stage"}, {"id": "prod"}], "image_repositories": [{"id": "bugfarm/hatching"}]}}`), want: invalid},
		{name: "create-release: manifest drops deployed prod", fn: fCreate, body: release(`, "manifest": {"bugfarm": {"name": "Bug farm", "environments": [{"id": "stage"}], "image_repositories": [{"id": "bugfarm/hatching"}, {"id": "bugfarm/feeding"}]}}`), want: conflict},
		{name: "create-release: retire with traversal", fn: fCreate, body: release(`, "manifest": {"bugfarm": ` + bugfarmEntry + `}, "retire_environments": ["../prod"]`), want: invalid},
		{name: "create-release: idempotency key reused for another request", fn: fCreate, body: release(`, "idempotency_key": "` + key + `", "description": "other"`), want: conflict},
		{name: "create-release: idempotency key too long", fn: fCreate, body: release(`, "idempotency_key": "` + long(10000) + `"`), want: invalid},
		{name: "create-release: idempotency key with a newline", fn: fCreate, body: release(`, "idempotency_key": "a\nb"`), want: invalid},
		{name: "create-release: deeply nested manifest", fn: fCreate, body: release(`, "manifest": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000)), want: invalid},

		// deploy
		{name: "deploy function: empty object", fn: fDeploy, body: `{}`, want: invalid},
		{name: "deploy function: nothing to deploy", fn: fDeploy, body: dep(``), want: invalid},
		{name: "deploy function: another project's release", fn: fDeploy, body: dep(`, "release_id": ` + q(ids.r3)), want: notFound},
		{name: "deploy function: to the locked prod", fn: fDeploy, body: `{"project_id": "bugfarm", "environment": "prod", "release_id": ` + q(ids.r2) + `}`, want: conflict},
		{name: "deploy function: to latest", fn: fDeploy, body: `{"project_id": "bugfarm", "environment": "latest"` + r1 + `}`, want: invalid},
		{name: "deploy function: to an unknown environment", fn: fDeploy, body: `{"project_id": "bugfarm", "environment": "prd"` + r1 + `}`, want: notFound},
		{name: "deploy function: environment with RLO", fn: fDeploy, body: `{"project_id": "bugfarm", "environment": "st\u202eage"` + r1 + `}`, want: invalid},
		{name: "deploy function: duplicate environment", fn: fDeploy, body: `{"project_id": "bugfarm", "environment": "stage", "environment": "prod"` + r1 + `}`, want: invalid, msg: "twice"},
		{name: "deploy function: dry_run as a string", fn: fDeploy, body: dep(r1 + `, "dry_run": "true"`), want: invalid},
		{name: "deploy function: blank override reason", fn: fDeploy, body: `{"project_id": "bugfarm", "environment": "prod", "release_id": ` + q(ids.r2) + `, "override_reason": "   "}`, want: invalid},
		{name: "deploy function: override reason with RLO", fn: fDeploy, body: `{"project_id": "bugfarm", "environment": "prod", "release_id": ` + q(ids.r2) + `, "override_reason": "sev1\u202e"}`, want: invalid},
		{name: "deploy function: rollback with a release", fn: fDeploy, body: dep(r1 + `, "rollback": true, "reason": "bad"`), want: invalid},
		{name: "deploy function: rollback with a blank reason", fn: fDeploy, body: dep(`, "rollback": true, "reason": "  "`), want: invalid},
		{name: "deploy function: rollback fields without rollback", fn: fDeploy, body: dep(r1 + `, "hold": true`), want: invalid},
		{name: "deploy function: rollback to another project's deployment", fn: fDeploy, body: dep(`, "rollback": true, "reason": "bad", "to_deployment": ` + q(ids.d3)), want: notFound},
		{name: "deploy function: report with a deploy's fields", fn: fDeploy, body: dep(`, "report": {"deployment_id": ` + q(ids.d4) + `, "status": "verified"}`), want: invalid},
		{name: "deploy function: report of an unknown status", fn: fDeploy, body: `{"project_id": "bugfarm", "report": {"deployment_id": ` + q(ids.d4) + `, "status": "bogus"}}`, want: invalid},
		{name: "deploy function: report on another project's deployment", fn: fDeploy, body: `{"project_id": "bugfarm", "report": {"deployment_id": ` + q(ids.d3) + `, "status": "failed"}}`, want: notFound},
		{name: "deploy function: report on a superseded deployment", fn: fDeploy, body: `{"project_id": "bugfarm", "report": {"deployment_id": ` + q(ids.d1) + `, "status": "failed"}}`, want: conflict},
		{name: "deploy function: report with an unknown field", fn: fDeploy, body: `{"project_id": "bugfarm", "report": {"deployment_id": ` + q(ids.d4) + `, "status": "failed", "by": "ecs"}}`, want: invalid},
		{name: "deploy function: idempotency key with control characters", fn: fDeploy, body: dep(r1 + `, "idempotency_key": "k\u0007"`), want: invalid},
		{name: "deploy function: description with ESC", fn: fDeploy, body: dep(r1 + `, "description": "\u001b[31mred"`), want: invalid},
		{name: "deploy function: trailing data", fn: fDeploy, body: dep(r1) + ` {}`, want: invalid},
		{name: "deploy function: requester ecs", fn: fDeploy, body: dep(r1 + requester(`{"id": "ECS", "name": "Amazon ECS"}`)), want: invalid, msg: "what shiplog records for Amazon ECS"},
		{name: "deploy function: requester shiplog", fn: fDeploy, body: dep(r1 + requester(`{"id": "ci", "name": "shiplog"}`)), want: invalid, msg: "what shiplog records for shiplog"},
		{name: "deploy function: requester IAM role ARN", fn: fDeploy, body: dep(r1 + requester(`{"id": "arn:aws:sts::760097843905:assumed-role/deployer/alice"}`)), want: invalid, msg: "shaped like an ARN"},
		{name: "deploy function: requester service principal", fn: fDeploy, body: dep(r1 + requester(`{"id": "ecs-tasks.amazonaws.com"}`)), want: invalid, msg: "service principal"},
		{name: "deploy function: report requester ecs", fn: fDeploy, body: report(requester(`{"id": "ecs", "name": "Amazon ECS"}`)), want: invalid, msg: "what shiplog records for Amazon ECS"},
		{name: "deploy function: report requester shiplog", fn: fDeploy, body: report(requester(`{"id": "Shiplog"}`)), want: invalid, msg: "what shiplog records for shiplog"},
		{name: "deploy function: report requester IAM role ARN", fn: fDeploy, body: report(requester(`{"id": "ci", "name": "arn:aws:iam::760097843905:role/reporter"}`)), want: invalid, msg: "shaped like an ARN"},
		{name: "deploy function: report requester service principal", fn: fDeploy, body: report(requester(`{"id": "events.amazonaws.com"}`)), want: invalid, msg: "service principal"},
		{name: "deploy function: requester with zero-width space", fn: fDeploy, body: dep(r1 + `, "requested_by": {"id": "al\u200bice"}`), want: invalid},

		// ecr-push
		{name: "ecr-push: not an ECR event", fn: fPush, body: strings.Replace(ecrEvent(pushAt, digest+pushTag), `"aws.ecr"`, `"aws.ecs"`, 1), want: invalid},
		{name: "ecr-push: another detail-type", fn: fPush, body: strings.Replace(ecrEvent(pushAt, digest+pushTag), `"ECR Image Action"`, `"ECR Image Scan"`, 1), want: invalid},
		{name: "ecr-push: no time", fn: fPush, body: ecrEvent(``, digest+pushTag), want: invalid},
		{name: "ecr-push: duplicate repository", fn: fPush, body: ecrEvent(pushAt, digest+pushTag+`, "repository-name": "other/app"`), want: invalid, msg: "twice"},
		{name: "ecr-push: repository with traversal", fn: fPush, body: ecrEvent(pushAt, `, "repository-name": "../bugfarm/hatching", "image-digest": "sha256:`+strings.Repeat("0", 64)+`"`+pushTag), want: invalid},
		{name: "ecr-push: malformed digest", fn: fPush, body: ecrEvent(pushAt, `, "repository-name": "bugfarm/hatching", "image-digest": "sha256:zz"`+pushTag), want: invalid},
		{name: "ecr-push: tag with RLO", fn: fPush, body: ecrEvent(pushAt, digest+`, "image-tag": "v1\u202e"`), want: invalid},
		{name: "ecr-push: tag over ECR's limit", fn: fPush, body: ecrEvent(pushAt, digest+`, "image-tag": "`+long(400)+`"`), want: invalid},
		{name: "ecr-push: detail as a string", fn: fPush, body: `{"detail-type": "ECR Image Action", "source": "aws.ecr", "time": "2026-11-21T09:00:00Z", "detail": "PUSH"}`, want: invalid},
		{name: "ecr-push: a tag shiplog moves", fn: fPush, body: ecrEvent(pushAt, digest+`, "image-tag": "env.prod"`), want: ignored},
		{name: "ecr-push: a delete", fn: fPush, body: strings.Replace(ecrEvent(pushAt, digest+pushTag), `"PUSH"`, `"DELETE"`, 1), want: ignored},
		{name: "ecr-push: a failed push", fn: fPush, body: strings.Replace(ecrEvent(pushAt, digest+pushTag), `"SUCCESS"`, `"FAILURE"`, 1), want: ignored},
		{name: "ecr-push: dated an hour ahead", fn: fPush, body: ecrEvent(`, "time": "`+now.Add(time.Hour).Format(time.RFC3339)+`"`, digest+pushTag), want: ignored},
		{name: "ecr-push: a repository nobody claims", fn: fPush, body: ecrEvent(pushAt, `, "repository-name": "mallory/app", "image-digest": "sha256:`+strings.Repeat("0", 64)+`"`+pushTag), want: ignored},
		{name: "ecr-push: untagged", fn: fPush, body: ecrEvent(pushAt, digest), want: ignored},

		// ecs-events
		{name: "ecs-events: not an ECS event", fn: fECS, body: strings.Replace(ecsEvent(dsc, at, svcARN, where, failed), `"aws.ecs"`, `"aws.ecr"`, 1), want: invalid},
		{name: "ecs-events: no time", fn: fECS, body: strings.Replace(ecsEvent(dsc, at, svcARN, where, failed), `"time": "`+at+`", `, ``, 1), want: invalid},
		{name: "ecs-events: no resources", fn: fECS, body: strings.Replace(ecsEvent(dsc, at, svcARN, where, failed), `["`+svcARN+`"]`, `[]`, 1), want: invalid},
		{name: "ecs-events: resource not a service ARN", fn: fECS, body: ecsEvent(dsc, at, "arn:aws:ecs:eu-west-1:760097843905:task/bugfarm-stage/abc", where, failed), want: invalid},
		{name: "ecs-events: cluster with traversal", fn: fECS, body: ecsEvent(dsc, at, "arn:aws:ecs:eu-west-1:760097843905:service/../hatching", where, failed), want: invalid},
		{name: "ecs-events: no eventName", fn: fECS, body: ecsEvent(dsc, at, svcARN, where, ``), want: invalid},
		{name: "ecs-events: deployment id with spaces", fn: fECS, body: ecsEvent(dsc, at, svcARN, where, `, "eventName": "SERVICE_DEPLOYMENT_FAILED", "deploymentId": "ecs svc 1"`), want: invalid},
		{name: "ecs-events: duplicate eventName", fn: fECS, body: ecsEvent(dsc, at, svcARN, where, failed+`, "eventName": "SERVICE_DEPLOYMENT_COMPLETED"`), want: invalid, msg: "twice"},
		{name: "ecs-events: detail as a string", fn: fECS, body: `{"detail-type": "` + dsc + `", "source": "aws.ecs", "time": "` + at + `", "resources": ["` + svcARN + `"], "detail": "FAILED"}`, want: invalid},
		{name: "ecs-events: from another account", fn: fECS, body: ecsEvent(dsc, at, "arn:aws:ecs:eu-west-1:999999999999:service/bugfarm-stage/hatching", `, "account": "999999999999", "region": "eu-west-1"`, failed), want: ignored},
		{name: "ecs-events: from another region", fn: fECS, body: ecsEvent(dsc, at, "arn:aws:ecs:us-east-1:760097843905:service/bugfarm-stage/hatching", `, "account": "760097843905", "region": "us-east-1"`, failed), want: ignored},
		{name: "ecs-events: envelope and ARN disagree", fn: fECS, body: ecsEvent(dsc, at, svcARN, `, "account": "999999999999", "region": "eu-west-1"`, failed), want: ignored},
		{name: "ecs-events: dated 2001", fn: fECS, body: ecsEvent(dsc, "2001-01-01T00:00:00Z", svcARN, where, failed), want: ignored},
		{name: "ecs-events: dated a day ahead", fn: fECS, body: ecsEvent(dsc, now.Add(24*time.Hour).Format(time.RFC3339), svcARN, where, failed), want: ignored},
		{name: "ecs-events: an ECS deployment ECS does not list", fn: fECS, body: ecsEvent(dsc, at, svcARN, where, failed), want: ignored},
		{name: "ecs-events: a failure naming no ECS deployment", fn: fECS, body: ecsEvent(dsc, at, svcARN, where, `, "eventName": "SERVICE_DEPLOYMENT_FAILED", "reason": "forged"`), want: ignored},
		{name: "ecs-events: a service nobody runs", fn: fECS, body: ecsEvent(dsc, at, "arn:aws:ecs:eu-west-1:760097843905:service/bugfarm-stage/mallory", where, failed), want: ignored},
		{name: "ecs-events: steady state while nothing runs the images", fn: fECS, body: ecsEvent(sa, at, svcARN, where, `, "eventName": "SERVICE_STEADY_STATE"`), want: ignored},
		{name: "ecs-events: an eventName that decides nothing", fn: fECS, body: ecsEvent(dsc, at, svcARN, where, `, "eventName": "SERVICE_TASK_PLACEMENT_FAILURE"`), want: ignored},
		{name: "ecs-events: a reason of control characters", fn: fECS, body: ecsEvent(dsc, at, svcARN, where, `, "eventName": "SERVICE_DEPLOYMENT_FAILED", "deploymentId": "ecs-svc/1", "reason": "\u001b[2J\u202e`+long(5000)+`"`), want: ignored},

		// The Invoke API itself.
		{name: "invoke: unknown function", target: "/2015-03-31/functions/nosuch/invocations", want: "ResourceNotFoundException", status: http.StatusNotFound},
		{name: "invoke: the api function, which is not invoked directly", target: "/2015-03-31/functions/" + awslambda.APIName + "/invocations", want: "ResourceNotFoundException", status: http.StatusNotFound},
		{name: "invoke: function name with traversal", target: "/2015-03-31/functions/..%2Fdeploy/invocations", want: "ResourceNotFoundException", status: http.StatusNotFound},
		{name: "invoke: unclean path", target: "/2015-03-31/functions/x/../deploy/invocations", want: "UnknownOperationException", status: http.StatusNotFound},
		{name: "invoke: unknown invocation type", target: "/2015-03-31/functions/deploy/invocations", header: http.Header{"X-Amz-Invocation-Type": {"Bogus"}}, body: dep(r1), want: "InvalidParameterValueException", status: http.StatusBadRequest},
		{name: "invoke: payload over 6 MiB", target: "/2015-03-31/functions/deploy/invocations", body: dep(`, "description": "` + long(7<<20) + `"`), want: "RequestTooLargeException", status: http.StatusRequestEntityTooLarge},
		{name: "invoke: GET", method: http.MethodGet, target: "/2015-03-31/functions/deploy/invocations", want: "UnknownOperationException", status: http.StatusNotFound},
	}
}
