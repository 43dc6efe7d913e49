package awslambda

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// The EventBridge detail-types of aws.ecs that the ecs-events function takes.
const (
	ECSDeploymentStateChange = "ECS Deployment State Change"
	ECSServiceAction         = "ECS Service Action"
)

// ECSEventOutcomes says what each eventName of the two detail-types means for verification: the
// rollout outcome it reports. A steady service counts as a completed rollout: ECS reports it
// after a deployment settles, and again from time to time. Every other eventName (task placement
// failures, unhealthy service discovery instances and the like) is ignored, with the reason logged.
var ECSEventOutcomes = map[string]map[string]string{
	ECSDeploymentStateChange: {
		"SERVICE_DEPLOYMENT_COMPLETED":   shiplog.RolloutCompleted,
		"SERVICE_DEPLOYMENT_FAILED":      shiplog.RolloutFailed,
		"SERVICE_DEPLOYMENT_IN_PROGRESS": shiplog.RolloutInProgress,
	},
	ECSServiceAction: {
		"SERVICE_STEADY_STATE":           shiplog.RolloutCompleted,
		"SERVICE_DEPLOYMENT_COMPLETED":   shiplog.RolloutCompleted,
		"SERVICE_DEPLOYMENT_IN_PROGRESS": shiplog.RolloutInProgress,
	},
}

// RuntimeEventHandler takes platform events about service deployments; *shiplog.Service is one.
type RuntimeEventHandler interface {
	HandleRuntimeEvent(ctx context.Context, ev shiplog.RuntimeEvent) (shiplog.RuntimeOutcome, error)
}

var _ RuntimeEventHandler = (*shiplog.Service)(nil)

// ecsEventDetail is the part of both detail-types' detail that shiplog reads. ECS adds fields
// over time, so others are not an error.
type ecsEventDetail struct {
	EventType    string `json:"eventType"`
	EventName    string `json:"eventName"`
	DeploymentID string `json:"deploymentId"` // ECS Deployment State Change
	Reason       string `json:"reason"`
	ClusterARN   string `json:"clusterArn"` // ECS Service Action
}

// ECSEvents handles EventBridge's aws.ecs "ECS Deployment State Change" and "ECS Service Action"
// events: it reduces each to a shiplog.RuntimeEvent (cluster and service names from the event's
// service ARN, resources[0]) and hands it to h, which marks the deployment it concerns. Events of
// other eventNames are ignored with the reason logged, never an error (EventBridge would retry
// them); events that are not ECS's or are malformed are refused as Invalid. It takes CloudWatch's
// "CloudWatch Alarm State Change" events too, handed to h's HandleAlarmEvent (AlarmEventHandler).
func ECSEvents(h RuntimeEventHandler, log *slog.Logger) Function {
	return Function{Name: ECSEventsName, Log: log, Quiet: true, Fn: func(ctx context.Context, payload []byte) (any, error) {
		logger := log
		if logger == nil {
			logger = slog.Default()
		}
		var ev events.EventBridgeEvent
		// EventBridge and ECS add fields over time, so unknown fields are not an error here.
		if err := strictjson.Decode(payload, &ev, strictjson.Options{Name: "event", AllowUnknown: true}); err != nil {
			return nil, err
		}
		if ev.Source == CloudWatchSource && ev.DetailType == CloudWatchAlarmStateChange {
			return alarmEvent(ctx, h, ev, logger)
		}
		outcomes, ok := ECSEventOutcomes[ev.DetailType]
		if ev.Source != "aws.ecs" || !ok {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: source %q and detail-type %q are not an ECS deployment or service event (want aws.ecs, %q or %q) nor a CloudWatch alarm state change (%s, %q)",
				ev.Source, ev.DetailType, ECSDeploymentStateChange, ECSServiceAction, CloudWatchSource, CloudWatchAlarmStateChange)
		}
		if ev.Time.IsZero() {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: time is required")
		}
		if len(ev.Detail) == 0 {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: detail is required")
		}
		var d ecsEventDetail
		if err := strictjson.Decode(ev.Detail, &d, strictjson.Options{Name: "detail", Path: "detail", AllowUnknown: true}); err != nil {
			return nil, err
		}
		if d.EventName == "" {
			return nil, shiplog.Errorf(shiplog.Invalid, "detail.eventName: is required")
		}
		ignore := func(reason string) (any, error) {
			logger.InfoContext(ctx, "ECS event ignored", "event_id", ev.ID, "detail_type", ev.DetailType, "event_name", d.EventName, "reason", reason)
			return shiplog.RuntimeOutcome{Ignored: reason}, nil
		}
		outcome, ok := outcomes[d.EventName]
		if !ok {
			return ignore(ev.DetailType + " " + d.EventName + " says nothing about a deployment's rollout")
		}
		if len(ev.Resources) == 0 {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: resources: is empty; want the ECS service's ARN")
		}
		// Long form (service/{cluster}/{service}) or the old short form (service/{service}),
		// which names no cluster.
		cluster, service, ok := shiplog.ParseECSServiceARN(ev.Resources[0])
		if !ok {
			return nil, shiplog.Errorf(shiplog.Invalid, "event: resources[0]: %q is not an ECS service ARN (arn:aws:ecs:{region}:{account}:service/{cluster}/{service})", clipString(ev.Resources[0]))
		}
		// Where the service is, as its ARN says; the envelope says the same of an event ECS sent.
		where, _ := shiplog.ECSARNLocation(ev.Resources[0])
		if ev.AccountID != "" && ev.AccountID != where.Account || ev.Region != "" && ev.Region != where.Region {
			return ignore(fmt.Sprintf("the event says it is from account %s, region %s, but its service ARN is in account %s, region %s",
				clipString(ev.AccountID), clipString(ev.Region), where.Account, where.Region))
		}
		if cluster == "" {
			// The old ARN format: a Service Action event names its cluster in the detail.
			name, ok := shiplog.ParseECSClusterARN(d.ClusterARN)
			if !ok {
				return ignore("service ARN " + ev.Resources[0] + " is in ECS's old format, which names no cluster; opt the account into the long ARN format (serviceLongArnFormat)")
			}
			if at, _ := shiplog.ECSARNLocation(d.ClusterARN); at != where {
				return ignore("detail.clusterArn " + d.ClusterARN + " is not where service ARN " + ev.Resources[0] + " is")
			}
			cluster = name
		}
		out, err := h.HandleRuntimeEvent(ctx, shiplog.RuntimeEvent{
			ID: ev.ID, Account: where.Account, Region: where.Region, Cluster: cluster, Service: service,
			Deployment: d.DeploymentID, Outcome: outcome, Reason: d.Reason, At: ev.Time.Unix(),
		})
		if err != nil {
			return nil, err
		}
		if out.Ignored != "" {
			logger.InfoContext(ctx, "ECS event ignored", "event_id", ev.ID, "cluster", cluster, "service", service, "event_name", d.EventName, "reason", out.Ignored)
		}
		// One line per environment the event concerned: two projects may claim one ECS service.
		for _, o := range out.Environments {
			attrs := []any{"event_id", ev.ID, "cluster", cluster, "service", service, "event_name", d.EventName,
				"project_id", o.ProjectID, "environment", o.Environment, "deployment_id", o.DeploymentID, "status", o.Status}
			if o.Ignored != "" {
				logger.InfoContext(ctx, "ECS event ignored", append(attrs, "reason", o.Ignored)...)
			} else {
				logger.InfoContext(ctx, "ECS event recorded", attrs...)
			}
		}
		return out, nil
	}}
}

// clipString shortens what an event sent to a length a message can quote.
func clipString(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
