package awsapp

import "github.com/shiplog/shiplog/pkg/awsdynamo"

// FunctionIndexes lists the DynamoDB indexes each function's code queries: a role needs
// dynamodb:Query on an index's own ARN, and only the API lists a project's releases.
var FunctionIndexes = map[string][]string{
	"ecr-push":       {},
	"create-release": {},
	"deploy":         {},
	"api":            {awsdynamo.ReleasesIndex},
}

// FunctionActions is the one list of the IAM actions each function's code calls, keyed by
// function name. The SAM template's policies are held to it by a test in pkg/infra, and a test
// here holds each function's real calls (against moto, through every path) to it, both ways.
//
// DynamoDB's TransactWriteItems is authorized item by item, so it appears as the item actions
// (PutItem, UpdateItem, DeleteItem, ConditionCheckItem) it carries. Registering a project with more
// repositories than one transaction takes uses ConditionCheckItem and a final UpdateItem.
var FunctionActions = map[string][]string{
	// Record a push: find the services a repository feeds, record the push under a condition,
	// compare and write the "latest" parameter.
	"ecr-push": {
		"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
		"ssm:GetParameter", "ssm:PutParameter",
	},
	// Register the manifest entry it is given (after reading the project's environment states and
	// the services of its repositories, to refuse dropping a deployed environment or overfilling
	// a repository), then read the label's parameter of each service.
	"create-release": {
		"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
		"ssm:GetParameters",
	},
	// Read the release, project and environment, check (and tag) the images in ECR, record the
	// deployment, write the changed parameters and settle the environment.
	"deploy": {
		"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
		"ecr:BatchGetImage", "ecr:PutImage",
		"ssm:PutParameter",
	},
	// The HTTP API: registration, releases, deploys and every read. It records no pushes.
	"api": {
		"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
		"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
		"ecr:BatchGetImage", "ecr:PutImage",
		"ssm:GetParameters", "ssm:GetParametersByPath", "ssm:PutParameter",
	},
}
