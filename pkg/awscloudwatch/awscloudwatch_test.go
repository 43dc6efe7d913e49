package awscloudwatch_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/shiplog/shiplog/pkg/awscloudwatch"
	"github.com/shiplog/shiplog/pkg/localaws"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// motoAccount and motoRegion are where moto's alarms are.
const (
	motoAccount = "123456789012"
	motoRegion  = "eu-west-1"
)

// TestAlarmStates runs on moto's CloudWatch: metric alarms put with the real SDK,
// their states set with SetAlarmState, read by name and by ARN; an alarm that does not exist and
// an ARN of another account are Found false; more names than one call takes are read in
// batches. (moto has no PutCompositeAlarm: TestCompositeAlarms reads one from a fake client with
// the API's answer.) Every call the reader makes is held to awscloudwatch.Actions.
func TestAlarmStates(t *testing.T) {
	m := localaws.SharedMoto(t)
	ctx := t.Context()
	rec := localaws.NewCallRecorder()
	t.Cleanup(func() {
		for _, action := range rec.Actions() {
			if !slices.Contains(awscloudwatch.Actions, action) {
				t.Errorf("Alarms called %s, which is not in awscloudwatch.Actions %v", action, awscloudwatch.Actions)
			}
		}
	})
	reader := awscloudwatch.NewFromConfig(m.Config(ctx, rec.Option()))
	if rec.Total() != 0 {
		t.Fatalf("NewFromConfig made %d calls, want none", rec.Total())
	}
	cw := cloudwatch.NewFromConfig(m.Config(ctx))
	errors5xx, latency := localaws.UniqueName("web-5xx"), localaws.UniqueName("web-latency")
	for _, name := range []string{errors5xx, latency} {
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name), MetricName: aws.String("5XXError"), Namespace: aws.String("AWS/ApplicationELB"),
			ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold, EvaluationPeriods: aws.Int32(1), Period: aws.Int32(60),
			Statistic: types.StatisticSum, Threshold: aws.Float64(5),
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().Add(-time.Minute).Unix()
	reason := "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0)."
	for name, state := range map[string]types.StateValue{errors5xx: types.StateValueAlarm, latency: types.StateValueOk} {
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: state, StateReason: aws.String(reason)}); err != nil {
			t.Fatal(err)
		}
	}
	arn := func(account, name string) string {
		return "arn:aws:cloudwatch:" + motoRegion + ":" + account + ":alarm:" + name
	}
	missing := localaws.UniqueName("nobody")
	asked := []string{errors5xx, arn(motoAccount, latency), missing, arn("444455556666", errors5xx)}
	got, err := reader.AlarmStates(ctx, asked)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(asked) {
		t.Fatalf("got %d states for %d alarms", len(got), len(asked))
	}
	for i, want := range []shiplog.AlarmState{
		{Alarm: errors5xx, Found: true, State: shiplog.AlarmAlarm, Reason: reason},
		{Alarm: arn(motoAccount, latency), Found: true, State: shiplog.AlarmOK, Reason: reason},
		{Alarm: missing},
		{Alarm: arn("444455556666", errors5xx)},
	} {
		g := got[i]
		if g.Found && (g.UpdatedAt < before || g.UpdatedAt > time.Now().Unix()+1) {
			t.Errorf("%s: updated at %d, want about now", asked[i], g.UpdatedAt)
		}
		g.UpdatedAt = 0
		if g != want {
			t.Errorf("%s: got %+v, want %+v", asked[i], g, want)
		}
	}
	if n := rec.Count("cloudwatch:DescribeAlarms"); n != 1 {
		t.Errorf("DescribeAlarms calls for %d alarms: got %d, want 1", len(asked), n)
	}

	// 150 names take two calls.
	rec.Reset()
	many := []string{latency}
	for i := range 149 {
		many = append(many, fmt.Sprintf("%s-%d", missing, i))
	}
	got, err = reader.AlarmStates(ctx, many)
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Found || got[0].State != shiplog.AlarmOK || got[149].Found {
		t.Errorf("150 alarms: got %+v and %+v, want the first OK and the last not found", got[0], got[149])
	}
	if n := rec.Count("cloudwatch:DescribeAlarms"); n != 2 {
		t.Errorf("DescribeAlarms calls for 150 alarms: got %d, want 2", n)
	}
}

// fakeClient answers DescribeAlarms with a composite alarm, as CloudWatch does when asked for
// both types, and records what it was asked.
type fakeClient struct {
	in *cloudwatch.DescribeAlarmsInput
}

func (f *fakeClient) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	f.in = in
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	return &cloudwatch.DescribeAlarmsOutput{CompositeAlarms: []types.CompositeAlarm{{
		AlarmName: aws.String("web-health"), AlarmArn: aws.String("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-health"),
		StateValue: types.StateValueAlarm, StateReason: aws.String("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-5xx transitioned to ALARM"), StateUpdatedTimestamp: &at,
	}}}, nil
}

// TestCompositeAlarms: a composite alarm is read like a metric alarm, since the reader asks for
// both types (DescribeAlarms answers only metric alarms unless asked).
func TestCompositeAlarms(t *testing.T) {
	f := &fakeClient{}
	got, err := awscloudwatch.New(f).AlarmStates(t.Context(), []string{"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-health"})
	if err != nil {
		t.Fatal(err)
	}
	want := shiplog.AlarmState{Alarm: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-health", Found: true, State: shiplog.AlarmAlarm,
		Reason: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:web-5xx transitioned to ALARM", UpdatedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).Unix()}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want [%+v]", got, want)
	}
	if !slices.Equal(f.in.AlarmTypes, []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm}) || !slices.Equal(f.in.AlarmNames, []string{"web-health"}) {
		t.Errorf("asked for %v of types %v, want web-health of both types", f.in.AlarmNames, f.in.AlarmTypes)
	}
}
