package awslambda_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// alarmHandler stands in for the domain: ECS's events and CloudWatch's alarm events.
type alarmHandler struct {
	recordingHandler
	alarms []shiplog.AlarmEvent
}

func (h *alarmHandler) HandleAlarmEvent(_ context.Context, ev shiplog.AlarmEvent) (shiplog.RuntimeOutcome, error) {
	h.alarms = append(h.alarms, ev)
	return h.outcome, h.err
}

// alarmSample is the sample alarm event, changed by edit.
func alarmSample(t *testing.T, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, "cloudwatch-alarm-in-alarm.json"), &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAlarmEvents: the ecs-events function reduces CloudWatch's alarm state changes to
// shiplog.AlarmEvents (the state's own timestamp, the alarm's ARN from resources) and hands
// them to the domain; malformed ones are refused as Invalid, with nothing handed over.
func TestAlarmEvents(t *testing.T) {
	failed := shiplog.RuntimeOutcome{Environments: []shiplog.EnvironmentOutcome{{ProjectID: "storage", Environment: "prod", DeploymentID: id(3), Status: "failed"}}}
	for _, tt := range []struct {
		name    string
		payload []byte
		want    shiplog.AlarmEvent
	}{
		{"in alarm", readFile(t, "cloudwatch-alarm-in-alarm.json"), shiplog.AlarmEvent{ID: "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92", Account: "760097843905", Region: "eu-west-1",
			Name: "storage-prod-5xx", ARN: "arn:aws:cloudwatch:eu-west-1:760097843905:alarm:storage-prod-5xx", State: "ALARM",
			Reason: "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (21/11/26 10:03:00)] was greater than the threshold (5.0).", At: sampleAt(t, "2026-11-21T10:04:00Z")}},
		{"back to OK", readFile(t, "cloudwatch-alarm-ok.json"), shiplog.AlarmEvent{ID: "d5d2d2da-7653-f72c-7f1a-9d5e47a44b03", Account: "760097843905", Region: "eu-west-1",
			Name: "storage-prod-5xx", ARN: "arn:aws:cloudwatch:eu-west-1:760097843905:alarm:storage-prod-5xx", State: "OK",
			Reason: "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (21/11/26 10:08:00)] was not greater than the threshold (5.0).", At: sampleAt(t, "2026-11-21T10:09:00Z")}},
		{"no state timestamp: the event's time", alarmSample(t, func(ev map[string]any) {
			delete(ev["detail"].(map[string]any)["state"].(map[string]any), "timestamp")
		}), shiplog.AlarmEvent{ID: "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92", Account: "760097843905", Region: "eu-west-1",
			Name: "storage-prod-5xx", ARN: "arn:aws:cloudwatch:eu-west-1:760097843905:alarm:storage-prod-5xx", State: "ALARM",
			Reason: "Threshold Crossed: 1 out of the last 1 datapoints [12.0 (21/11/26 10:03:00)] was greater than the threshold (5.0).", At: sampleAt(t, "2026-11-21T10:04:01Z")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &alarmHandler{recordingHandler: recordingHandler{outcome: failed}}
			e := newEnv(t)
			out, err := awslambda.ECSEvents(h, e.log).Invoke(t.Context(), tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.alarms) != 1 || h.alarms[0] != tt.want || len(h.got) != 0 {
				t.Fatalf("handed the domain %+v (and ECS events %v), want %+v", h.alarms, h.got, tt.want)
			}
			var got shiplog.RuntimeOutcome
			if err := json.Unmarshal(out, &got); err != nil || len(got.Environments) != 1 || got.Environments[0].Status != "failed" {
				t.Errorf("output %s, want the domain's outcome", out)
			}
			if !strings.Contains(e.logs.String(), "alarm event recorded") {
				t.Errorf("log %q lacks the recorded event", e.logs.String())
			}
		})
	}
	for _, tt := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"no alarm name", alarmSample(t, func(ev map[string]any) { delete(ev["detail"].(map[string]any), "alarmName") }), "detail.alarmName: is required"},
		{"no state", alarmSample(t, func(ev map[string]any) { delete(ev["detail"].(map[string]any), "state") }), "detail.state.value: is required"},
		{"a state that is a number", alarmSample(t, func(ev map[string]any) { ev["detail"].(map[string]any)["state"].(map[string]any)["value"] = 3 }), "detail.state.value"},
		{"a bad timestamp", alarmSample(t, func(ev map[string]any) {
			ev["detail"].(map[string]any)["state"].(map[string]any)["timestamp"] = "yesterday"
		}), `detail.state.timestamp: "yesterday" is not a time`},
		{"no time", alarmSample(t, func(ev map[string]any) { delete(ev, "time") }), "event: time is required"},
		{"no detail", alarmSample(t, func(ev map[string]any) { delete(ev, "detail") }), "event: detail is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &alarmHandler{}
			e := newEnv(t)
			_, err := awslambda.ECSEvents(h, e.log).Invoke(t.Context(), tt.payload)
			ire := invocationError(t, err)
			if ire.Type != "Invalid" || !strings.Contains(ire.Message, tt.want) {
				t.Errorf("got %s %q, want Invalid containing %q", ire.Type, ire.Message, tt.want)
			}
			if len(h.alarms) != 0 {
				t.Errorf("handed %v to the domain, want nothing", h.alarms)
			}
		})
	}
	// A handler that takes no alarm events refuses them.
	e := newEnv(t)
	_, err := awslambda.ECSEvents(&recordingHandler{}, e.log).Invoke(t.Context(), readFile(t, "cloudwatch-alarm-in-alarm.json"))
	if ire := invocationError(t, err); ire.Type != "Invalid" || !strings.Contains(ire.Message, "takes no CloudWatch alarm events") {
		t.Errorf("a handler without alarms: got %s %q", ire.Type, ire.Message)
	}
}
