package awsapp

import (
	"strings"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The tables a function's DynamoDB actions are granted on, as FunctionTables names them; the
// template's logical ids are ReleasesTable and StateTable.
const (
	ReleasesTable = "releases"
	StateTable    = "state"
)

// IndexResource names an index of a table in FunctionTables: a role needs dynamodb:Query on an
// index's own ARN ({table ARN}/index/{name}).
func IndexResource(table, index string) string { return table + "/index/" + index }

// FunctionActions is the one list of the IAM actions other than DynamoDB's that each function's
// code calls, keyed by function name; FunctionTables has its DynamoDB actions, per table. The SAM
// template's policies are held to both by a test in pkg/infra, and a test here holds each
// function's real calls (against moto, through every path) to them, both ways.
//
// sts:AssumeRole is called for an environment that lives in another account or region
// (pkg/awssts): the calls made there through the assumed role are the same actions, granted by
// the role templates/target-account.yaml makes in that account.
//
// ECR's PutImage is called only for projects that tag their deployed images; the template grants
// it only when its ImageTagging parameter is on, and only on repositories tagged for it.
var FunctionActions = map[string][]string{
	// Compare and write the "latest" parameter of each service the pushed repository feeds; read
	// the pushed image's manifest for its source annotations.
	"ecr-push": {"ecr:BatchGetImage", "ssm:GetParameter", "ssm:PutParameter"},
	// Read the label's parameter of each service.
	"create-release": {"ssm:GetParameters", "sts:AssumeRole"},
	// Check (and tag) the images in ECR, write the changed parameters; on the tick, read the
	// latest images of a project auto-promoted from its newest build (docs/automation.md); the
	// alarms gate reads the environment's CloudWatch alarms, the findings gate its images' scan
	// findings (only for environments that name them). With GitHub enrichment (the template's
	// GitHubTokenParameter), the token's SecureString, once per cold function that reads commits.
	"deploy": {"cloudwatch:DescribeAlarms", "ecr:BatchGetImage", "ecr:DescribeImageScanFindings", "ecr:PutImage", "ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "sts:AssumeRole"},
	// Read what the ECS service of an event runs (awsecs.Actions): its primary deployment's task
	// definition, and the digests its running tasks report for images named by tag; and the
	// alarm of a CloudWatch alarm event, before a bake fails a deployment on its word.
	"ecs-events": {"cloudwatch:DescribeAlarms", "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks", "sts:AssumeRole"},
	// The HTTP API: registration, releases, deploys (with their gates' reads, as deploy's) and
	// every read, and verification on ECS (POST .../verify). It records no pushes. The GitHub
	// token as deploy's.
	"api": {"cloudwatch:DescribeAlarms", "ecr:BatchGetImage", "ecr:DescribeImageScanFindings", "ecr:PutImage", "ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListTasks",
		"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:PutParameter", "sts:AssumeRole"},
	// Put the stream's new events on the bus (awseventbridge.Actions). Lambda's stream poller,
	// not the code, reads the stream; the template grants that in a policy of its own.
	"events": {"events:PutEvents"},
	// Read the routing and the destinations' secrets (awsssm.GetSecureParameters), and put what a
	// destination refuses on the dead-letter queue (awssqs.Actions).
	"notify": {"sqs:SendMessage", "ssm:GetParameters"},
}

// FunctionTables lists the DynamoDB actions each function's code calls, per table (ReleasesTable,
// StateTable) and index (IndexResource). DynamoDB's TransactWriteItems is authorized item by
// item, so it appears as the item actions (PutItem, UpdateItem, DeleteItem, ConditionCheckItem)
// it carries, each on the table of its item.
var FunctionTables = map[string]map[string][]string{
	// Find the services a repository feeds, record the push under a condition.
	"ecr-push": {
		StateTable: {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"},
	},
	// Read the request's idempotency key (a retry reads the release it created, and that
	// release's deployments), register the manifest it is given (more repositories than one
	// transaction takes use ConditionCheckItem and a final UpdateItem; the environments' states
	// are read so that a registration cannot drop a deployed environment), read the services'
	// push records (for the release's push times), then record the release, its key and the
	// project's latest.
	"create-release": {
		ReleasesTable: {"dynamodb:GetItem", "dynamodb:PutItem"},
		StateTable: {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
			"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
	},
	// Read the release, project and environment, record the deployment (checking, in the same
	// transaction, that the project still registers its environment) and settle the environment.
	// A promotion reads the environments' states and a rollback the environment's deployments;
	// statuses (applied, superseded, and reports) update the deployments' listing items. The
	// tick records the release of a newest build (auto_promote from latest).
	"deploy": {
		ReleasesTable: {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
		StateTable:    {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
	},
	// Find the environments that run the event's ECS service in the runtime index, with their
	// projects and states (completing the index once, for projects registered before it, under
	// each project's version), read the deployment, and write its status under the state's
	// version.
	"ecs-events": {
		ReleasesTable: {"dynamodb:UpdateItem"},
		StateTable: {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem",
			"dynamodb:Query", "dynamodb:UpdateItem"},
	},
	"api": {
		ReleasesTable: {"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
		IndexResource(ReleasesTable, awsdynamo.ReleasesIndex): {"dynamodb:Query"},
		StateTable: {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
			"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
	},
	// The events arrive in the stream records Lambda hands over: no table is read or written.
	"events": {},
	// Claim each delivery (a conditional PutItem), mark it delivered, or give it up (DeleteItem).
	"notify": {StateTable: {"dynamodb:DeleteItem", "dynamodb:PutItem"}},
}

// Labels says whose parameters an SSM action of a function reaches: images' parameters by the
// label in /{project}/images/{label}/{service} (or, for GetParametersByPath,
// /{project}/images/{label}), or, for NotifyConfig, no image's but the notification
// configuration's.
type Labels int

const (
	// LatestLabel is only shiplog.LatestLabel, which ecr-push keeps.
	LatestLabel Labels = iota + 1
	// EnvironmentLabels is every label but shiplog.LatestLabel: the environments deploys write.
	EnvironmentLabels
	// AnyLabel is every label: reads of a label's images.
	AnyLabel
	// NotifyConfig is no image's parameter: the notify function's configuration, the parameter
	// the template's NotifyConfigParameter names, and the destinations' URL and secret
	// parameters under it ({NotifyConfigParameter}/...). The stack's ParameterPrefix does not
	// apply to it.
	NotifyConfig
	// GitHubToken is no image's parameter: only the SecureString the template's
	// GitHubTokenParameter names (granted only when it is set). The stack's ParameterPrefix does
	// not apply to it.
	GitHubToken
)

// Images reports whether l reaches images' parameters (/{project}/images/...) at all.
func (l Labels) Images() bool { return l == LatestLabel || l == EnvironmentLabels || l == AnyLabel }

// InNotifyConfig reports whether name is one NotifyConfig reaches, for the configuration
// parameter config: config itself, or a parameter under it. config/ alone, config's siblings
// (config-x) and its parent are not.
func InNotifyConfig(name, config string) bool {
	if name == config {
		return true
	}
	rest, ok := strings.CutPrefix(name, config+"/")
	return ok && rest != "" && !strings.HasSuffix(rest, "/") && !strings.Contains(rest, "//")
}

// Allows reports whether label is one of l.
func (l Labels) Allows(label string) bool {
	switch l {
	case LatestLabel:
		return label == shiplog.LatestLabel
	case EnvironmentLabels:
		return label != shiplog.LatestLabel
	case AnyLabel:
		return true
	}
	// NotifyConfig and GitHubToken reach no image's label.
	return false
}

// FunctionParameters lists, per function and SSM action of FunctionActions, the labels whose
// parameters the code reaches. The template's SSM statements grant exactly these shapes (a test in
// pkg/infra evaluates them), and the recorded-call test holds every name the code used to them.
var FunctionParameters = map[string]map[string]Labels{
	"ecr-push":       {"ssm:GetParameter": LatestLabel, "ssm:PutParameter": LatestLabel},
	"create-release": {"ssm:GetParameters": AnyLabel},
	"deploy":         {"ssm:GetParameter": GitHubToken, "ssm:GetParameters": LatestLabel, "ssm:PutParameter": EnvironmentLabels},
	"ecs-events":     {},
	"api":            {"ssm:GetParameter": GitHubToken, "ssm:GetParameters": AnyLabel, "ssm:GetParametersByPath": AnyLabel, "ssm:PutParameter": EnvironmentLabels},
	"events":         {},
	// The configuration and its destinations' URLs and secrets (awsssm.GetSecureParameters): no image's.
	"notify": {"ssm:GetParameters": NotifyConfig},
}
