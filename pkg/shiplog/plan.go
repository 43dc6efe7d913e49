package shiplog

import "context"

// Plan is what a deploy would do: the release it would deploy, each service's change from the
// environment's current images to the release's, every gate's decision, and the refusal it would
// meet, if any.
type Plan struct {
	ReleaseID    string          `json:"release_id"`
	Environment  string          `json:"environment"`
	Kind         string          `json:"kind"`
	PromotedFrom string          `json:"promoted_from,omitempty"`
	Services     []ServiceChange `json:"services"`
	// ParametersToWrite are the parameters the deploy would write.
	ParametersToWrite []string `json:"parameters_to_write"`
	// Gates are the decisions of every gate (Gates), in order, refusals and all: the first
	// refusal is not the only one a person needs to see. Empty when the deploy was refused before
	// the gates (another request's idempotency key, a rollback of what is no longer current).
	Gates   []GateDecision `json:"gates"`
	Refusal *Refusal       `json:"refusal"`
}

// Refusal is the error a deploy would answer: Kind is the error kind's name, as in an error
// response, and Message the same words.
type Refusal struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// PlanResult is the answer to a dry run.
type PlanResult struct {
	Plan Plan `json:"plan"`
}

// Plan answers what Deploy would do with in, writing nothing: the same checks (environment,
// lock, promotion gates, images still in the registry) and the refusal a real deploy would meet.
// A request that is wrong in itself (an unknown project, release or environment, a bad field) is
// an error, as it is for Deploy. Another deploy writing the environment is not a refusal: the
// real deploy would wait for it.
func (s *Service) Plan(ctx context.Context, in DeployInput) (PlanResult, error) {
	req, err := s.newDeployRequest(ctx, in)
	if err != nil {
		return PlanResult{}, err
	}
	return s.plan(ctx, req)
}

func (s *Service) plan(ctx context.Context, req deployRequest) (PlanResult, error) {
	rd, err := s.readDeploy(ctx, req)
	if err != nil {
		return PlanResult{}, err
	}
	refusal := rd.refusal
	if refusal == nil {
		if _, err := s.checkRelease(ctx, rd.dc.Project, rd.dc.Release, rd.env); err != nil {
			if !IsKind(err, Conflict) {
				return PlanResult{}, err
			}
			refusal = err
		}
	}
	var current map[string]string
	if rd.dc.Current != nil {
		current = rd.dc.Current.Images
	}
	toWrite := changedServices(rd.dc.Current, rd.dc.Release.Images)
	changes := changesOf(rd.dc.Current, rd.dc.Release.Images, ParameterPath(req.ProjectID, rd.env.ID), toWrite)
	p := Plan{
		ReleaseID:         rd.dc.Release.ID,
		Environment:       rd.env.ID,
		Kind:              req.kind,
		PromotedFrom:      req.FromEnvironment,
		Services:          withRanges(diffImages(current, rd.dc.Release.Images), stateSet(rd.dc.Current), releaseSet(rd.dc.Release), req.kind == KindRollback),
		ParametersToWrite: changes.ParametersWritten,
		Gates:             rd.gates,
	}
	if p.Gates == nil {
		p.Gates = []GateDecision{}
	}
	if refusal != nil {
		p.Refusal = &Refusal{Kind: KindOf(refusal).String(), Message: MessageOf(refusal)}
	}
	return PlanResult{Plan: p}, nil
}
