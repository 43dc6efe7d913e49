// Package infra holds the tests that hold the infrastructure as code against the Go code:
// template.yaml (the SAM stack) against the functions, the HTTP route table, the DynamoDB table
// definitions and the IAM actions each function calls; terraform/ against the SSM parameter names
// the code writes. The package has no code of its own: the checks are its tests.
package infra
