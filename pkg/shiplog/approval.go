package shiplog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Approvals is an environment's approval rule ("approvals" in .wellcome_project): a deploy to it
// needs Required distinct people to have approved the release for it, each one of From (if
// given), and, unless SelfApproval, none of them the deploy's requester or the release's.
type Approvals struct {
	Required int `json:"required"`
	// From lists the person ids that may approve (as the API records them: an IAM ARN behind
	// API Gateway, the X-Shiplog-User id locally); empty: anyone.
	From []string `json:"from,omitempty"`
	// SelfApproval lets the deploy's requester, and the release's, count as approvers.
	SelfApproval bool `json:"self_approval,omitempty"`
}

// Approval is one person's approval of a release for an environment. There is at most one per
// (project, environment, release, person); withdrawing it removes it.
type Approval struct {
	ProjectID   string `json:"project_id"`
	Environment string `json:"environment"`
	ReleaseID   string `json:"release_id"`
	By          Person `json:"by"`
	At          int64  `json:"at"`
}

// The limits of approvals.
const (
	// MaxApprovers bounds an environment's approvals.from.
	MaxApprovers = 100
	// MaxApprovals bounds the approvals one release holds for one environment, so that the
	// deploy's read of them is one bounded query. Past it an approval is refused (409).
	MaxApprovals = 100
)

// ApprovalStore keeps the approvals of releases for environments, each with its event.
type ApprovalStore interface {
	// PutApproval records a and writes ev with it, in one atomic write, unless the same person's
	// approval of the same release for the same environment is recorded: then it writes nothing
	// and answers false.
	PutApproval(ctx context.Context, a Approval, ev Event) (bool, error)
	// DeleteApproval removes the approval of release releaseID for environment env by the person
	// personID and writes ev with the removal, in one atomic write; false, writing nothing, if
	// there is none.
	DeleteApproval(ctx context.Context, projectID, env, releaseID, personID string, ev Event) (bool, error)
	// ListApprovals returns the approvals of a release for an environment, oldest first (then by
	// person id), in one query of at most MaxApprovals items.
	ListApprovals(ctx context.Context, projectID, env, releaseID string) ([]Approval, error)
}

// validateApprovals checks an environment's approval rule (nil: none).
func validateApprovals(field string, a *Approvals) error {
	if a == nil {
		return nil
	}
	return a.Validate(field + ".approvals")
}

// Validate checks an approval rule; field is its path, for errors ("storage.environments[1].approvals").
// required is at least 1 (and at most MaxApprovals), and no more than the people of from when
// from is given; from's ids are well-formed and distinct, at most MaxApprovers of them.
func (a Approvals) Validate(field string) error {
	if a.Required < 1 {
		return Errorf(Invalid, "%s.required: %d must be at least 1; leave approvals out for none", field, a.Required)
	}
	if len(a.From) > MaxApprovers {
		return Errorf(Invalid, "%s.from: %d people; the limit is %d", field, len(a.From), MaxApprovers)
	}
	if a.Required > MaxApprovals {
		return Errorf(Invalid, "%s.required: %d is more than the %d approvals a release may hold", field, a.Required, MaxApprovals)
	}
	if len(a.From) > 0 && a.Required > len(a.From) {
		return Errorf(Invalid, "%s.required: %d is more than the %d people of from (%s), so no deploy could pass",
			field, a.Required, len(a.From), strings.Join(a.From, ", "))
	}
	seen := map[string]bool{}
	for i, id := range a.From {
		f := fmt.Sprintf("%s.from[%d]", field, i)
		if err := validatePersonID(f, id); err != nil {
			return err
		}
		if seen[id] {
			return Errorf(Invalid, "%s: %q is listed twice", f, id)
		}
		seen[id] = true
	}
	return nil
}

// validatePersonID checks a person id as the API records one: at most MaxNameLength bytes of
// printable characters with no spaces (an IAM ARN, a user name).
func validatePersonID(field, id string) error {
	if id == "" {
		return Errorf(Invalid, "%s: is empty; name a person by the id the API records for them (an IAM ARN, or the X-Shiplog-User id locally)", field)
	}
	if err := validateName(field, id); err != nil {
		return err
	}
	for _, c := range id {
		if unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return Errorf(Invalid, "%s: %q must be printable characters and no spaces, as the ids the API records are", field, clip(id))
		}
	}
	return nil
}

// ApprovalInput names a release, an environment, and who approves it (or withdraws).
type ApprovalInput struct {
	ProjectID   string
	Environment string
	ReleaseID   string
	RequestedBy Person
}

// ApprovalStatus is where a release stands with an environment's approvals: the rule, every
// approval recorded, and which of them count. Counted leaves out approvals by people not in
// from and, without self_approval, the release's requester's; a deploy leaves out its own
// requester's as well. Approved says the counted ones are enough for a deploy by someone who
// did not approve. Changed, in the answer of an approval or a withdrawal, says whether it wrote.
type ApprovalStatus struct {
	ProjectID    string     `json:"project_id"`
	Environment  string     `json:"environment"`
	ReleaseID    string     `json:"release_id"`
	Required     int        `json:"required"`
	From         []string   `json:"from,omitempty"`
	SelfApproval bool       `json:"self_approval,omitempty"`
	Approvals    []Approval `json:"approvals"`
	Counted      []string   `json:"counted"`
	Approved     bool       `json:"approved"`
	Changed      bool       `json:"changed,omitempty"`
}

// approvalRead is what an approval, a withdrawal or a listing reads: the environment and the
// release, checked to exist.
func (s *Service) approvalRead(ctx context.Context, in ApprovalInput, write bool) (Environment, Release, Person, error) {
	if err := ValidateID("project", in.ProjectID); err != nil {
		return Environment{}, Release{}, Person{}, err
	}
	if err := ValidateID("environment", in.Environment); err != nil {
		return Environment{}, Release{}, Person{}, err
	}
	if err := ValidateID("release_id", in.ReleaseID); err != nil {
		return Environment{}, Release{}, Person{}, err
	}
	if in.ReleaseID == LatestRelease {
		return Environment{}, Release{}, Person{}, Errorf(Invalid, "release_id: approve a release by its id, not %q, which names whichever release is newest when it is read", LatestRelease)
	}
	var by Person
	if write {
		if err := in.RequestedBy.Validate(); err != nil {
			return Environment{}, Release{}, Person{}, err
		}
		by = normalizePerson(in.RequestedBy)
		if by.ID == AnonymousPerson.ID {
			return Environment{}, Release{}, Person{}, Errorf(Invalid, "requested_by: an approval needs to know who approves; an anonymous one would count for nobody")
		}
	}
	dc, err := s.Store.DeployContext(ctx, in.ProjectID, in.ReleaseID, in.Environment)
	if err != nil {
		return Environment{}, Release{}, Person{}, s.notFound(err, in.ProjectID, in.ReleaseID)
	}
	env, err := environmentOf(dc.Project, in.Environment)
	if err != nil {
		return Environment{}, Release{}, Person{}, err
	}
	return env, dc.Release, by, nil
}

// Approve records in.RequestedBy's approval of a release for an environment whose deploys need
// approvals, with its event (approval.granted). Approving again changes nothing (Changed false,
// no event). Refused: an environment that needs no approvals (Conflict), a person not in its
// from list, or, without self_approval, the release's own requester (Forbidden), and a release
// that holds MaxApprovals approvals for it already (Conflict).
func (s *Service) Approve(ctx context.Context, in ApprovalInput) (ApprovalStatus, error) {
	env, rel, by, err := s.approvalRead(ctx, in, true)
	if err != nil {
		return ApprovalStatus{}, err
	}
	rule := env.Approvals
	if rule == nil {
		return ApprovalStatus{}, Errorf(Conflict, "%s/%s needs no approvals: its deploys pass without them (approvals in .wellcome_project sets the rule)", in.ProjectID, env.ID)
	}
	if len(rule.From) > 0 && !slices.Contains(rule.From, by.ID) {
		return ApprovalStatus{}, Errorf(Forbidden, "%s may not approve deploys to %s/%s: the people who may are %s", by.ID, in.ProjectID, env.ID, strings.Join(rule.From, ", "))
	}
	if !rule.SelfApproval && by.ID == rel.RequestedBy.ID {
		return ApprovalStatus{}, Errorf(Forbidden, "%s requested release %s, and %s/%s does not take its requester's approval (self_approval is false); someone else must approve it",
			by.ID, rel.ID, in.ProjectID, env.ID)
	}
	list, err := s.Store.ListApprovals(ctx, in.ProjectID, env.ID, rel.ID)
	if err != nil {
		return ApprovalStatus{}, fmt.Errorf("list approvals of %s for %s/%s: %w", rel.ID, in.ProjectID, env.ID, err)
	}
	if slices.ContainsFunc(list, func(a Approval) bool { return a.By.ID == by.ID }) {
		return approvalStatus(env, rel, list, false), nil
	}
	if len(list) >= MaxApprovals {
		return ApprovalStatus{}, Errorf(Conflict, "release %s holds %d approvals for %s/%s, the limit (MaxApprovals); withdraw some first", rel.ID, len(list), in.ProjectID, env.ID)
	}
	now := s.Now().Unix()
	a := Approval{ProjectID: in.ProjectID, Environment: env.ID, ReleaseID: rel.ID, By: by, At: now}
	ev := s.approvalEvent(EventApprovalGranted, a)
	created, err := s.Store.PutApproval(ctx, a, ev)
	if err != nil {
		return ApprovalStatus{}, fmt.Errorf("record approval of %s for %s/%s: %w", rel.ID, in.ProjectID, env.ID, err)
	}
	if created {
		list = append(list, a)
	} else if list, err = s.Store.ListApprovals(ctx, in.ProjectID, env.ID, rel.ID); err != nil {
		return ApprovalStatus{}, err
	}
	return approvalStatus(env, rel, list, created), nil
}

// Withdraw removes in.RequestedBy's own approval of a release for an environment, with its
// event (approval.withdrawn); Changed false, writing nothing, if there was none. It is allowed
// whatever the environment's rule says now.
func (s *Service) Withdraw(ctx context.Context, in ApprovalInput) (ApprovalStatus, error) {
	env, rel, by, err := s.approvalRead(ctx, in, true)
	if err != nil {
		return ApprovalStatus{}, err
	}
	a := Approval{ProjectID: in.ProjectID, Environment: env.ID, ReleaseID: rel.ID, By: by, At: s.Now().Unix()}
	removed, err := s.Store.DeleteApproval(ctx, in.ProjectID, env.ID, rel.ID, by.ID, s.approvalEvent(EventApprovalWithdrawn, a))
	if err != nil {
		return ApprovalStatus{}, fmt.Errorf("withdraw approval of %s for %s/%s: %w", rel.ID, in.ProjectID, env.ID, err)
	}
	list, err := s.Store.ListApprovals(ctx, in.ProjectID, env.ID, rel.ID)
	if err != nil {
		return ApprovalStatus{}, err
	}
	return approvalStatus(env, rel, list, removed), nil
}

// ApprovalsOf lists the approvals of a release for an environment, and which count.
func (s *Service) ApprovalsOf(ctx context.Context, projectID, env, releaseID string) (ApprovalStatus, error) {
	e, rel, _, err := s.approvalRead(ctx, ApprovalInput{ProjectID: projectID, Environment: env, ReleaseID: releaseID}, false)
	if err != nil {
		return ApprovalStatus{}, err
	}
	list, err := s.Store.ListApprovals(ctx, projectID, e.ID, rel.ID)
	if err != nil {
		return ApprovalStatus{}, fmt.Errorf("list approvals of %s for %s/%s: %w", releaseID, projectID, env, err)
	}
	return approvalStatus(e, rel, list, false), nil
}

func approvalStatus(env Environment, rel Release, list []Approval, changed bool) ApprovalStatus {
	st := ApprovalStatus{ProjectID: rel.ProjectID, Environment: env.ID, ReleaseID: rel.ID, Approvals: list, Counted: []string{}, Changed: changed}
	if st.Approvals == nil {
		st.Approvals = []Approval{}
	}
	if rule := env.Approvals; rule != nil {
		st.Required, st.From, st.SelfApproval = rule.Required, rule.From, rule.SelfApproval
		c := countApprovals(*rule, rel, Person{}, list)
		st.Counted = c.counted
		st.Approved = len(c.counted) >= rule.Required
	}
	return st
}

// approvalCount is how a rule counts a release's approvals for one deploy: who counts, and why
// each of the others does not.
type approvalCount struct {
	counted []string
	ignored []string // "carol (not one of from)"
}

// requesterNote marks, in approvalCount.ignored, the deploy requester's own approval.
const requesterNote = " (requests this deploy)"

// countApprovals counts the approvals of rel under rule for a deploy requested by requester (zero:
// no deploy, as a listing counts).
func countApprovals(rule Approvals, rel Release, requester Person, list []Approval) approvalCount {
	var c approvalCount
	seen := map[string]bool{}
	for _, a := range list {
		id := a.By.ID
		switch {
		case seen[id]:
			continue
		case len(rule.From) > 0 && !slices.Contains(rule.From, id):
			c.ignored = append(c.ignored, id+" (not one of from)")
		case !rule.SelfApproval && requester.ID != "" && id == requester.ID:
			c.ignored = append(c.ignored, id+requesterNote)
		case !rule.SelfApproval && id == rel.RequestedBy.ID:
			c.ignored = append(c.ignored, id+" (requested the release)")
		default:
			c.counted = append(c.counted, id)
		}
		seen[id] = true
	}
	return c
}

// approvalEvent is the event of granting or withdrawing a.
func (s *Service) approvalEvent(typ string, a Approval) Event {
	ev := s.newEvent(typ, a.ProjectID, a.By, a.At)
	ev.Environment, ev.ReleaseID = a.Environment, a.ReleaseID
	return ev
}
