// Command notify is the shiplog notify Lambda function: it posts shiplog's events from the
// EventBridge bus to Slack, Teams and webhooks (docs/notifications.md).
package main

import (
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/shiplog/shiplog/pkg/awsdynamo"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/awssqs"
	"github.com/shiplog/shiplog/pkg/awsssm"
	"github.com/shiplog/shiplog/pkg/lambdaconfig"
	"github.com/shiplog/shiplog/pkg/notify"
)

func main() {
	log := lambdacontext.NewLogger()
	env := map[string]string{
		"SHIPLOG_NOTIFY_CONFIG":  os.Getenv("SHIPLOG_NOTIFY_CONFIG"),
		"SHIPLOG_NOTIFY_DLQ_URL": os.Getenv("SHIPLOG_NOTIFY_DLQ_URL"),
		"SHIPLOG_RELEASES_TABLE": os.Getenv("SHIPLOG_RELEASES_TABLE"),
		"SHIPLOG_STATE_TABLE":    os.Getenv("SHIPLOG_STATE_TABLE"),
	}
	for k, v := range env {
		if v == "" {
			log.Error("cannot start", "err", k+" is not set")
			os.Exit(1)
		}
	}
	cfg, err := lambdaconfig.Load()
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	store := awsdynamo.New(dynamodb.NewFromConfig(cfg), env["SHIPLOG_RELEASES_TABLE"], env["SHIPLOG_STATE_TABLE"])
	loader := &notify.Loader{Params: awsssm.New(ssm.NewFromConfig(cfg, awsssm.WithRetries)), Name: env["SHIPLOG_NOTIFY_CONFIG"], TTL: time.Minute}
	n := &notify.Notifier{Config: loader.Load, Claims: store, Dead: awssqs.New(sqs.NewFromConfig(cfg), env["SHIPLOG_NOTIFY_DLQ_URL"]),
		Client: &http.Client{Timeout: 10 * time.Second}, Log: log}
	lambda.Start(awslambda.Notify(n, log))
}
