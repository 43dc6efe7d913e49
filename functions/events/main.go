// Command events is the shiplog events Lambda function: it puts the state table's new events on
// an EventBridge bus.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/shiplog/shiplog/pkg/awsdynamo/eventitems"
	"github.com/shiplog/shiplog/pkg/awseventbridge"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/lambdaconfig"
)

func main() {
	log := awslambda.NewLogger()
	bus := os.Getenv("SHIPLOG_EVENT_BUS")
	if bus == "" {
		log.Error("cannot start", "err", "SHIPLOG_EVENT_BUS is not set: it names the EventBridge bus the events go to")
		os.Exit(1)
	}
	cfg, err := lambdaconfig.Load()
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	pub := awseventbridge.New(eventbridge.NewFromConfig(cfg), bus)
	// Deployments, outcomes, failures and verification latency, from the event log, as EMF lines
	// on stdout (docs/operating.md).
	lambda.Start(awslambda.EventsWithMetrics(pub, eventitems.FromStream, log, awslambda.NewMetrics(os.Stdout, log)))
}
