package main

import "github.com/shiplog/shiplog/pkg/shiplog"

// The API's answers as the CLI reads them: the domain's types where they exist, with the fields
// of the workflow's statuses, drift, events and metrics, which older APIs do not send (they decode
// as zero values).

// deployment is a deployment as GET /projects/{p}/deployments lists it, with its status.
type deployment struct {
	shiplog.DeploymentRecord
	Status        string         `json:"status"`
	StatusHistory []statusChange `json:"status_history"`
}

// statusChange is one step of a deployment's status history.
type statusChange struct {
	Status string         `json:"status"`
	At     int64          `json:"at"`
	By     shiplog.Person `json:"by"`
	Detail string         `json:"detail"`
}

// environment is one item of GET /projects/{p}/environments.
type environment struct {
	shiplog.EnvironmentStatus
	Status string  `json:"status"`
	Drift  []drift `json:"drift"`
}

// drift is a difference between what is recorded for an environment and what runs there.
type drift struct {
	Service  string `json:"service"`
	Kind     string `json:"kind"`
	Recorded any    `json:"recorded"`
	Actual   any    `json:"actual"`
}

// event is one item of GET /projects/{p}/events.
type event struct {
	ID           string         `json:"event_id"`
	Type         string         `json:"type"`
	At           int64          `json:"at"`
	By           shiplog.Person `json:"by"`
	ProjectID    string         `json:"project_id"`
	Environment  string         `json:"environment"`
	ReleaseID    string         `json:"release_id"`
	DeploymentID string         `json:"deployment_id"`
	Service      string         `json:"service"`
	Detail       any            `json:"detail"`
}

// metrics is the answer of GET /projects/{p}/metrics: the DORA figures of one environment.
type metrics struct {
	Environment         string `json:"environment"`
	Since               int64  `json:"since"`
	Until               int64  `json:"until"`
	Deployments         int    `json:"deployments"`
	DeploymentFrequency struct {
		PerDay  float64 `json:"per_day"`
		PerWeek float64 `json:"per_week"`
	} `json:"deployment_frequency"`
	LeadTimeSeconds struct {
		Count  int      `json:"count"`
		Median *float64 `json:"median"`
		P90    *float64 `json:"p90"`
	} `json:"lead_time_seconds"`
	ChangeFailureRate struct {
		Failed int      `json:"failed"`
		Total  int      `json:"total"`
		Rate   *float64 `json:"rate"`
	} `json:"change_failure_rate"`
	TimeToRestoreSeconds struct {
		Count  int      `json:"count"`
		Median *float64 `json:"median"`
	} `json:"time_to_restore_seconds"`
}

// deployResult is the answer of a deploy, a promotion or a rollback (201).
type deployResult struct {
	Deployment deployment      `json:"deployment"`
	Release    shiplog.Release `json:"release"`
}
