package awslambda_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestDeployWorkflowPayloads drives plan, promote, break glass and rollback through the deploy
// function's payload.
func TestDeployWorkflowPayloads(t *testing.T) {
	e := newEnv(t).registered(t).withImages(t)
	ctx := context.Background()
	fn := awslambda.Deploy(e.svc, e.log, awslambda.AllowAll())
	invoke := func(payload string, v any) {
		t.Helper()
		out, err := fn.Invoke(ctx, []byte(payload))
		if err != nil {
			t.Fatalf("Invoke %s: %v", payload, err)
		}
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatal(err)
		}
	}
	r1, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}

	before := e.snapshot(t)
	var plan shiplog.PlanResult
	invoke(`{"project_id":"storage","release_id":"latest","environment":"stage","dry_run":true}`, &plan)
	if plan.Plan.ReleaseID != r1.ID || plan.Plan.Kind != "deploy" || len(plan.Plan.Services) != len(storageImages) || plan.Plan.Refusal != nil {
		t.Errorf("plan: got %+v", plan.Plan)
	}
	e.unchanged(t, before)

	var res shiplog.DeployResult
	invoke(`{"project_id":"storage","release_id":"latest","environment":"stage"}`, &res)
	invoke(`{"project_id":"storage","from_environment":"stage","environment":"prod","requested_by":{"id":"ci"}}`, &res)
	if res.Deployment.Kind != "promote" || res.Deployment.PromotedFrom != "stage" || res.Release.ID != r1.ID {
		t.Errorf("promotion: got %+v", res.Deployment)
	}

	if _, err := e.svc.Lock(ctx, shiplog.LockInput{ProjectID: "storage", Environment: "stage", Reason: "frozen"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutParameters(ctx, map[string]string{
		shiplog.ParameterName("storage", "latest", "archivist"): ecrImage("uk.ac.wellcome/archivist", 50),
	}); err != nil {
		t.Fatal(err)
	}
	r2, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"})
	if err != nil {
		t.Fatal(err)
	}
	invoke(`{"project_id":"storage","release_id":"latest","environment":"stage","override_reason":"hotfix","requested_by":{"id":"oncall"}}`, &res)
	if res.Deployment.Override == nil || res.Deployment.Override.Reason != "hotfix" || res.Deployment.Override.By.ID != "oncall" || res.Release.ID != r2.ID {
		t.Errorf("emergency deploy: got %+v", res.Deployment)
	}
	if _, err := e.svc.Unlock(ctx, "storage", "stage", shiplog.Person{ID: "oncall"}); err != nil {
		t.Fatal(err)
	}

	invoke(`{"project_id":"storage","environment":"stage","rollback":true,"reason":"broke uploads","dry_run":true}`, &plan)
	if plan.Plan.Kind != "rollback" || plan.Plan.ReleaseID != r1.ID {
		t.Errorf("rollback plan: got %+v", plan.Plan)
	}
	invoke(`{"project_id":"storage","environment":"stage","rollback":true,"reason":"broke uploads","hold":true}`, &res)
	if res.Deployment.Kind != "rollback" || res.Release.ID != r1.ID || res.Deployment.Description != "broke uploads" {
		t.Errorf("rollback: got %+v of %s", res.Deployment, res.Release.ID)
	}

	for _, tt := range []badInput{
		{"rollback with a release", `{"project_id":"storage","environment":"stage","rollback":true,"reason":"x","release_id":"latest"}`, "Invalid", "takes no release_id"},
		{"rollback without a reason", `{"project_id":"storage","environment":"stage","rollback":true}`, "Invalid", "reason: is required"},
		{"rollback fields on a deploy", `{"project_id":"storage","environment":"stage","release_id":"latest","hold":true}`, "Invalid", "rollback fields"},
		{"deploy to the held environment", `{"project_id":"storage","environment":"stage","release_id":"latest"}`, "Conflict", "broke uploads"},
		{"promote from an empty environment", `{"project_id":"catalogue_pipeline","environment":"2026-11-25","from_environment":"2026-11-20"}`, "Conflict", "nothing is deployed in 2026-11-20"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			out, err := fn.Invoke(ctx, []byte(tt.payload))
			checkRefused(t, out, err, tt)
			e.unchanged(t, before)
		})
	}
}

func TestDeployIdempotencyKeyPayload(t *testing.T) {
	e := newEnv(t).registered(t).withImages(t)
	ctx := context.Background()
	if _, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"}); err != nil {
		t.Fatal(err)
	}
	fn := awslambda.Deploy(e.svc, e.log, awslambda.AllowAll())
	payload := []byte(`{"project_id":"storage","release_id":"latest","environment":"stage","idempotency_key":"run-9"}`)
	first, err := fn.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	again, err := fn.Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Errorf("retry: got %s, want %s", again, first)
	}
	e.unchanged(t, before)
	out, err := fn.Invoke(ctx, []byte(`{"project_id":"storage","release_id":"latest","environment":"stage","idempotency_key":"run-9","description":"x"}`))
	checkRefused(t, out, err, badInput{"the key with another request", "", "Conflict", "another request"})
	e.unchanged(t, before)
}

// After MaxLiveDeployKeys keyed deploys to an environment within a day, a new key is refused as
// Conflict, and a retry of the first key still answers its deployment.
func TestDeployIdempotencyKeysKeptForADay(t *testing.T) {
	e := newEnv(t).registered(t).withImages(t)
	ctx := context.Background()
	if _, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"}); err != nil {
		t.Fatal(err)
	}
	fn := awslambda.Deploy(e.svc, e.log, awslambda.AllowAll())
	payload := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"project_id":"storage","release_id":"latest","environment":"stage","idempotency_key":"run-%d"}`, n))
	}
	first, err := fn.Invoke(ctx, payload(0))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < shiplog.MaxLiveDeployKeys; n++ {
		if _, err := fn.Invoke(ctx, payload(n)); err != nil {
			t.Fatalf("keyed deploy %d: %v", n, err)
		}
	}
	before := e.snapshot(t)
	out, err := fn.Invoke(ctx, payload(shiplog.MaxLiveDeployKeys))
	checkRefused(t, out, err, badInput{"a new key past the bound", "", "Conflict", "idempotency keys from the last 24 hours"})
	again, err := fn.Invoke(ctx, payload(0))
	if err != nil {
		t.Fatal(err)
	}
	// The retry answers the original deployment as it now stands (superseded since).
	var orig, retry shiplog.DeployResult
	if err := json.Unmarshal(first, &orig); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &retry); err != nil {
		t.Fatal(err)
	}
	if retry.Deployment.ID != orig.Deployment.ID {
		t.Errorf("retry of the first key: got deployment %s, want the original %s", retry.Deployment.ID, orig.Deployment.ID)
	}
	e.unchanged(t, before)
}

func TestCreateReleaseIdempotencyKeyPayload(t *testing.T) {
	e := newEnv(t).withImages(t)
	ctx := context.Background()
	fn := awslambda.CreateRelease(e.svc, e.log, awslambda.AllowAll())
	payload := `{"project_id":"storage","description":"run 9","manifest":` + manifestObject(t) + `,"idempotency_key":"run-9"}`
	first, err := fn.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	again, err := fn.Invoke(ctx, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Errorf("retry: got %s, want %s", again, first)
	}
	e.unchanged(t, before)
	for _, tt := range []badInput{
		{`the key with another request`, `{"project_id":"storage","description":"run 10","idempotency_key":"run-9"}`, "Conflict", `idempotency key "run-9"`},
		{`a key that is not a string`, `{"project_id":"storage","idempotency_key":9}`, "Invalid", "idempotency_key"},
		{`a bad key`, `{"project_id":"storage","idempotency_key":"run 9"}`, "Invalid", "idempotency_key"},
	} {
		out, err := fn.Invoke(ctx, []byte(tt.payload))
		checkRefused(t, out, err, tt)
		e.unchanged(t, before)
	}
}

// TestBlankReasons: on the invoke channel too, a rollback that holds the environment (a lock) and
// a break-glass deploy must say why: a reason of blanks is none, and nothing is written.
func TestBlankReasons(t *testing.T) {
	e := newEnv(t).registered(t).withImages(t)
	ctx := context.Background()
	fn := awslambda.Deploy(e.svc, e.log, awslambda.AllowAll())
	for range 2 {
		if _, err := e.svc.CreateRelease(ctx, shiplog.CreateReleaseInput{ProjectID: "storage"}); err != nil {
			t.Fatal(err)
		}
		if _, err := fn.Invoke(ctx, []byte(`{"project_id":"storage","release_id":"latest","environment":"stage"}`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []badInput{
		{"a held rollback with a blank reason", `{"project_id":"storage","environment":"stage","rollback":true,"reason":"   ","hold":true}`, "Invalid", "reason: is required"},
		{"a break-glass deploy with a blank reason", `{"project_id":"storage","release_id":"latest","environment":"prod","override_reason":" \t "}`, "Invalid", "override_reason: is blank"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			out, err := fn.Invoke(ctx, []byte(tt.payload))
			checkRefused(t, out, err, tt)
			e.unchanged(t, before)
		})
	}
}
