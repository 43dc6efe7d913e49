package ledger

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// approvalPrefix keys the approvals of a project's releases, one item per (environment,
// release, person): sk approval#{environment}#{release}#{person, hex}. A person id may hold "#"
// (it is printable text: an IAM ARN, a local user name), so it is hex-encoded, which keeps the
// order of ids and at most 512 characters (MaxNameLength bytes). One release's approvals for one
// environment are one prefix of the project's partition: one query reads them.
const approvalPrefix = "approval#"

func approvalsPrefix(env, releaseID string) string {
	return approvalPrefix + env + "#" + releaseID + "#"
}

func approvalKey(projectID, env, releaseID, personID string) Key {
	return inProject(projectID, approvalsPrefix(env, releaseID)+hex.EncodeToString([]byte(personID)))
}

// approvalRecord is one person's approval of a release for an environment.
type approvalRecord struct {
	ProjectID   string         `json:"project_id"`
	Environment string         `json:"environment"`
	ReleaseID   string         `json:"release_id"`
	By          shiplog.Person `json:"by"`
	At          int64          `json:"at"`
}

func (rec approvalRecord) approval() shiplog.Approval { return shiplog.Approval(rec) }

// PutApproval records a with ev, if no approval of the same person is recorded, in one atomic
// write; false, writing nothing, if one is.
func (l *Ledger) PutApproval(ctx context.Context, a shiplog.Approval, ev shiplog.Event) (bool, error) {
	if a.ProjectID == "" || a.Environment == "" || a.ReleaseID == "" || a.By.ID == "" {
		return false, fmt.Errorf("put approval: needs a project, an environment, a release and a person")
	}
	evOps, err := eventOps(ev)
	if err != nil {
		return false, err
	}
	k := approvalKey(a.ProjectID, a.Environment, a.ReleaseID, a.By.ID)
	ops := append([]Op{put(k, approvalRecord(a), NotExists())}, evOps...)
	return l.writeOnce(ctx, ops, "record approval "+k.SK)
}

// DeleteApproval removes a person's approval with ev, if it is recorded, in one atomic write;
// false, writing nothing, if it is not.
func (l *Ledger) DeleteApproval(ctx context.Context, projectID, env, releaseID, personID string, ev shiplog.Event) (bool, error) {
	evOps, err := eventOps(ev)
	if err != nil {
		return false, err
	}
	k := approvalKey(projectID, env, releaseID, personID)
	ops := append([]Op{{Key: k, Delete: true, If: condPtr(Exists())}}, evOps...)
	return l.writeOnce(ctx, ops, "withdraw approval "+k.SK)
}

// writeOnce writes ops, whose first op's condition decides whether the write happens: false
// when it fails. A write that met a concurrent one is tried again.
func (l *Ledger) writeOnce(ctx context.Context, ops []Op, what string) (bool, error) {
	for attempt := 1; ; attempt++ {
		err := l.d.Write(ctx, ops)
		if err == nil {
			return true, nil
		}
		if cf, ok := condFailed(err); ok && cf.Failed(0) {
			return false, nil
		}
		if !errors.Is(err, ErrBusy) || attempt == pushAttempts {
			return false, fmt.Errorf("%s: %w", what, err)
		}
	}
}

// ListApprovals reads a release's approvals for an environment: one query of at most
// MaxApprovals items, sorted by time, then person.
func (l *Ledger) ListApprovals(ctx context.Context, projectID, env, releaseID string) ([]shiplog.Approval, error) {
	q := Query{Table: State, PK: projectPrefix + projectID, Prefix: approvalsPrefix(env, releaseID), Limit: shiplog.MaxApprovals}
	out, err := queryAll(ctx, l, q, approvalRecord.approval)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b shiplog.Approval) int {
		return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.By.ID, b.By.ID))
	})
	return out, nil
}
