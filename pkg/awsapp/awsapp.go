// Package awsapp builds shiplog's service on AWS: SSM Parameter Store for image parameters,
// DynamoDB for releases and state, and the image registry it is given (ECR, for the functions
// that deploy). The Lambda functions share it; it links no client that not every one of them
// calls, and no configuration loader: each function's main builds its aws.Config and registry.
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

// The environment variables every function reads; the names live here so that main packages and
// the template test agree.
const (
	ReleasesTableEnv = "SHIPLOG_RELEASES_TABLE"
	StateTableEnv    = "SHIPLOG_STATE_TABLE"
)

// Tables names the DynamoDB tables.
type Tables struct {
	Releases string
	State    string
}

func (t Tables) validate() error {
	var missing []error
	if t.Releases == "" {
		missing = append(missing, fmt.Errorf("%s is not set: it names the releases table", ReleasesTableEnv))
	}
	if t.State == "" {
		missing = append(missing, fmt.Errorf("%s is not set: it names the state table", StateTableEnv))
	}
	return errors.Join(missing...)
}

// New returns the service on SSM and DynamoDB clients made from cfg, with registry as its image
// registry: the ECR adapter for a function that deploys, nil for one that never does, so that
// it does not link the ECR client. It fails, naming the variable, if a table name is missing.
func New(cfg aws.Config, tables Tables, registry shiplog.Registry, log *slog.Logger) (*shiplog.Service, error) {
	if err := tables.validate(); err != nil {
		return nil, err
	}
	return NewFromConfig(cfg, tables, registry, log), nil
}

// NewFromConfig is New without the check of the table names.
func NewFromConfig(cfg aws.Config, tables Tables, registry shiplog.Registry, log *slog.Logger) *shiplog.Service {
	params := awsssm.New(ssm.NewFromConfig(cfg, awsssm.WithRetries))
	store := awsdynamo.New(dynamodb.NewFromConfig(cfg), tables.Releases, tables.State)
	return shiplog.NewService(params, store, registry, log)
}
