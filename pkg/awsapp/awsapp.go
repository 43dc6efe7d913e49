// Package awsapp builds shiplog's service on AWS: SSM Parameter Store for image parameters,
// DynamoDB for releases and state, and the image registry it is given (ECR, for the functions
// that deploy). The Lambda functions that read or write parameters share it; it links no client
// that not every one of them calls, and no configuration loader: each function's main builds its
// aws.Config and registry, and sets the service's Runtime (ECS) where it verifies deployments.
// ecs-events, which writes no parameters, builds its service without it so as not to link SSM.
package awsapp

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The environment variables of the functions that keep state. The mains read them by their
// literal names (os.Getenv("SHIPLOG_STATE_TABLE")), not through these constants: pkg/infra's
// template test reads the names from each main's source, literal or constant, and holds
// template.yaml to them, and uses these to check that each table variable names its table.
// Here they name the variable in New's errors.
const (
	ReleasesTableEnv = "SHIPLOG_RELEASES_TABLE"
	StateTableEnv    = "SHIPLOG_STATE_TABLE"
	// ParameterPrefixEnv is optional: empty keeps the parameters at /{project}/images/...
	ParameterPrefixEnv = "SHIPLOG_PARAMETER_PREFIX"
)

// Tables names where the service keeps its data: the DynamoDB tables, and the prefix of its SSM
// parameters (empty, or one segment such as /shiplog-staging, for a second shiplog in the account).
type Tables struct {
	Releases        string
	State           string
	ParameterPrefix string
}

func (t Tables) validate() error {
	var missing []error
	if t.Releases == "" {
		missing = append(missing, fmt.Errorf("%s is not set: it names the releases table", ReleasesTableEnv))
	}
	if t.State == "" {
		missing = append(missing, fmt.Errorf("%s is not set: it names the state table", StateTableEnv))
	}
	if err := awsssm.CheckPrefix(t.ParameterPrefix); err != nil {
		missing = append(missing, fmt.Errorf("%s: %w", ParameterPrefixEnv, err))
	}
	return errors.Join(missing...)
}

// New returns the service on SSM and DynamoDB clients made from cfg, with registry as its image
// registry: the ECR adapter for a function that deploys, nil for one that never does, so that
// it does not link the ECR client. It fails, naming the variable, if a table name is missing or
// the parameter prefix is malformed.
func New(cfg aws.Config, tables Tables, registry shiplog.Registry, log *slog.Logger) (*shiplog.Service, error) {
	if err := tables.validate(); err != nil {
		return nil, err
	}
	return NewFromConfig(cfg, tables, registry, log), nil
}

// NewFromConfig is New without the checks; tables.ParameterPrefix must pass awsssm.CheckPrefix.
func NewFromConfig(cfg aws.Config, tables Tables, registry shiplog.Registry, log *slog.Logger) *shiplog.Service {
	params := ParametersIn(tables)(cfg)
	store := awsdynamo.New(dynamodb.NewFromConfig(cfg), tables.Releases, tables.State)
	svc := shiplog.NewService(params, store, registry, log)
	// An environment that names no region is in the stack's (and pulls from a replica if its
	// images were pushed to another).
	svc.Home = shiplog.Location{Region: cfg.Region}
	return svc
}

// ParametersIn returns what makes the parameter store of a configuration's account and region,
// with the tables' prefix: the stack's own, and, through awssts, an environment's elsewhere (the
// prefix applies there too).
func ParametersIn(tables Tables) func(aws.Config) shiplog.ParameterStore {
	return func(cfg aws.Config) shiplog.ParameterStore {
		return awsssm.New(ssm.NewFromConfig(cfg, awsssm.WithRetries)).WithPrefix(tables.ParameterPrefix)
	}
}
