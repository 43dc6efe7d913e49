package awsdynamo

import (
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestWorkflowItemShapes holds the release workflow's attributes to their documented shapes:
// gates on the project's environments, kind/promoted_from/reverts/override/changes on each
// copy of a deployment, the lock on the environment's state. Attributes a deployment does not
// have are absent, not NULL.
func TestWorkflowItemShapes(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			s := b.newStore(t)
			p := project("storage", "team/api", "team/web")
			p.Environments[1].Requires = []string{"stage"}
			must(t, "PutProject", s.PutProject(ctx, p, registered(p)))
			r := release(p, 1)
			must(t, "CreateRelease", s.CreateRelease(ctx, shiplog.ReleaseWrite{Release: r, Event: created(r)}))
			c := deployment(p, r, "prod", 1, 0)
			c.Deployment.Environment = shiplog.Environment{ID: "prod", Name: "Production"}
			c.State.Environment = c.Deployment.Environment
			c.Deployment.Kind = shiplog.KindPromote
			c.Deployment.PromotedFrom = "stage"
			c.Deployment.Override = &shiplog.Override{Reason: "incident", By: shiplog.Person{ID: "bob", Name: "Bob"}}
			c.Deployment.Changes = &shiplog.Changes{Changed: []string{}, Added: []string{"api", "web"}, Removed: []string{}, ParametersWritten: []string{"/storage/images/prod/api"}}
			c.State.Lock = &shiplog.EnvironmentLock{Environment: "prod", Reason: "held", LockedBy: c.Deployment.RequestedBy, LockedAt: 1}
			must(t, "WriteEnvironment", s.WriteEnvironment(ctx, c))

			person := "M{id:S,name:S}"
			deployment := "changes:M{added:L[S],changed:L[],parameters_written:L[S],removed:L[]},created_at:N,deployment_id:S,description:S," +
				"environment:" + person + ",kind:S,override:M{by:" + person + ",reason:S},promoted_from:S,requested_by:" + person
			items := []struct {
				name string
				key  item
				want string
			}{
				{"project", projectKey("storage"), "environment_ids:SS,environments:L[" + person + "|M{id:S,name:S,requires:L[S]}],events_typed:BOOL,image_repositories:L[M{id:S,services:L[S]}]," +
					"manifest:S,mapped_repositories:L[S],name:S,pk:S,project_id:S,sk:S,tag_deployed_images:BOOL,version:N"},
				{"environment", envKey("storage", "prod"), "deployed_at:N,deployment_id:S,description:S,environment:" + person +
					",images:M{api:S,web:S},lock:M{environment:S,locked_at:N,locked_by:" + person + ",reason:S},locked_until:N,pending:L[S]," +
					"pk:S,project_id:S,release_id:S,requested_by:" + person + ",sk:S,version:N"},
				{"deployment", stateKey("project#storage", "deploy#"+c.Deployment.ID), "changes:M{added:L[S],changed:L[],parameters_written:L[S],removed:L[]}," +
					"created_at:N,deployment_id:S,description:S,environment:" + person + ",kind:S,override:M{by:" + person + ",reason:S}," +
					"pk:S,project_id:S,promoted_from:S,release_id:S,requested_by:" + person + ",sk:S"},
			}
			for _, it := range items {
				if got := shapes(s.rawGet(t, s.state, it.key)); got != it.want {
					t.Errorf("%s item:\ngot  %s\nwant %s", it.name, got, it.want)
				}
			}
			listed := shapes(s.rawGet(t, s.state, stateKey("project#storage", "reldeploy#"+r.ID+"#"+c.Deployment.ID)))
			for _, attr := range strings.Split("changes,kind,override,promoted_from", ",") {
				if !strings.Contains(listed, attr+":") {
					t.Errorf("release's listing of its deployment: got %s, want %s among them (as in %s)", listed, attr, deployment)
				}
			}
			rel := s.rawGet(t, s.releases, releaseKey(r.ID))
			if got := shape(rel[attrDeployments]); got != "L[]" {
				t.Errorf("release item's deployments: got %s, want L[] (deployments are listed apart)", got)
			}
		})
	}
}
