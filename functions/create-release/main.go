// Command create-release is the shiplog create-release Lambda function.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awslambda"
)

func main() {
	log := lambdacontext.NewLogger()
	tables := awsapp.Tables{Releases: os.Getenv("SHIPLOG_RELEASES_TABLE"), State: os.Getenv("SHIPLOG_STATE_TABLE"),
		ParameterPrefix: os.Getenv("SHIPLOG_PARAMETER_PREFIX")}
	svc, err := awsapp.New(context.Background(), tables, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(awslambda.CreateRelease(svc, log))
}
