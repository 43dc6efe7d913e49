package main

import "github.com/shiplog/shiplog/pkg/shiplog"

// The API's answers as the CLI reads them. Fields an older API does not send decode as zero
// values.

// The domain's types, as the API answers them.
type (
	deployment  = shiplog.DeploymentRecord
	environment = shiplog.EnvironmentStatus
	drift       = shiplog.Drift
	event       = shiplog.Event
	metrics     = shiplog.Metrics
)

// deployResult is the answer of a deploy, a promotion or a rollback (201).
type deployResult struct {
	Deployment deployment      `json:"deployment"`
	Release    shiplog.Release `json:"release"`
}
