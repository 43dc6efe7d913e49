package awslambda

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shiplog/shiplog/pkg/logctx"
	"github.com/shiplog/shiplog/pkg/manifest"
	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// The function names, as deployed and as the local Invoke API knows them.
const (
	ECRPushName       = "ecr-push"
	CreateReleaseName = "create-release"
	DeployName        = "deploy"
	ECSEventsName     = "ecs-events"
	APIName           = "api"
)

// CreateReleaseRequest is the create-release payload.
type CreateReleaseRequest struct {
	ProjectID   string     `json:"project_id"`
	Label       string     `json:"label,omitempty"`
	Description string     `json:"description,omitempty"`
	RequestedBy *Requester `json:"requested_by,omitempty"`
	// Manifest is the whole .wellcome_project content (a JSON object, or a string holding it).
	// The entry of ProjectID is registered before the release is made; the others are not.
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// RetireEnvironments names the environments, deployed to before, that the manifest's entry
	// drops: without them, such a registration is refused.
	RetireEnvironments []string `json:"retire_environments,omitempty"`
	// IdempotencyKey makes a retry of the same request answer the release the first one created,
	// and write nothing.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Sources is what CI knows of services' sources (revision, repository), keyed by service:
	// believed over an image's tag, under its annotations (docs/change-notes.md).
	Sources map[string]shiplog.SourceInput `json:"sources,omitempty"`
}

// CreateReleaseResponse is the release record, and the ids of the manifest's other projects, whose
// entries create-release does not register.
type CreateReleaseResponse struct {
	shiplog.Release
	NotRegistered []string `json:"not_registered,omitempty"`
}

// DeployRequest is the deploy payload: a deploy of release_id (or a promotion from_environment),
// or, with rollback, a rollback; dry_run answers the plan instead; override_reason breaks glass;
// report, alone with project_id and requested_by, reports how a deployment went.
type DeployRequest struct {
	ProjectID       string        `json:"project_id"`
	ReleaseID       string        `json:"release_id,omitempty"`
	FromEnvironment string        `json:"from_environment,omitempty"`
	Environment     string        `json:"environment"`
	Description     string        `json:"description,omitempty"`
	RequestedBy     *Requester    `json:"requested_by,omitempty"`
	DryRun          bool          `json:"dry_run,omitempty"`
	OverrideReason  string        `json:"override_reason,omitempty"`
	Rollback        bool          `json:"rollback,omitempty"`
	Reason          string        `json:"reason,omitempty"`
	ToDeployment    string        `json:"to_deployment,omitempty"`
	Hold            bool          `json:"hold,omitempty"`
	IdempotencyKey  string        `json:"idempotency_key,omitempty"`
	Report          *StatusReport `json:"report,omitempty"`
}

// StatusReport is a deploy payload's report of how a deployment went: verified or failed.
type StatusReport struct {
	DeploymentID string `json:"deployment_id"`
	Status       string `json:"status"`
	Detail       string `json:"detail,omitempty"`
}

// Requester is who a direct invocation says asks. Nothing authenticates it: the record says it
// came "via": "invoke", as opposed to an API caller whom API Gateway authenticated, and the
// domain refuses the identities it cannot be (shiplog's and AWS's own, ARNs, service principals).
type Requester struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Functions returns the functions other than the HTTP API over svc, by name: those invoked
// directly, which policy limits, and those EventBridge invokes.
func Functions(svc *shiplog.Service, log *slog.Logger, policy InvokePolicy) map[string]Function {
	return map[string]Function{
		ECRPushName:       ECRPush(svc, log),
		CreateReleaseName: CreateRelease(svc, log, policy),
		DeployName:        Deploy(svc, log, policy),
		ECSEventsName:     ECSEvents(svc, log),
	}
}

// ECRPush handles the EventBridge "ECR Image Action" event.
func ECRPush(svc *shiplog.Service, log *slog.Logger) Function {
	return Function{Name: ECRPushName, Log: log, Quiet: true, Fn: func(ctx context.Context, payload []byte) (any, error) {
		var ev events.ECRImageActionEvent
		// EventBridge adds fields over time, so unknown fields are not an error here.
		if err := strictjson.Decode(payload, &ev, strictjson.Options{Name: "event", AllowUnknown: true}); err != nil {
			return nil, err
		}
		if ev.DetailType != "ECR Image Action" || ev.Source != "aws.ecr" {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: source %q and detail-type %q are not an ECR image action (want aws.ecr, \"ECR Image Action\")", ev.Source, ev.DetailType)
		}
		if ev.Time.IsZero() {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: time is required")
		}
		out, err := svc.RecordPush(ctx, shiplog.ImagePush{
			Account:    ev.Account,
			Region:     ev.Region,
			Repository: ev.Detail.RepositoryName,
			Digest:     ev.Detail.ImageDigest,
			Tag:        ev.Detail.ImageTag,
			Action:     ev.Detail.ActionType,
			Result:     ev.Detail.Result,
			Time:       ev.Time,
		})
		if err != nil {
			return nil, err
		}
		logger := log
		if logger == nil {
			logger = slog.Default()
		}
		if out.Ignored != "" {
			logger.InfoContext(ctx, "push ignored", "event_id", ev.ID, "repository", ev.Detail.RepositoryName, "reason", out.Ignored)
		} else {
			logger.InfoContext(ctx, "push recorded", "event_id", ev.ID, "image", out.Image, "updated", out.Updated, "skipped", out.Skipped)
		}
		return out, nil
	}}
}

// CreateRelease handles the create-release payload and returns the release record, for the
// projects policy allows.
func CreateRelease(svc *shiplog.Service, log *slog.Logger, policy InvokePolicy) Function {
	return Function{Name: CreateReleaseName, Log: log, Fn: func(ctx context.Context, payload []byte) (any, error) {
		var req CreateReleaseRequest
		if err := decode(payload, &req); err != nil {
			return nil, err
		}
		logctx.Add(ctx, logctx.Project, req.ProjectID)
		in := shiplog.CreateReleaseInput{
			ProjectID:      req.ProjectID,
			Label:          req.Label,
			Description:    req.Description,
			RequestedBy:    person(req.RequestedBy),
			IdempotencyKey: req.IdempotencyKey,
			Sources:        req.Sources,
		}
		// The request's own fields are checked before the manifest, whose errors are longer.
		if err := in.Validate(); err != nil {
			return nil, err
		}
		if err := policy.release(in.ProjectID); err != nil {
			return nil, err
		}
		// Only the released project's entry is registered: the file's other entries belong to
		// other teams, whose registrations this caller must not rewrite. They are named in the
		// response; PUT /projects/{project} and serve --manifest register them.
		var notRegistered []string
		if len(req.Manifest) > 0 && !bytes.Equal(req.Manifest, []byte("null")) {
			// A registration rewrites the project's environments and their gates.
			if err := policy.privilege(Manifest, "register the project with PUT /projects/{project} on the HTTP API"); err != nil {
				return nil, err
			}
			projects, err := parseManifest(req.Manifest)
			if err != nil {
				return nil, err
			}
			for i := range projects {
				if projects[i].ID == req.ProjectID {
					in.Register = &projects[i]
				} else {
					notRegistered = append(notRegistered, projects[i].ID)
				}
			}
			if in.Register == nil {
				return nil, shiplog.Errorf(shiplog.Invalid, "manifest: does not declare project %q", req.ProjectID)
			}
		}
		in.RetiredEnvironments = req.RetireEnvironments
		rel, err := svc.CreateRelease(ctx, in)
		if err != nil {
			return nil, err
		}
		return CreateReleaseResponse{Release: rel, NotRegistered: notRegistered}, nil
	}}
}

// Deploy handles the deploy payload and returns {"deployment", "release"}, for the targets and
// privileges policy allows.
//
// The payload {"shiplog": "tick"} (TickPayload), which EventBridge Scheduler sends every minute
// (template.yaml's TickSchedule), runs the Service's tick instead: the time-driven work, such as
// auto-promotion once a soak ends or a window opens. It takes no project, environment or
// requester: what it deploys is what the projects' manifests ask for, so whoever may invoke the
// function can only make it happen sooner.
func Deploy(svc *shiplog.Service, log *slog.Logger, policy InvokePolicy) Function {
	return Function{Name: DeployName, Log: log, Fn: func(ctx context.Context, payload []byte) (any, error) {
		if tick, err := isTick(payload); tick || err != nil {
			if err != nil {
				return nil, err
			}
			out, err := svc.Tick(ctx)
			return TickResponse{Tick: out}, err
		}
		var req DeployRequest
		if err := decode(payload, &req); err != nil {
			return nil, err
		}
		logctx.Add(ctx, logctx.Project, req.ProjectID, logctx.Environment, req.Environment)
		if req.Report != nil {
			logctx.Add(ctx, logctx.Deployment, req.Report.DeploymentID)
		}
		return deploy(ctx, svc, policy, req)
	}}
}

// parseManifest accepts the manifest as a JSON object or as a string holding the file's text.
func parseManifest(raw json.RawMessage) ([]shiplog.Project, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return manifest.Parse([]byte(s))
	}
	if raw[0] != '{' {
		return nil, shiplog.Errorf(shiplog.Invalid, "manifest: must be the .wellcome_project object, or a string holding it")
	}
	return manifest.Parse(raw)
}

// person is the requester of a direct invocation, recorded as asserted via invoke.
func person(r *Requester) shiplog.Person {
	p := shiplog.Person{Via: shiplog.ViaInvoke}
	if r != nil {
		p.ID, p.Name = r.ID, r.Name
	}
	return p
}

// TickPayload is what EventBridge Scheduler sends the deploy function to run the tick.
const TickPayload = `{"shiplog": "tick"}`

// TickResponse is the deploy function's answer to a tick: what each piece of its work did.
type TickResponse struct {
	Tick []shiplog.TickOutcome `json:"tick"`
}

// isTick reports whether a deploy payload is a tick: an object whose only field is "shiplog".
// One that names "shiplog" with anything else is refused, as a mistake.
func isTick(payload []byte) (bool, error) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return false, nil // not an object: the deploy's decoding says what is wrong
	}
	raw, ok := fields["shiplog"]
	if !ok {
		return false, nil
	}
	var v struct {
		Shiplog string `json:"shiplog"`
	}
	if err := decode(payload, &v); err != nil {
		return false, err
	}
	if v.Shiplog != "tick" {
		return false, shiplog.Errorf(shiplog.Invalid, "payload.shiplog: %s is not \"tick\", the only thing it asks for ({\"shiplog\": \"tick\"} runs the time-driven work)", clipRaw(raw))
	}
	return true, nil
}

// clipRaw shows the start of a JSON value in an error.
func clipRaw(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}
