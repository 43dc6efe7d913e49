// Command hello is the floor BenchmarkColdStart measures the functions against: an aws-lambda-go
// function that links nothing else and answers every payload at once.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
