// Package awsapp builds shiplog's service on AWS: SSM Parameter Store for image parameters,
// DynamoDB for releases and state, ECR as the image registry. The Lambda functions share it.
package awsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awsecr"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The environment variables every function reads; the names live here so that main packages and
// the template test agree.
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

// New loads the AWS configuration from the environment (region, credentials, and endpoints such
// as AWS_ENDPOINT_URL) and returns the service on SSM, DynamoDB and ECR.
func New(ctx context.Context, tables Tables, log *slog.Logger, opts ...func(*config.LoadOptions) error) (*shiplog.Service, error) {
	if err := tables.validate(); err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return NewFromConfig(cfg, tables, log), nil
}

// NewFromConfig returns the service on clients made from cfg. tables.ParameterPrefix must pass
// awsssm.CheckPrefix (New checks it).
func NewFromConfig(cfg aws.Config, tables Tables, log *slog.Logger) *shiplog.Service {
	params := awsssm.New(ssm.NewFromConfig(cfg, awsssm.WithRetries)).WithPrefix(tables.ParameterPrefix)
	store := awsdynamo.New(dynamodb.NewFromConfig(cfg), tables.Releases, tables.State)
	registry := awsecr.New(ecr.NewFromConfig(cfg))
	return shiplog.NewService(params, store, registry, log)
}
