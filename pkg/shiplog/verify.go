package shiplog

import "context"

// handleRuntimeEvent is being built with deployment status (issue 9).
func (s *Service) handleRuntimeEvent(ctx context.Context, ev RuntimeEvent) (RuntimeOutcome, error) {
	return RuntimeOutcome{}, Errorf(Internal, "runtime events are not handled yet")
}
