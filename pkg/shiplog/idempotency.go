package shiplog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Idempotency keys of deploys and rollbacks are kept on the state of the environment they
// deploy to, with the deployment each recorded: the key is checked in the same versioned read as
// every other rule, and recorded in the same conditional write as its deployment, so that of
// concurrent calls with one key exactly one records and the others, reading again, answer its
// result.
//
// Keys of create-release are kept per project, each a record of its own (ReleaseKey), written in
// the same atomic write as the release it created on condition that the project has no live
// record of the key: of concurrent calls with one key exactly one creates its release, and the
// others, reading the key, answer that release.
// KeyTTL is how long a key is remembered.
const KeyTTL = 24 * time.Hour

// RequestKey is an idempotency key an environment has seen, the request it came with (as a
// hash) and the deployment that request recorded.
type RequestKey struct {
	Key          string `json:"key"`
	Hash         string `json:"hash"`
	DeploymentID string `json:"deployment_id"`
	ReleaseID    string `json:"release_id"`
	At           int64  `json:"at"`
}

// requestHash identifies a request as the caller asked it (before "latest" or a promotion is
// resolved), so that a retry matches the original whatever has happened since.
func requestHash(op string, v any) string {
	b, err := json.Marshal(struct {
		Op      string `json:"op"`
		Request any    `json:"request"`
	}{op, v})
	if err != nil {
		panic(err) // the inputs are plain structs of strings and bools
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// replay answers the original result of a request whose key the state has seen; found is false
// if it has not.
func (s *Service) replay(ctx context.Context, st *EnvironmentState, key, hash string) (res DeployResult, found bool, err error) {
	if key == "" || st == nil {
		return DeployResult{}, false, nil
	}
	i := slices.IndexFunc(st.Requests, func(k RequestKey) bool { return k.Key == key })
	if i < 0 || st.Requests[i].At <= s.Now().Add(-KeyTTL).Unix() {
		return DeployResult{}, false, nil
	}
	k := st.Requests[i]
	if k.Hash != hash {
		return DeployResult{}, true, Errorf(Conflict, "idempotency key %q was used at %s for another request to %s/%s (deployment %s); use a new key for a new request",
			key, unixTime(k.At), st.ProjectID, st.Environment.ID, k.DeploymentID)
	}
	if st.DeploymentID == k.DeploymentID && len(st.Pending) > 0 {
		// The original recorded its deployment but has not written (all) its parameters.
		if st.LockedUntil > s.Now().Unix() {
			return DeployResult{}, true, errBusy{*st} // it is still writing: wait for it, as for any deploy
		}
		return DeployResult{}, false, nil // it failed: run again, which writes what is pending
	}
	r, err := s.Store.GetRelease(ctx, st.ProjectID, k.ReleaseID)
	if err != nil {
		return DeployResult{}, true, s.notFound(err, st.ProjectID, k.ReleaseID)
	}
	rec, err := s.Store.GetDeployment(ctx, st.ProjectID, k.DeploymentID)
	if errors.Is(err, ErrDeploymentNotFound) {
		return DeployResult{}, true, Errorf(Internal, "idempotency key %q names deployment %s, which is not recorded", key, k.DeploymentID)
	}
	if err != nil {
		return DeployResult{}, true, fmt.Errorf("replay deployment %s: %w", k.DeploymentID, err)
	}
	r.Deployments = []Deployment{} // as a deploy answers it
	return DeployResult{Deployment: withStatus(rec).Deployment, Release: r}, true, nil
}

// replayStored checks a key against the environment's stored state, before anything is resolved.
func (s *Service) replayStored(ctx context.Context, projectID, envID, key, hash string) (DeployResult, bool, error) {
	if key == "" {
		return DeployResult{}, false, nil
	}
	if err := ValidateID("idempotency_key", key); err != nil {
		return DeployResult{}, true, err
	}
	if ValidateID("project_id", projectID) != nil || ValidateID("environment", envID) != nil {
		return DeployResult{}, false, nil // the request's own validation says what is wrong
	}
	st, err := s.environmentState(ctx, projectID, envID)
	if err != nil {
		return DeployResult{}, true, err
	}
	res, found, err := s.replay(ctx, st, key, hash)
	if errors.As(err, new(errBusy)) {
		return DeployResult{}, false, nil // the deploy waits for its turn, and looks again
	}
	return res, found, err
}

// rememberKey returns keys with the new one added and those past KeyTTL dropped. Keys go by
// time only: dropping a live one would make its retry deploy a second time, so checkKeyRoom
// refuses a keyed deploy that would take the environment past MaxLiveDeployKeys instead.
func rememberKey(keys []RequestKey, k RequestKey, now time.Time) []RequestKey {
	cutoff := now.Add(-KeyTTL).Unix()
	out := slices.DeleteFunc(slices.Clone(keys), func(old RequestKey) bool { return old.At <= cutoff || old.Key == k.Key })
	if k.Key != "" {
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// checkKeyRoom refuses a deploy with a key the environment has not seen when it already holds
// MaxLiveDeployKeys live keys. A key it has seen was answered by replay before any rule.
func checkKeyRoom(st *EnvironmentState, projectID, key string, now time.Time) error {
	if key == "" || st == nil {
		return nil
	}
	cutoff := now.Add(-KeyTTL).Unix()
	live, oldest := 0, int64(0)
	for _, k := range st.Requests {
		if k.At <= cutoff || k.Key == key {
			continue
		}
		live++
		if oldest == 0 || k.At < oldest {
			oldest = k.At
		}
	}
	if live < MaxLiveDeployKeys {
		return nil
	}
	return Errorf(Conflict, "%s/%s holds %d idempotency keys from the last %g hours, the most it keeps; deploy without a key, or with a new one after %s, when the oldest is forgotten",
		projectID, st.Environment.ID, live, KeyTTL.Hours(), unixTime(oldest+int64(KeyTTL/time.Second)))
}

// ReleaseKey is an idempotency key of a project's create-release requests: the request it came
// with (as a hash), the release that request created, and when.
type ReleaseKey struct {
	ProjectID string `json:"project_id"`
	Key       string `json:"key"`
	Hash      string `json:"hash"`
	ReleaseID string `json:"release_id"`
	At        int64  `json:"at"`
}

// ExpiresAt is when (Unix seconds) the key is forgotten: a request from then on with the same key
// is a new request.
func (k ReleaseKey) ExpiresAt() int64 { return k.At + int64(KeyTTL/time.Second) }

// ReleaseWrite is the one atomic write that creates a release.
type ReleaseWrite struct {
	Release Release
	// Event is the release's event, appended to the project's log.
	Event Event
	// Key, if set, is the idempotency key of the request, recorded with the release unless the
	// project has it recorded already (and not expired).
	Key *ReleaseKey
}

// releaseRequestHash identifies a create-release request as the caller asked it (the label
// defaulted). The registration's manifest is hashed as text, so that no manifest can fail to
// encode.
func releaseRequestHash(in CreateReleaseInput) string {
	var manifest string
	if in.Register != nil {
		p := *in.Register
		manifest, p.Manifest = string(p.Manifest), nil
		in.Register = &p
	}
	in.IdempotencyKey = ""
	return requestHash("create-release", struct {
		CreateReleaseInput
		Manifest string
	}{in, manifest})
}

// replayRelease answers the release that a create-release request with key created, as it now
// stands; found is false if the project has no live record of the key. The same key with another
// request is Conflict.
func (s *Service) replayRelease(ctx context.Context, projectID, key, hash string) (r Release, found bool, err error) {
	k, err := s.Store.GetReleaseKey(ctx, projectID, key)
	if errors.Is(err, ErrReleaseKeyNotFound) {
		return Release{}, false, nil
	}
	if err != nil {
		return Release{}, true, fmt.Errorf("read idempotency key %q of %s: %w", key, projectID, err)
	}
	return s.replayKey(ctx, projectID, key, k, hash)
}

// replayKey answers the release that the record k of an idempotency key names, if k is live:
// found is false for an expired record, and Conflict if the key was used for another request.
func (s *Service) replayKey(ctx context.Context, projectID, key string, k ReleaseKey, hash string) (r Release, found bool, err error) {
	if k.ExpiresAt() <= s.Now().Unix() {
		return Release{}, false, nil
	}
	if k.Hash != hash {
		return Release{}, true, Errorf(Conflict, "idempotency key %q was used at %s for another request to create a release of %s (release %s); use a new key for a new request",
			key, unixTime(k.At), projectID, k.ReleaseID)
	}
	stored, err := s.Store.GetRelease(ctx, projectID, k.ReleaseID)
	if errors.Is(err, ErrReleaseNotFound) {
		return Release{}, true, Errorf(Internal, "idempotency key %q names release %s, which is not recorded", key, k.ReleaseID)
	}
	if err != nil {
		return Release{}, true, fmt.Errorf("replay release %s: %w", k.ReleaseID, err)
	}
	r, err = s.withDeployments(ctx, stored)
	return r, true, err
}
