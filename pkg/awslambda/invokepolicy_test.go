package awslambda_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestParseInvokePolicy(t *testing.T) {
	tests := []struct {
		name, allow, privileged string
		wantAllow, wantPriv     string // the policy written back in the parameters' form
		wantErr                 string
	}{
		{name: "empty allows nothing"},
		{name: "pairs", allow: "storage/stage,catalogue_pipeline/stage", wantAllow: "storage/stage,catalogue_pipeline/stage"},
		{name: "wildcards", allow: "*/stage,storage/*", wantAllow: "*/stage,storage/*"},
		{name: "privileges, a repeat once", privileged: "report,manifest,report", wantPriv: "report,manifest"},
		{name: "every privilege", privileged: "override_reason,hold,report,manifest", wantPriv: "override_reason,hold,report,manifest"},
		{name: "no slash", allow: "storage", wantErr: `entry "storage": want project/environment`},
		{name: "empty entry", allow: "storage/stage,", wantErr: `entry "": want project/environment`},
		{name: "space", allow: "storage/stage, storage/prod", wantErr: `entry " storage/prod"`},
		{name: "empty environment", allow: "storage/", wantErr: "environment: is required"},
		{name: "glob is not a wildcard", allow: "storage/st*", wantErr: "environment: \"st*\" may contain only"},
		{name: "two slashes", allow: "storage/stage/x", wantErr: "environment: \"stage/x\" may contain only"},
		{name: "unknown privilege", privileged: "report,break-glass", wantErr: `invoke privilege "break-glass": want some of override_reason,hold,report,manifest`},
		{name: "privilege in the wrong case", privileged: "Report", wantErr: `invoke privilege "Report"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := awslambda.ParseInvokePolicy(tt.allow, tt.privileged)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.AllowList(); got != tt.wantAllow {
				t.Errorf("AllowList: got %q, want %q", got, tt.wantAllow)
			}
			if got := p.PrivilegeList(); got != tt.wantPriv {
				t.Errorf("PrivilegeList: got %q, want %q", got, tt.wantPriv)
			}
		})
	}
}

// TestAllowAllRoundTrips: the local stack's default flags are AllowAll written out, and read back
// they are AllowAll again.
func TestAllowAllRoundTrips(t *testing.T) {
	all := awslambda.AllowAll()
	p, err := awslambda.ParseInvokePolicy(all.AllowList(), all.PrivilegeList())
	if err != nil {
		t.Fatal(err)
	}
	if p.AllowList() != "*/*" || p.PrivilegeList() != "override_reason,hold,report,manifest" {
		t.Errorf("got %q and %q, want */* and every privilege", p.AllowList(), p.PrivilegeList())
	}
}

// TestInvokePolicyEnforced: with a stack's policy, create-release and deploy refuse, as
// Forbidden and writing nothing, every target and privileged field the policy does not allow, and
// do the rest. The store holds storage's release 1 on stage and prod and release 2 on stage;
// {stage} and {prod} in a payload are those environments' current deployments, {manifest} the
// example manifest.
func TestInvokePolicyEnforced(t *testing.T) {
	tests := []struct {
		name              string
		allow, privileged string
		function, payload string
		wantType          string // "" is success
		want              string // in the error message
		writes            bool   // a success that must change the store
	}{
		// Targets.
		{name: "deploy to a listed pair", allow: "storage/stage", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"stage"}`, writes: true},
		{name: "deploy to an environment not listed", allow: "storage/stage", function: "deploy",
			payload:  `{"project_id":"storage","release_id":"latest","environment":"prod"}`,
			wantType: "Forbidden", want: `does not let the invoke channel deploy project "storage" to environment "prod" (InvokeAllowList: storage/stage)`},
		{name: "deploy of a project not listed", allow: "catalogue_pipeline/stage", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"stage"}`, wantType: "Forbidden", want: `an operator adds storage/stage to the stack's InvokeAllowList`},
		{name: "empty list deploys nowhere", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"stage"}`, wantType: "Forbidden", want: "(InvokeAllowList: empty)"},
		{name: "promotion into an environment not listed", allow: "storage/stage", function: "deploy",
			payload: `{"project_id":"storage","from_environment":"stage","environment":"prod"}`, wantType: "Forbidden", want: `environment "prod"`},
		{name: "plan of an environment not listed", allow: "storage/stage", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"prod","dry_run":true}`, wantType: "Forbidden", want: `environment "prod"`},
		{name: "any project to stage", allow: "*/stage", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"stage"}`, writes: true},
		{name: "any project to stage is not prod", allow: "*/stage", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"prod"}`, wantType: "Forbidden", want: `environment "prod"`},
		{name: "storage anywhere", allow: "storage/*", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"prod"}`, writes: true},
		{name: "a malformed payload is still Invalid", allow: "storage/stage", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"stage prod"}`, wantType: "Invalid", want: "environment: "},
		{name: "an unknown environment the list allows is NotFound", allow: "storage/*", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"qa"}`, wantType: "NotFound", want: `"qa"`},

		// Break glass.
		{name: "override_reason not allowed", allow: "storage/*", function: "deploy",
			payload:  `{"project_id":"storage","release_id":"latest","environment":"stage","override_reason":"incident 42"}`,
			wantType: "Forbidden", want: "override_reason: is not allowed on the invoke channel by this stack (InvokePrivilegedActions: empty)"},
		{name: "override_reason in a plan not allowed", allow: "storage/*", function: "deploy",
			payload:  `{"project_id":"storage","release_id":"latest","environment":"stage","override_reason":"incident 42","dry_run":true}`,
			wantType: "Forbidden", want: "override_reason: is not allowed"},
		{name: "override_reason allowed", allow: "storage/stage", privileged: "override_reason", function: "deploy",
			payload: `{"project_id":"storage","release_id":"latest","environment":"stage","override_reason":"incident 42"}`, writes: true},
		{name: "override_reason allowed, not on prod", allow: "storage/stage", privileged: "override_reason", function: "deploy",
			payload:  `{"project_id":"storage","release_id":"latest","environment":"prod","override_reason":"incident 42"}`,
			wantType: "Forbidden", want: `environment "prod"`},

		// Rollback and hold.
		{name: "rollback of a listed pair", allow: "storage/stage", function: "deploy",
			payload: `{"project_id":"storage","environment":"stage","rollback":true,"reason":"errors"}`, writes: true},
		{name: "rollback of an environment not listed", allow: "storage/stage", privileged: "hold", function: "deploy",
			payload: `{"project_id":"storage","environment":"prod","rollback":true,"reason":"errors"}`, wantType: "Forbidden", want: `environment "prod"`},
		{name: "hold not allowed", allow: "storage/stage", privileged: "override_reason,report,manifest", function: "deploy",
			payload:  `{"project_id":"storage","environment":"stage","rollback":true,"reason":"errors","hold":true}`,
			wantType: "Forbidden", want: "hold: is not allowed on the invoke channel by this stack (InvokePrivilegedActions: override_reason,report,manifest)"},
		{name: "hold allowed", allow: "storage/stage", privileged: "hold", function: "deploy",
			payload: `{"project_id":"storage","environment":"stage","rollback":true,"reason":"errors","hold":true}`, writes: true},

		// Reports.
		{name: "report not allowed", allow: "storage/*", function: "deploy",
			payload:  `{"project_id":"storage","report":{"deployment_id":"{stage}","status":"failed"}}`,
			wantType: "Forbidden", want: "report: is not allowed"},
		{name: "report allowed", allow: "storage/stage", privileged: "report", function: "deploy",
			payload: `{"project_id":"storage","report":{"deployment_id":"{stage}","status":"failed"}}`, writes: true},
		{name: "report on an environment not listed", allow: "storage/stage", privileged: "report", function: "deploy",
			payload:  `{"project_id":"storage","report":{"deployment_id":"{prod}","status":"failed"}}`,
			wantType: "Forbidden", want: `report on a deployment of project "storage" to environment "prod"`},
		{name: "report on a project not listed", allow: "catalogue_pipeline/*", privileged: "report", function: "deploy",
			payload:  `{"project_id":"storage","report":{"deployment_id":"{prod}","status":"failed"}}`,
			wantType: "Forbidden", want: `report on a deployment of project "storage"`},
		{name: "report on a project not listed says nothing of the deployment", allow: "catalogue_pipeline/*", privileged: "report", function: "deploy",
			payload:  `{"project_id":"storage","report":{"deployment_id":"01JNOSUCHDEPLOYMENT0000000","status":"failed"}}`,
			wantType: "Forbidden", want: `report on a deployment of project "storage"`},

		// Releases and the manifest.
		{name: "release of a listed project", allow: "storage/stage", function: "create-release",
			payload: `{"project_id":"storage"}`, writes: true},
		{name: "release of a project not listed", allow: "catalogue_pipeline/stage", function: "create-release",
			payload: `{"project_id":"storage"}`, wantType: "Forbidden", want: `does not let the invoke channel release project "storage"`},
		{name: "manifest not allowed", allow: "storage/stage", privileged: "override_reason,hold,report", function: "create-release",
			payload: `{"project_id":"storage","manifest":{manifest}}`, wantType: "Forbidden", want: "manifest: is not allowed"},
		{name: "retire_environments alone is still Invalid", allow: "storage/stage", function: "create-release",
			payload: `{"project_id":"storage","retire_environments":["prod"]}`, wantType: "Invalid", want: "retire_environments: needs a manifest"},
		{name: "manifest allowed", allow: "storage/stage", privileged: "manifest", function: "create-release",
			payload: `{"project_id":"storage","manifest":{manifest}}`, writes: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, deployments := policyEnv(t)
			policy, err := awslambda.ParseInvokePolicy(tt.allow, tt.privileged)
			if err != nil {
				t.Fatal(err)
			}
			payload := strings.NewReplacer("{stage}", deployments["stage"], "{prod}", deployments["prod"],
				"{manifest}", string(readFile(t, "wellcome_project.json"))).Replace(tt.payload)
			before := e.snapshot(t)
			out, err := awslambda.Functions(e.svc, e.log, policy)[tt.function].Invoke(context.Background(), []byte(payload))
			if tt.wantType != "" {
				ire := invocationError(t, err)
				if out != nil {
					t.Errorf("got output %s with the error, want none", out)
				}
				if ire.Type != tt.wantType || !strings.Contains(ire.Message, tt.want) {
					t.Errorf("got %s %q, want %s containing %q", ire.Type, ire.Message, tt.wantType, tt.want)
				}
				// The allow-list is quoted as the operator wrote it, wildcards and all.
				checkNoGoNames(t, strings.ReplaceAll(ire.Message, tt.allow, ""))
				e.unchanged(t, before)
				return
			}
			if err != nil {
				t.Fatalf("got %v, want success", err)
			}
			if tt.writes && cmp.Equal(before, e.snapshot(t)) {
				t.Errorf("store unchanged, want the %s recorded", tt.function)
			}
		})
	}
}

// policyEnv is storage registered, release 1 deployed to stage and prod, then release 2 of
// newer images to stage; it returns each environment's current deployment.
func policyEnv(t *testing.T) (*testEnv, map[string]string) {
	t.Helper()
	e := newEnv(t).registered(t).withImages(t)
	ctx := context.Background()
	current := map[string]string{}
	deploy := func(env string) {
		t.Helper()
		res, err := e.svc.Deploy(ctx, shiplog.DeployInput{ProjectID: "storage", ReleaseID: shiplog.LatestRelease, Environment: env})
		if err != nil {
			t.Fatalf("deploy to %s: %v", env, err)
		}
		current[env] = res.Deployment.ID
	}
	for i, envs := range [][]string{{"stage", "prod"}, {"stage"}} {
		if i > 0 {
			if err := e.store.PutParameters(ctx, map[string]string{
				shiplog.ParameterName("storage", "latest", "archivist"): ecrImage("uk.ac.wellcome/archivist", 50),
			}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"}); err != nil {
			t.Fatal(err)
		}
		for _, env := range envs {
			deploy(env)
		}
	}
	return e, current
}
