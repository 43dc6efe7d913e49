// Command ecr-push is the shiplog ecr-push Lambda function.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/lambdaconfig"
)

func main() {
	log := awslambda.NewLogger()
	cfg, err := lambdaconfig.Load()
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	tables := awsapp.Tables{Releases: os.Getenv("SHIPLOG_RELEASES_TABLE"), State: os.Getenv("SHIPLOG_STATE_TABLE"),
		ParameterPrefix: os.Getenv("SHIPLOG_PARAMETER_PREFIX")}
	// It never deploys, so it has no image registry; it reads pushed images' annotations, where
	// their source revision is learnt first (docs/change-notes.md).
	svc, err := awsapp.New(cfg, tables, nil, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	svc.Metadata = awsecr.NewFromConfig(cfg)
	lambda.Start(awslambda.ECRPush(svc, log))
}
