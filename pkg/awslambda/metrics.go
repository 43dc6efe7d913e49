package awslambda

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/oklog/ulid/v2"

	"github.com/shiplog/shiplog/pkg/emf"
	"github.com/shiplog/shiplog/pkg/logctx"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The metrics the functions write in CloudWatch's Embedded Metric Format, in namespace
// emf.Namespace (docs/operating.md lists each with its dimensions).
const (
	// MetricDeployments counts deployments recorded (deployment.requested), by Kind.
	MetricDeployments = "Deployments"
	// MetricDeploymentOutcomes counts what became of deploys, by Outcome: applied, verified,
	// failed, superseded (from the event log), refused (a gate refused the deploy).
	MetricDeploymentOutcomes = "DeploymentOutcomes"
	// MetricDeploymentsRefused counts deploys a gate refused, by Gate.
	MetricDeploymentsRefused = "DeploymentsRefused"
	// MetricDeploymentsFailed counts deployments marked failed (by ECS, a report).
	MetricDeploymentsFailed = "DeploymentsFailed"
	// MetricVerificationLatency is the seconds from a deployment's creation to its verification.
	MetricVerificationLatency = "VerificationLatency"
	// MetricLeadTime is DORA's lead time of one image a deployment ran first: seconds from its
	// push to the deployment.
	MetricLeadTime = "LeadTime"
)

// The dimensions the metrics carry.
const (
	DimensionProject     = "Project"
	DimensionEnvironment = "Environment"
	DimensionKind        = "Kind"
	DimensionOutcome     = "Outcome"
	DimensionGate        = "Gate"
)

// OutcomeRefused is the Outcome of a deploy a gate refused.
const OutcomeRefused = "refused"

var (
	byEnvironment  = []string{DimensionProject, DimensionEnvironment}
	acrossProjects = []string{DimensionEnvironment}
)

// Metrics writes shiplog's metrics as EMF lines. It is a shiplog.DeployObserver (refusals by
// gate, lead times), and counts the deployment events the events function publishes. A nil
// *Metrics writes nothing; a line that cannot be written is logged, never an error of the
// request.
type Metrics struct {
	w   *emf.Writer
	log *slog.Logger
}

// NewMetrics returns Metrics writing to w (the function's stdout), logging a failure to log.
func NewMetrics(w io.Writer, log *slog.Logger) *Metrics { return NewMetricsOn(emf.New(w), log) }

// NewMetricsOn returns Metrics writing through w.
func NewMetricsOn(w *emf.Writer, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Metrics{w: w, log: log}
}

var _ shiplog.DeployObserver = (*Metrics)(nil)

// write writes one point; the values always name the project and environment, and, for the log
// reader, the Lambda request and the deployment.
func (m *Metrics) write(ctx context.Context, p emf.Point) {
	if m == nil {
		return
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		p.Values["requestId"] = lc.AwsRequestID
	}
	if err := m.w.Write(p); err != nil {
		m.log.ErrorContext(ctx, "metric not written", "err", err)
	}
}

func values(projectID, environment string, more ...string) map[string]string {
	v := map[string]string{DimensionProject: projectID, DimensionEnvironment: environment}
	for i := 0; i+1 < len(more); i += 2 {
		if more[i+1] != "" {
			v[more[i]] = more[i+1]
		}
	}
	return v
}

func count(name string) emf.Metric { return emf.Metric{Name: name, Unit: emf.Count, Value: 1} }

// DeployRefused implements shiplog.DeployObserver.
func (m *Metrics) DeployRefused(ctx context.Context, projectID, environment, kind, gate string) {
	if gate == "" {
		gate = "unknown"
	}
	m.write(ctx, emf.Point{
		Dimensions: [][]string{{DimensionProject, DimensionEnvironment, DimensionGate}},
		Values:     values(projectID, environment, DimensionGate, gate, DimensionKind, kind),
		Metrics:    []emf.Metric{count(MetricDeploymentsRefused)},
	})
	m.outcome(ctx, projectID, environment, OutcomeRefused, "")
}

// DeploymentRecorded implements shiplog.DeployObserver: one LeadTime per image the deployment
// runs first (a push after the deployment, by clock skew, counts 0, as the DORA metrics have it).
func (m *Metrics) DeploymentRecorded(ctx context.Context, projectID string, d shiplog.Deployment) {
	if d.Leads == nil {
		return
	}
	for _, img := range d.Leads.Images {
		lead := max(d.CreatedAt-img.PushedAt, 0)
		m.write(ctx, emf.Point{
			Dimensions: [][]string{byEnvironment},
			Values:     values(projectID, d.Environment.ID, "DeploymentId", d.ID, "Image", img.URI),
			Metrics:    []emf.Metric{{Name: MetricLeadTime, Unit: emf.Seconds, Value: float64(lead)}},
		})
	}
}

func (m *Metrics) outcome(ctx context.Context, projectID, environment, outcome, deploymentID string) {
	m.write(ctx, emf.Point{
		Dimensions: [][]string{{DimensionProject, DimensionEnvironment, DimensionOutcome}},
		Values:     values(projectID, environment, DimensionOutcome, outcome, "DeploymentId", deploymentID),
		Metrics:    []emf.Metric{count(MetricDeploymentOutcomes)},
	})
}

// Event writes the metrics of one event of the log: deployments requested, and what became of
// them. Other events are no metric.
func (m *Metrics) Event(ctx context.Context, ev shiplog.Event) {
	if m == nil || ev.Environment == "" || !strings.HasPrefix(ev.Type, "deployment.") {
		return
	}
	status := strings.TrimPrefix(ev.Type, "deployment.")
	switch ev.Type {
	case shiplog.EventDeploymentRequested:
		kind := ev.Detail["kind"]
		if kind == "" {
			kind = shiplog.KindDeploy
		}
		m.write(ctx, emf.Point{
			Dimensions: [][]string{byEnvironment, {DimensionProject, DimensionEnvironment, DimensionKind}},
			Values:     values(ev.ProjectID, ev.Environment, DimensionKind, kind, "DeploymentId", ev.DeploymentID),
			Metrics:    []emf.Metric{count(MetricDeployments)},
		})
		return
	case shiplog.EventDeploymentVerified:
		// A deployment id is a ULID: its first characters are the time the deployment was made.
		if id, err := ulid.ParseStrict(ev.DeploymentID); err == nil {
			created := int64(id.Time() / 1000)
			m.write(ctx, emf.Point{
				Dimensions: [][]string{byEnvironment},
				Values:     values(ev.ProjectID, ev.Environment, "DeploymentId", ev.DeploymentID),
				Metrics:    []emf.Metric{{Name: MetricVerificationLatency, Unit: emf.Seconds, Value: float64(max(ev.At-created, 0))}},
			})
		}
	case shiplog.EventDeploymentFailed:
		m.write(ctx, emf.Point{
			Dimensions: [][]string{byEnvironment, acrossProjects},
			Values:     values(ev.ProjectID, ev.Environment, "DeploymentId", ev.DeploymentID),
			Metrics:    []emf.Metric{count(MetricDeploymentsFailed)},
		})
	case shiplog.EventDeploymentApplied, shiplog.EventDeploymentSuperseded:
	default:
		return
	}
	m.outcome(ctx, ev.ProjectID, ev.Environment, status, ev.DeploymentID)
}

// NewLogger returns a function's logger: JSON lines on stdout (the template's LogFormat is JSON),
// at AWS_LAMBDA_LOG_LEVEL (the template's ApplicationLogLevel; INFO if unset), each carrying
// Lambda's request id ("requestId") and the request's fields (logctx: project, environment,
// deployment, API Gateway's request id) once the handler has started them.
func NewLogger() *slog.Logger { return NewLoggerTo(os.Stdout) }

// NewLoggerTo is NewLogger writing to w.
func NewLoggerTo(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(os.Getenv("AWS_LAMBDA_LOG_LEVEL"))) // DEBUG, INFO, WARN, ERROR
	json := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(logctx.NewHandler(requestIDHandler{json}))
}

// requestIDHandler adds Lambda's request id, from the invocation's context, to every record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
