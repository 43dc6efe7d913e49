package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/awslambda"
	"github.com/shiplog/shiplog/pkg/dashboard"
)

// uiHandler is the dashboard that shiplog ui serves at / and /assets/, which asks at
// dashboard.IdentityPath who c's requests are recorded as.
func uiHandler(c *apiclient.Client) http.Handler { return dashboard.HandlerFor(uiWriter(c)) }

// uiWriter is who the API records as the requester of what the page writes through shiplog ui:
// the proxy strips the page's X-Shiplog-User, so it is never a name typed in the page, but the
// IAM principal c signs as (API Gateway hands the API its ARN, which awslambda.IAMPerson names),
// or c's --user against the local stack.
func uiWriter(c *apiclient.Client) dashboard.WriterFunc {
	return func(ctx context.Context) (dashboard.Writer, error) {
		if c.Signing {
			arn, err := c.SignerARN(ctx)
			if err != nil {
				return dashboard.Writer{}, fmt.Errorf("shiplog ui cannot tell which AWS identity it signs as: %v", err)
			}
			p := awslambda.IAMPerson(arn)
			return dashboard.Writer{ID: p.ID, Name: p.Name, Fixed: true,
				How: "shiplog ui signs every request with your AWS credentials, and the API records the IAM identity that signs"}, nil
		}
		if c.User == "" {
			return dashboard.Writer{Fixed: true,
				How: "shiplog ui names no one (no --user, no $USER), so the API records its default: on the local stack, the user running it"}, nil
		}
		return dashboard.Writer{ID: c.User, Name: c.User, Fixed: true,
			How: "shiplog ui names you to the local stack as its --user (X-Shiplog-User)"}, nil
	}
}
