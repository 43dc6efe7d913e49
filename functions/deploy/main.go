// Command deploy is the shiplog deploy Lambda function.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/shiplog/shiplog/pkg/awsapp"
	"github.com/shiplog/shiplog/pkg/awscloudwatch"
	"github.com/shiplog/shiplog/pkg/awsecr"
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
	registry := awsecr.NewFromConfig(cfg)
	svc, err := awsapp.New(cfg, tables, registry, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	// The alarms and findings gates read CloudWatch (its client made on first use) and ECR.
	svc.Alarms, svc.Findings = awscloudwatch.NewFromConfig(cfg), registry
	// An environment in another account or region is written there, through the role it names.
	svc.Places = awssts.New(cfg, awssts.Clients{Parameters: awsapp.ParametersIn(tables), Registry: awsecr.Registries, Alarms: awscloudwatch.Readers},
		awssts.Home{Parameters: svc.Params, Registry: svc.Registry, Alarms: svc.Alarms})
	// GitHub enrichment, when the stack names a token parameter: the token is read on first use.
	svc.Commits, err = awsapp.GitHubCommits(cfg, os.Getenv("SHIPLOG_GITHUB_TOKEN_PARAMETER"), os.Getenv("SHIPLOG_GITHUB_API_URL"))
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	// Refusals by gate and lead times, as EMF lines on stdout (docs/operating.md).
	svc.Observer = awslambda.NewMetrics(os.Stdout, log)
	lambda.Start(awslambda.Deploy(svc, log, policy))
}
