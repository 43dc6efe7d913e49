package shiplog_test

import (
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestAlarmsGate(t *testing.T) {
	env := shiplog.Environment{ID: "prod", Alarms: []string{"web-5xx", "arn:aws:cloudwatch:eu-west-1:760097843905:alarm:web-latency"}}
	since := gateNow.Add(-10 * 60e9).Unix()
	ok := func(alarm string) shiplog.AlarmState {
		return shiplog.AlarmState{Alarm: alarm, Found: true, State: shiplog.AlarmOK, UpdatedAt: since}
	}
	firing := func(alarm, reason string) shiplog.AlarmState {
		return shiplog.AlarmState{Alarm: alarm, Found: true, State: shiplog.AlarmAlarm, Reason: reason, UpdatedAt: since}
	}
	in := func(kind string, states ...shiplog.AlarmState) shiplog.GateInput {
		return shiplog.GateInput{ProjectID: "storage", Environment: env, Kind: kind, Now: gateNow, Alarms: states}
	}
	unread := in(shiplog.KindDeploy)
	unread.AlarmsUnread = "this shiplog has no access to CloudWatch"
	runGateCases(t, "alarms", []gateCase{
		{name: "no alarms", in: shiplog.GateInput{ProjectID: "storage", Environment: shiplog.Environment{ID: "prod"}, Kind: shiplog.KindDeploy, Now: gateNow},
			allow: true, parts: []string{"prod names no alarms"}},
		{name: "all OK", in: in(shiplog.KindDeploy, ok(env.Alarms[0]), ok(env.Alarms[1])), allow: true,
			parts: []string{"every alarm of storage/prod is OK (web-5xx, web-latency)"}},
		{name: "one in ALARM", in: in(shiplog.KindPromote, firing(env.Alarms[0], "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0)"), ok(env.Alarms[1])),
			parts: []string{"storage/prod has alarms in ALARM: web-5xx (since 2026-11-21T09:50:00Z: Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0))",
				"a rollback or an emergency deployment goes anyway"}},
		{name: "both in ALARM, named by name", in: in(shiplog.KindDeploy, firing(env.Alarms[0], "a"), firing(env.Alarms[1], "b")),
			parts: []string{"web-5xx (since 2026-11-21T09:50:00Z: a); web-latency (since 2026-11-21T09:50:00Z: b)"}},
		{name: "insufficient data lets through, said so", in: in(shiplog.KindDeploy, ok(env.Alarms[0]),
			shiplog.AlarmState{Alarm: env.Alarms[1], Found: true, State: shiplog.AlarmInsufficientData}), allow: true,
			parts: []string{"no alarm of storage/prod is in ALARM; web-latency (INSUFFICIENT_DATA) without enough data to say"}},
		{name: "an alarm CloudWatch does not have", in: in(shiplog.KindDeploy, ok(env.Alarms[0]), shiplog.AlarmState{Alarm: env.Alarms[1]}),
			parts: []string{"names alarms that CloudWatch does not have where the environment lives: web-latency", "fix the manifest"}},
		{name: "alarms that cannot be read", in: unread,
			parts: []string{"storage/prod names alarms (web-5xx, web-latency), and this shiplog has no access to CloudWatch, so nothing says they are quiet"}},
		{name: "a rollback goes without a look", in: in(shiplog.KindRollback), allow: true,
			parts: []string{"a rollback goes whatever prod's alarms say: it is how an alarm is answered"}},
	})
}
