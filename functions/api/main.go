// Command api is the shiplog HTTP API Lambda function, behind an API Gateway HTTP API.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awscloudwatch"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awsecs"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/awssts"
	"github.com/shiplog/shiplog/pkg/httpapi"
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
	registry := awsecr.NewFromConfig(cfg)
	svc, err := awsapp.New(cfg, tables, registry, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	// POST .../verify checks on ECS what a deployment runs.
	svc.Runtime = awsecs.NewFromConfig(cfg)
	// Deploys and plans pass the alarms and findings gates: CloudWatch (its client made on first
	// use) and ECR.
	svc.Alarms, svc.Findings = awscloudwatch.NewFromConfig(cfg), registry
	// An environment in another account or region is written and read there, through the role it
	// names.
	svc.Places = awssts.New(cfg, awssts.Clients{Parameters: awsapp.ParametersIn(tables), Registry: awsecr.Registries, Runtime: awsecs.Runtimes, Alarms: awscloudwatch.Readers},
		awssts.Home{Parameters: svc.Params, Registry: svc.Registry, Runtime: svc.Runtime, Alarms: svc.Alarms})
	// It deploys, so it rolls back a failure reported to it, and auto-promotes a release or a
	// verification, at once (the other functions leave that to the tick).
	svc.Automate = true
	// GitHub enrichment, when the stack names a token parameter: the token is read on first use.
	svc.Commits, err = awsapp.GitHubCommits(cfg, os.Getenv("SHIPLOG_GITHUB_TOKEN_PARAMETER"), os.Getenv("SHIPLOG_GITHUB_API_URL"))
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	// Refusals by gate and lead times, as EMF lines on stdout (docs/operating.md).
	svc.Observer = awslambda.NewMetrics(os.Stdout, log)
	lambda.Start(awslambda.HTTPAPI(httpapi.NewHandler(svc, log)))
}
