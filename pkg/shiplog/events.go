package shiplog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
)

// EventSource is the source of every event shiplog puts on an EventBridge bus. It lives here, not
// beside the bus's client, so that a function that reads shiplog's events (notify) knows it
// without linking the EventBridge client it never calls.
const EventSource = "shiplog"

// Event is one entry of a project's event log: one state change, written in the same atomic write
// as the change itself (an outbox), so that an event exists if and only if its change committed.
// Events are never changed or removed.
type Event struct {
	// ID is a ULID: event ids sort by the time they were made, which is also At.
	ID   string `json:"event_id"`
	Type string `json:"type"`
	// At is when the change was made, Unix seconds.
	At           int64  `json:"at"`
	By           Person `json:"by"`
	ProjectID    string `json:"project_id"`
	Environment  string `json:"environment,omitempty"`
	ReleaseID    string `json:"release_id,omitempty"`
	DeploymentID string `json:"deployment_id,omitempty"`
	Service      string `json:"service,omitempty"`
	// Detail says what else a reader of the type needs: the image recorded, the kind of a
	// deployment, a freeze's window. Its keys depend on the type (see the README).
	Detail map[string]string `json:"detail,omitempty"`
}

// The types of event, one per kind of state change.
const (
	EventProjectRegistered    = "project.registered"
	EventImageRecorded        = "image.recorded"
	EventReleaseCreated       = "release.created"
	EventDeploymentRequested  = "deployment.requested"
	EventDeploymentApplied    = "deployment.applied"
	EventDeploymentVerified   = "deployment.verified"
	EventDeploymentFailed     = "deployment.failed"
	EventDeploymentSuperseded = "deployment.superseded"
	EventEnvironmentLocked    = "environment.locked"
	EventEnvironmentUnlocked  = "environment.unlocked"
	EventFreezeSet            = "freeze.set"
	EventFreezeDeleted        = "freeze.deleted"
	EventApprovalGranted      = "approval.granted"
	EventApprovalWithdrawn    = "approval.withdrawn"
)

// EventTypes lists every event type.
var EventTypes = []string{
	EventProjectRegistered, EventImageRecorded, EventReleaseCreated,
	EventDeploymentRequested, EventDeploymentApplied, EventDeploymentVerified, EventDeploymentFailed, EventDeploymentSuperseded,
	EventEnvironmentLocked, EventEnvironmentUnlocked, EventFreezeSet, EventFreezeDeleted,
	EventApprovalGranted, EventApprovalWithdrawn,
}

// EventFilter narrows a project's event log to one type, events at or after Since (Unix seconds),
// or both; the zero filter lists every event.
type EventFilter struct {
	Type  string
	Since int64
}

// Keep reports whether the filter keeps ev.
func (f EventFilter) Keep(ev Event) bool {
	return (f.Type == "" || ev.Type == f.Type) && ev.At >= f.Since
}

// EventIDFloor is the least event id made at or after Unix second t, so that a store can start
// its newest-first walk of the log at the newest event and stop below the floor instead of
// reading the log to its start. Event ids are ULIDs, whose first ten characters are the time.
func EventIDFloor(t int64) string {
	if t <= 0 {
		return ""
	}
	var id ulid.ULID
	if err := id.SetTime(uint64(t) * 1000); err != nil {
		return ""
	}
	return id.String()
}

// DetailType is the EventBridge detail-type of an event type: "deployment.failed" is
// "Deployment Failed".
func DetailType(eventType string) string {
	words := strings.FieldsFunc(eventType, func(r rune) bool { return r == '.' || r == '_' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// Events lists a project's event log, newest first, narrowed by the filter.
func (s *Service) Events(ctx context.Context, projectID string, filter EventFilter, page PageRequest) (Page[Event], error) {
	page, err := page.normalize()
	if err != nil {
		return Page[Event]{}, err
	}
	if err := ValidateID("project", projectID); err != nil {
		return Page[Event]{}, err
	}
	if filter.Type != "" && !slices.Contains(EventTypes, filter.Type) {
		return Page[Event]{}, Errorf(Invalid, "type: %q is not an event type; the types are %s", clip(filter.Type), strings.Join(EventTypes, ", "))
	}
	if filter.Since < 0 {
		return Page[Event]{}, Errorf(Invalid, "since: %d is not a time (Unix seconds)", filter.Since)
	}
	out, err := s.Store.ListEvents(ctx, projectID, filter, page)
	if err != nil {
		return Page[Event]{}, fmt.Errorf("list events of %s: %w", projectID, err)
	}
	if len(out.Items) == 0 {
		// As for releases: only an empty page needs the project, to say what is wrong if anything.
		if _, err := s.Project(ctx, projectID); err != nil {
			return Page[Event]{}, err
		}
	}
	return out, nil
}

// newEvent makes an event of the change being written now.
func (s *Service) newEvent(typ, projectID string, by Person, at int64) Event {
	// by keeps Via: a consumer of the log or the bus must be able to tell a requester the invoker
	// asserted from one API Gateway authenticated.
	return Event{ID: s.eventID(), Type: typ, At: at, By: by, ProjectID: projectID}
}

// eventID returns NewEventID's next id, or, if it is not set, one of a ULID generator on the
// Service's clock, so that event ids are ULIDs whatever NewID makes.
func (s *Service) eventID() string {
	if s.NewEventID != nil {
		return s.NewEventID()
	}
	s.eventIDsOnce.Do(func() { s.eventIDs = NewULIDGenerator(s.Now) })
	return s.eventIDs()
}

// registrationEvent is the event of registering p; the store writes it only if the registration
// changes what is stored (see ProjectStore.PutProject).
func (s *Service) registrationEvent(p Project, by Person) Event {
	ev := s.newEvent(EventProjectRegistered, p.ID, by, s.Now().Unix())
	ev.Detail = map[string]string{
		"name":         p.Name,
		"environments": strings.Join(p.EnvironmentIDs(), ","),
		"services":     strings.Join(p.Services(), ","),
	}
	return ev
}

// RegistrationChanged reports whether registering p over old (nil: none) changes anything, which
// is when the registration is an event. Stores call it inside the write, on what they read there.
func RegistrationChanged(old *Project, p Project) bool {
	if old == nil {
		return true
	}
	a, errA := json.Marshal(old)
	b, errB := json.Marshal(p)
	return errA != nil || errB != nil || string(a) != string(b)
}

// pushEvent is the event of recording rec as a service's newest image.
func (s *Service) pushEvent(rec ImageRecord) Event {
	ev := s.newEvent(EventImageRecorded, rec.ProjectID, ecrPerson, s.Now().Unix())
	ev.Service = rec.ServiceID
	ev.Detail = map[string]string{"image": rec.URI, "pushed_at": unixTime(rec.PushedAt)}
	if src := rec.Source; src != nil {
		if src.Revision != "" {
			ev.Detail["revision"] = src.Revision
		}
		if src.Repository != "" {
			ev.Detail["source"] = src.Repository
		}
	}
	return ev
}

// ecrPerson is who the log says recorded a pushed image: ECR's push event.
var ecrPerson = Person{ID: "ecr", Name: "Amazon ECR"}

// releaseEvent is the event of creating r.
func (s *Service) releaseEvent(r Release) Event {
	ev := s.newEvent(EventReleaseCreated, r.ProjectID, r.RequestedBy, r.CreatedAt)
	ev.ReleaseID = r.ID
	ev.Detail = map[string]string{"label": r.Label}
	if r.Description != "" {
		ev.Detail["description"] = r.Description
	}
	return ev
}

// deploymentEvent is the event of recording d, a deployment of release releaseID.
func (s *Service) deploymentEvent(projectID, releaseID string, d Deployment) Event {
	ev := s.newEvent(EventDeploymentRequested, projectID, d.RequestedBy, d.CreatedAt)
	ev.Environment, ev.ReleaseID, ev.DeploymentID = d.Environment.ID, releaseID, d.ID
	ev.Detail = map[string]string{"kind": d.Kind}
	set := func(k, v string) {
		if v != "" {
			ev.Detail[k] = v
		}
	}
	set("description", d.Description)
	set("promoted_from", d.PromotedFrom)
	set("reverts", d.Reverts)
	if d.RequestedBy == shiplogPerson {
		// Only shiplog's automation requests deployments as shiplog (docs/automation.md).
		ev.Detail["automatic"] = "auto_promote"
		if d.Kind == KindRollback {
			ev.Detail["automatic"] = "auto_rollback"
		}
	}
	if d.Override != nil {
		set("override_reason", d.Override.Reason)
	}
	if d.Changes != nil {
		rangeDetail(ev.Detail, d.Changes.Ranges)
	}
	return ev
}

// statusEvents are the events of status updates: one per update, typed by its new status.
func (s *Service) statusEvents(ups []StatusUpdate) []Event {
	out := make([]Event, 0, len(ups))
	for _, u := range ups {
		ev := s.newEvent("deployment."+u.Entry.Status, u.ProjectID, u.Entry.By, u.Entry.At)
		ev.Environment, ev.ReleaseID, ev.DeploymentID = u.Environment, u.ReleaseID, u.DeploymentID
		if u.Entry.Detail != "" {
			ev.Detail = map[string]string{"detail": u.Entry.Detail}
		}
		out = append(out, ev)
	}
	return out
}

// stateEvents are the events of replacing an environment's state cur (nil: none) with next, as
// far as people's rules go: its lock set, replaced or removed, and its freezes set, changed or
// removed (a freeze that has ended and is dropped is no change anyone made). by is who asks.
func (s *Service) stateEvents(cur *EnvironmentState, next EnvironmentState, by Person, at int64) []Event {
	var out []Event
	env := next.Environment.ID
	add := func(typ string, by Person, detail map[string]string) {
		ev := s.newEvent(typ, next.ProjectID, by, at)
		ev.Environment, ev.Detail = env, detail
		out = append(out, ev)
	}
	var was *EnvironmentLock
	var freezes []Freeze
	if cur != nil {
		was, freezes = cur.Lock, cur.Freezes
	}
	switch l := next.Lock; {
	case l != nil && (was == nil || *was != *l):
		d := map[string]string{"reason": l.Reason}
		if l.ExpiresAt != 0 {
			d["expires_at"] = unixTime(l.ExpiresAt)
		}
		add(EventEnvironmentLocked, l.LockedBy, d)
	case l == nil && was != nil:
		add(EventEnvironmentUnlocked, by, map[string]string{"reason": was.Reason})
	}
	for _, f := range next.Freezes {
		i := slices.IndexFunc(freezes, func(o Freeze) bool { return o.ID == f.ID })
		if i < 0 || !sameFreeze(freezes[i], f) {
			add(EventFreezeSet, f.CreatedBy, freezeDetail(f))
		}
	}
	for _, f := range freezes {
		if !slices.ContainsFunc(next.Freezes, func(n Freeze) bool { return n.ID == f.ID }) && f.EndsAt > at {
			add(EventFreezeDeleted, by, freezeDetail(f))
		}
	}
	return out
}

func sameFreeze(a, b Freeze) bool {
	return a.ID == b.ID && slices.Equal(a.Environments, b.Environments) && a.StartsAt == b.StartsAt &&
		a.EndsAt == b.EndsAt && a.Reason == b.Reason && a.CreatedBy == b.CreatedBy && a.CreatedAt == b.CreatedAt
}

func freezeDetail(f Freeze) map[string]string {
	return map[string]string{
		"freeze_id": f.ID, "reason": f.Reason,
		"starts_at": unixTime(f.StartsAt), "ends_at": unixTime(f.EndsAt),
		"environments": strings.Join(f.Environments, ","),
	}
}
