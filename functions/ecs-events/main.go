// Command ecs-events is the shiplog ecs-events Lambda function: EventBridge's ECS deployment and
// service events, which verify (or fail) the shiplog deployments they concern, and CloudWatch's
// alarm state changes, which fail a deployment in its bake.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shiplog/shiplog/pkg/awscloudwatch"
	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsecs"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/awssts"
	"github.com/shiplog/shiplog/pkg/lambdaconfig"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

func main() {
	log := awslambda.NewLogger()
	cfg, err := lambdaconfig.Load()
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	releases, state := os.Getenv("SHIPLOG_RELEASES_TABLE"), os.Getenv("SHIPLOG_STATE_TABLE")
	if releases == "" || state == "" {
		log.Error("cannot start: SHIPLOG_RELEASES_TABLE and SHIPLOG_STATE_TABLE must name the tables")
		os.Exit(1)
	}
	// The stack's account (the template sets it: Lambda sets no variable for it) and region
	// (AWS_REGION, which Lambda sets): ECS events are accepted only from where an environment's
	// cluster is, and a cluster named without an ARN is here.
	account := os.Getenv("SHIPLOG_ACCOUNT_ID")
	if account == "" || cfg.Region == "" {
		log.Error("cannot start: SHIPLOG_ACCOUNT_ID and AWS_REGION must name the stack's account and region")
		os.Exit(1)
	}
	// It verifies what DynamoDB recorded against what ECS runs: no parameter store, no registry,
	// so it links neither the SSM nor the ECR client (nor pkg/awsapp, which builds SSM's).
	svc := shiplog.NewService(nil, awsdynamo.New(dynamodb.NewFromConfig(cfg), releases, state), nil, log)
	svc.Runtime = awsecs.NewFromConfig(cfg)
	svc.Home = shiplog.Location{Account: account, Region: cfg.Region}
	// CloudWatch's alarm events are checked against the alarm before a bake fails a deployment
	// (the client is made on the first such event).
	svc.Alarms = awscloudwatch.NewFromConfig(cfg)
	// An environment in another account or region is read there, through the role it names.
	svc.Places = awssts.New(cfg, awssts.Clients{Runtime: awsecs.Runtimes, Alarms: awscloudwatch.Readers}, awssts.Home{Runtime: svc.Runtime, Alarms: svc.Alarms})
	lambda.Start(awslambda.ECSEvents(svc, log))
}
