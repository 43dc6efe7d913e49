// Command create-release is the shiplog create-release Lambda function.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/awssts"
	"github.com/shiplog/shiplog/pkg/lambdaconfig"
)

func main() {
	log := awslambda.NewLogger()
	cfg, err := lambdaconfig.Load()
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	// The stack's InvokeAllowList and InvokePrivilegedActions. Unset is empty: the invoke
	// channel may do nothing, and each refusal says which parameter to set.
	policy, err := awslambda.ParseInvokePolicy(os.Getenv(awslambda.InvokeAllowEnv), os.Getenv(awslambda.InvokePrivilegedEnv))
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	tables := awsapp.Tables{Releases: os.Getenv("SHIPLOG_RELEASES_TABLE"), State: os.Getenv("SHIPLOG_STATE_TABLE"),
		ParameterPrefix: os.Getenv("SHIPLOG_PARAMETER_PREFIX")}
	// It never deploys, so it has no image registry and links no ECR client.
	svc, err := awsapp.New(cfg, tables, nil, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	// A release from an environment's label reads it where the environment lives.
	svc.Places = awssts.New(cfg, awssts.Clients{Parameters: awsapp.ParametersIn(tables)}, awssts.Home{Parameters: svc.Params})
	lambda.Start(awslambda.CreateRelease(svc, log, policy))
}
