// Package e2e is shiplog's end-to-end test. It has no code of its own: its test builds the real
// Lambda bootstrap binaries, runs each under aws-lambda-rie with AWS_ENDPOINT_URL pointing at a
// moto_server, and drives the whole flow with the aws CLI, checking the SSM parameters and the
// DynamoDB items that each step leaves behind.
//
//	make tools && PATH=$PWD/bin:$PATH go test -count=1 ./e2e/ -v
package e2e
