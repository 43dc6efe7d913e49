package awssqs_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shiplog/shiplog/pkg/awssqs"
	"github.com/shiplog/shiplog/pkg/localaws"
)

func TestMain(m *testing.M) { localaws.Main(m) }

// TestSend: a dead letter lands on the queue as sent; a queue that does not exist is an error.
func TestSend(t *testing.T) {
	m := localaws.SharedMoto(t)
	client := sqs.NewFromConfig(m.Config(t.Context()))
	q, err := client.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(localaws.UniqueName("dlq"))})
	if err != nil {
		t.Fatal(err)
	}
	const body = `{"event":{"event_id":"01J"},"destination":"audit","error":"answered 500"}`
	if err := awssqs.New(client, aws.ToString(q.QueueUrl)).Send(t.Context(), body); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || aws.ToString(got.Messages[0].Body) != body {
		t.Errorf("queue holds %d messages %v, want the one sent", len(got.Messages), got.Messages)
	}
	err = awssqs.New(client, aws.ToString(q.QueueUrl)+"-gone").Send(t.Context(), body)
	if err == nil || !strings.Contains(err.Error(), "-gone") {
		t.Errorf("Send to a queue that does not exist: got %v, want an error naming the queue", err)
	}
}
