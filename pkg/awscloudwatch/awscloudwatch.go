// Package awscloudwatch implements shiplog.Alarms on Amazon CloudWatch: the states of the alarms
// an environment names, read with DescribeAlarms (metric and composite alarms alike).
//
// The CloudWatch client is built on first use, so a function links the package at the cost of
// its code only: the client's configuration is not resolved in a cold start that reads no alarm
// (a deploy to an environment that names none).
package awscloudwatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/shiplog/shiplog/pkg/awserr"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Actions lists every IAM action Alarms calls. Tests hold its calls to it.
var Actions = []string{"cloudwatch:DescribeAlarms"}

// namesBatch is the most alarm names DescribeAlarms takes at once.
const namesBatch = 100

var service = awserr.Service("CloudWatch")

// Client is the part of the CloudWatch API Alarms calls; *cloudwatch.Client has it.
type Client interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

var _ Client = (*cloudwatch.Client)(nil)

// Alarms is a shiplog.Alarms on CloudWatch, in the client's account and region. Safe for
// concurrent use.
type Alarms struct {
	once   sync.Once
	make   func() Client
	client Client
}

var _ shiplog.Alarms = (*Alarms)(nil)

// New returns Alarms that use client.
func New(client Client) *Alarms {
	return &Alarms{make: func() Client { return client }}
}

// NewFromConfig returns Alarms on a CloudWatch client made from cfg when it is first needed.
func NewFromConfig(cfg aws.Config) *Alarms {
	return &Alarms{make: func() Client { return cloudwatch.NewFromConfig(cfg) }}
}

// Readers makes the alarms reader of a configuration's account and region, for awssts.Clients.
func Readers(cfg aws.Config) shiplog.Alarms { return NewFromConfig(cfg) }

func (a *Alarms) api() Client {
	a.once.Do(func() { a.client = a.make() })
	return a.client
}

// AlarmStates reads the named alarms (names, or ARNs of alarms in the client's account and
// region) in one DescribeAlarms call per hundred names (and page), metric and composite alarms
// alike. An alarm CloudWatch does not have is Found false, and so is an ARN whose alarm of that
// name has another ARN (another account or region).
func (a *Alarms) AlarmStates(ctx context.Context, alarms []string) ([]shiplog.AlarmState, error) {
	var names []string
	for _, al := range alarms {
		if n := shiplog.AlarmName(al); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	type found struct {
		arn   string
		state shiplog.AlarmState
	}
	byName := map[string]found{}
	for batch := range slices.Chunk(names, namesBatch) {
		in := &cloudwatch.DescribeAlarmsInput{
			AlarmNames: batch,
			AlarmTypes: []types.AlarmType{types.AlarmTypeMetricAlarm, types.AlarmTypeCompositeAlarm},
			MaxRecords: aws.Int32(100),
		}
		for {
			out, err := a.api().DescribeAlarms(ctx, in)
			if err != nil {
				return nil, mapError(err, "describe alarms %v", batch)
			}
			for _, m := range out.MetricAlarms {
				st := shiplog.AlarmState{Found: true, State: string(m.StateValue), Reason: aws.ToString(m.StateReason)}
				if m.StateUpdatedTimestamp != nil {
					st.UpdatedAt = m.StateUpdatedTimestamp.Unix()
				}
				byName[aws.ToString(m.AlarmName)] = found{arn: aws.ToString(m.AlarmArn), state: st}
			}
			for _, c := range out.CompositeAlarms {
				st := shiplog.AlarmState{Found: true, State: string(c.StateValue), Reason: aws.ToString(c.StateReason)}
				if c.StateUpdatedTimestamp != nil {
					st.UpdatedAt = c.StateUpdatedTimestamp.Unix()
				}
				byName[aws.ToString(c.AlarmName)] = found{arn: aws.ToString(c.AlarmArn), state: st}
			}
			if aws.ToString(out.NextToken) == "" {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	states := make([]shiplog.AlarmState, len(alarms))
	for i, al := range alarms {
		states[i].Alarm = al
		f, ok := byName[shiplog.AlarmName(al)]
		if !ok || (al != shiplog.AlarmName(al) && f.arn != "" && f.arn != al) {
			continue
		}
		states[i] = f.state
		states[i].Alarm = al
	}
	return states, nil
}

func mapError(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "AccessDenied", "AccessDeniedException":
			// The role lacks a grant: the operator's to fix, so the message is logged, not shown.
			return shiplog.Wrap(shiplog.Internal, err, "%s: access denied: %s", what, apiErr.ErrorMessage())
		case "InvalidNextToken":
			return shiplog.Wrap(shiplog.Unavailable, err, "%s: CloudWatch refused its own page token; retry", what)
		}
	}
	return service.Wrap(err, "%s", what)
}
