package awslambda_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestDeployRunsTheTick: the deploy function takes EventBridge Scheduler's {"shiplog": "tick"}
// and runs the tick, which deploys a newest build to an auto-promoted environment; anything
// else under "shiplog" is refused, with nothing written.
func TestDeployRunsTheTick(t *testing.T) {
	e := newEnv(t).withImages(t)
	p, err := manifest.ParseProject("storage", []byte(`{"name": "Storage service",
		"environments": [{"id": "stage", "auto_promote": {"from": "latest"}}, {"id": "prod", "requires": ["stage"], "auto_promote": true}],
		"image_repositories": [{"id": "uk.ac.wellcome/archivist", "services": ["archivist"]}, {"id": "uk.ac.wellcome/bag-register", "services": [{"id": "bag-register"}]},
		{"id": "uk.ac.wellcome/bag_verifier", "services": ["bag_verifier_pre_replication", "bag_verifier_post_replication"]}, {"id": "uk.ac.wellcome/notifier"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RegisterProjects(context.Background(), shiplog.RegisterInput{Projects: []shiplog.Project{p}}); err != nil {
		t.Fatal(err)
	}
	deploy := awslambda.Deploy(e.svc, e.log, awslambda.AllowAll())
	for _, tt := range []badInput{
		{"shiplog is not tick", `{"shiplog": "tock"}`, "Invalid", `payload.shiplog: "tock" is not "tick"`},
		{"shiplog with a deploy's fields", `{"shiplog": "tick", "project_id": "storage"}`, "Invalid", `unknown field "project_id"`},
		{"shiplog a number", `{"shiplog": 1}`, "Invalid", "shiplog: got a JSON number, want a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			out, err := deploy.Invoke(context.Background(), []byte(tt.payload))
			checkRefused(t, out, err, tt)
			e.unchanged(t, before)
		})
	}
	out, err := deploy.Invoke(context.Background(), []byte(awslambda.TickPayload))
	if err != nil {
		t.Fatalf("tick: %v", err)
	}
	var res awslambda.TickResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Tick) != 2 || res.Tick[0].Work != "bakes" || res.Tick[1].Work != "automation" || res.Tick[1].Projects != 1 || res.Tick[1].Actions != 1 {
		t.Fatalf("tick answered %s, want one deployment", out)
	}
	envs, err := e.svc.Environments(context.Background(), "storage")
	if err != nil {
		t.Fatal(err)
	}
	if c := envs[0].Current; c == nil || c.RequestedBy.ID != "shiplog" || envs[1].Current != nil {
		t.Fatalf("after the tick: stage %+v, prod %+v; want stage deployed by shiplog, prod not", envs[0].Current, envs[1].Current)
	}
}
