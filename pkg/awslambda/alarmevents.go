package awslambda

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// The EventBridge source and detail-type of CloudWatch's alarm state changes, which the
// ecs-events function takes too (template.yaml's AlarmEventsRule sends it only those entering
// ALARM): an alarm an environment names that enters ALARM within its bake fails its deployment.
const (
	CloudWatchSource           = "aws.cloudwatch"
	CloudWatchAlarmStateChange = "CloudWatch Alarm State Change"
)

// AlarmEventHandler takes CloudWatch's alarm state changes; *shiplog.Service is one.
type AlarmEventHandler interface {
	HandleAlarmEvent(ctx context.Context, ev shiplog.AlarmEvent) (shiplog.RuntimeOutcome, error)
}

var _ AlarmEventHandler = (*shiplog.Service)(nil)

// alarmEventDetail is the part of an alarm state change's detail that shiplog reads.
type alarmEventDetail struct {
	AlarmName string `json:"alarmName"`
	State     *struct {
		Value     string `json:"value"`
		Reason    string `json:"reason"`
		Timestamp string `json:"timestamp"`
	} `json:"state"`
}

// alarmTimestamp is the layout of the timestamps of an alarm state change's detail.
const alarmTimestamp = "2006-01-02T15:04:05.000-0700"

// alarmEvent reduces an EventBridge alarm state change to a shiplog.AlarmEvent and hands it to
// h; malformed events are refused as Invalid.
func alarmEvent(ctx context.Context, h RuntimeEventHandler, ev events.EventBridgeEvent, logger *slog.Logger) (any, error) {
	ah, ok := h.(AlarmEventHandler)
	if !ok {
		return nil, shiplog.Errorf(shiplog.Invalid, "event: this function takes no CloudWatch alarm events")
	}
	if ev.Time.IsZero() {
		return nil, shiplog.Errorf(shiplog.Invalid, "event: time is required")
	}
	if len(ev.Detail) == 0 {
		return nil, shiplog.Errorf(shiplog.Invalid, "event: detail is required")
	}
	var d alarmEventDetail
	if err := strictjson.Decode(ev.Detail, &d, strictjson.Options{Name: "detail", Path: "detail", AllowUnknown: true}); err != nil {
		return nil, err
	}
	if d.AlarmName == "" {
		return nil, shiplog.Errorf(shiplog.Invalid, "detail.alarmName: is required")
	}
	if d.State == nil || d.State.Value == "" {
		return nil, shiplog.Errorf(shiplog.Invalid, "detail.state.value: is required")
	}
	at := ev.Time
	if d.State.Timestamp != "" {
		ts, err := time.Parse(alarmTimestamp, d.State.Timestamp)
		if err != nil {
			return nil, shiplog.Errorf(shiplog.Invalid, "detail.state.timestamp: %q is not a time like 2026-11-21T10:04:00.000+0000", clipString(d.State.Timestamp))
		}
		at = ts
	}
	var arn string
	if len(ev.Resources) > 0 {
		arn = ev.Resources[0]
	}
	out, err := ah.HandleAlarmEvent(ctx, shiplog.AlarmEvent{
		ID: ev.ID, Account: ev.AccountID, Region: ev.Region, Name: d.AlarmName, ARN: arn,
		State: d.State.Value, Reason: d.State.Reason, At: at.Unix(),
	})
	if err != nil {
		return nil, err
	}
	if out.Ignored != "" {
		logger.InfoContext(ctx, "alarm event ignored", "event_id", ev.ID, "alarm", d.AlarmName, "state", d.State.Value, "reason", out.Ignored)
	}
	for _, o := range out.Environments {
		attrs := []any{"event_id", ev.ID, "alarm", d.AlarmName, "state", d.State.Value,
			"project_id", o.ProjectID, "environment", o.Environment, "deployment_id", o.DeploymentID, "status", o.Status}
		if o.Ignored != "" {
			logger.InfoContext(ctx, "alarm event ignored", append(attrs, "reason", o.Ignored)...)
		} else {
			logger.InfoContext(ctx, "alarm event recorded", attrs...)
		}
	}
	return out, nil
}
