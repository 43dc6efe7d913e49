// Package awssqs is the notify function's dead-letter queue on Amazon SQS.
package awssqs

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/shiplog/shiplog/pkg/awserr"
)

// Actions are the IAM actions the adapter calls.
var Actions = []string{"sqs:SendMessage"}

// Queue sends messages to one queue.
type Queue struct {
	client *sqs.Client
	url    string
}

// New returns the queue at url, on client.
func New(client *sqs.Client, url string) *Queue { return &Queue{client: client, url: url} }

// Send puts body on the queue.
func (q *Queue) Send(ctx context.Context, body string) error {
	_, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(body)})
	if err != nil {
		return service.Wrap(err, "send to %s", q.url)
	}
	return nil
}

const service = awserr.Service("SQS")
