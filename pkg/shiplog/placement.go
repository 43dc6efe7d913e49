package shiplog

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Placement is where an environment lives: the AWS account and region in which its parameters
// are written and its services run, and the role shiplog assumes there. The zero Placement is the
// stack's own account and region, reached with the function's own credentials.
//
// Validate holds a Placement to its rules; Project.Validate checks each environment's.
type Placement struct {
	// AccountID is the environment's AWS account (12 digits); "" is the stack's, or the account
	// RoleARN names.
	AccountID string `json:"account_id,omitempty"`
	// Region is the environment's AWS region; "" is the stack's.
	Region string `json:"region,omitempty"`
	// RoleARN is the IAM role shiplog assumes to act in AccountID; required for an account other
	// than the stack's. Its account must be AccountID.
	RoleARN string `json:"role_arn,omitempty"`
	// ExternalID is passed to sts:AssumeRole when the role's trust policy requires one.
	ExternalID string `json:"external_id,omitempty"`
	// Registry says which ECR registry the environment's tasks pull a release's images from:
	// RegistrySource (where they were pushed, shared across accounts) or RegistryReplica (the
	// repository of the same name in the environment's own account and region, filled by ECR
	// replication). "" is RegistrySource in the region images were pushed to and RegistryReplica
	// in any other.
	Registry string `json:"registry,omitempty"`
}

// The registries an environment may pull from (Placement.Registry).
const (
	RegistrySource  = "source"
	RegistryReplica = "replica"
)

// IsZero reports whether p is the stack's own account and region.
func (p Placement) IsZero() bool { return p == Placement{} }

// Account is the account p is in: AccountID, or the one its role names ("" if neither says).
func (p Placement) Account() string {
	if p.AccountID != "" {
		return p.AccountID
	}
	if acct, ok := RoleAccount(p.RoleARN); ok {
		return acct
	}
	return ""
}

// In returns p with its account and region filled from home where p leaves them out.
func (p Placement) In(home Location) Location {
	where := Location{Account: p.Account(), Region: p.Region}
	if where.Account == "" {
		where.Account = home.Account
	}
	if where.Region == "" {
		where.Region = home.Region
	}
	return where
}

// String says where p is, for messages: "account 111122223333, region eu-west-2 (role ...)".
func (p Placement) String() string {
	if p.IsZero() {
		return "this shiplog's own account and region"
	}
	var parts []string
	if a := p.Account(); a != "" {
		parts = append(parts, "account "+a)
	}
	if p.Region != "" {
		parts = append(parts, "region "+p.Region)
	}
	s := strings.Join(parts, ", ")
	if p.RoleARN != "" {
		s += " (role " + p.RoleARN + ")"
	}
	return s
}

// Validate checks a placement's fields; field is its path in the manifest, e.g.
// "storage.environments[1]".
func (p Placement) Validate(field string) error {
	if p.AccountID != "" && !isAccount(p.AccountID) {
		return Errorf(Invalid, "%s.account_id: %q is not an AWS account id (12 digits)", field, clip(p.AccountID))
	}
	if p.Region != "" && !IsAWSRegion(p.Region) {
		return Errorf(Invalid, "%s.region: %q is not an AWS region (such as eu-west-1 or us-gov-west-1)", field, clip(p.Region))
	}
	if p.AccountID != "" && p.RoleARN == "" {
		return Errorf(Invalid, "%s.account_id: names account %s without role_arn: shiplog acts in another account only through a role it assumes there; add role_arn (the role templates/target-account.yaml makes), or leave account_id out for this shiplog's own account",
			field, p.AccountID)
	}
	if p.RoleARN != "" {
		acct, ok := RoleAccount(p.RoleARN)
		if !ok {
			return Errorf(Invalid, "%s.role_arn: %q is not an IAM role ARN (arn:aws:iam::{account}:role/{name})", field, clip(p.RoleARN))
		}
		if p.AccountID != "" && acct != p.AccountID {
			return Errorf(Invalid, "%s.role_arn: %s is a role of account %s, but the environment is in account %s: shiplog assumes a role of the environment's own account (templates/target-account.yaml makes one)",
				field, p.RoleARN, acct, p.AccountID)
		}
	}
	if p.ExternalID != "" {
		if p.RoleARN == "" {
			return Errorf(Invalid, "%s.external_id: is given without role_arn; an external id is passed when assuming a role", field)
		}
		if !isExternalID(p.ExternalID) {
			return Errorf(Invalid, "%s.external_id: must be 2 to 1224 letters, digits and the characters +=,.@:/-", field)
		}
	}
	switch p.Registry {
	case "", RegistrySource, RegistryReplica:
	default:
		return Errorf(Invalid, "%s.registry: %q is not %q or %q", field, clip(p.Registry), RegistrySource, RegistryReplica)
	}
	return nil
}

// RoleAccount returns the account of an IAM role ARN (arn:{partition}:iam::{account}:role/{path}{name}),
// and whether s is one.
func RoleAccount(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return "", false
	}
	partition, rest, ok := strings.Cut(rest, ":")
	switch partition {
	case "aws", "aws-cn", "aws-us-gov":
	default:
		return "", false
	}
	rest, ok = strings.CutPrefix(rest, "iam::")
	if !ok {
		return "", false
	}
	acct, rest, ok := strings.Cut(rest, ":")
	if !ok || !isAccount(acct) {
		return "", false
	}
	name, ok := strings.CutPrefix(rest, "role/")
	if !ok || len(rest) > 512 {
		return "", false
	}
	// A path (segments ending in /) and a name of 1 to 64 characters, both of [\w+=,.@-].
	segs := strings.Split(name, "/")
	last := segs[len(segs)-1]
	if last == "" || len(last) > 64 {
		return "", false
	}
	for i, seg := range segs {
		if seg == "" && i != len(segs)-1 {
			return "", false
		}
		for _, c := range []byte(seg) {
			if !isAlnum(c) && !strings.ContainsRune("_+=,.@-", rune(c)) {
				return "", false
			}
		}
	}
	return acct, true
}

// IsAWSRegion reports whether s is shaped like an AWS region: a two-letter area, words, and a
// number (eu-west-1, us-gov-west-1, ap-southeast-2).
func IsAWSRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(s) > 32 || len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		last := i == len(parts)-1
		for _, c := range []byte(p) {
			switch {
			case last && (c < '0' || c > '9'):
				return false
			case !last && (c < 'a' || c > 'z'):
				return false
			}
		}
	}
	return len(parts[len(parts)-1]) <= 2
}

func isExternalID(s string) bool {
	if len(s) < 2 || len(s) > 1224 {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlnum(c) && !strings.ContainsRune("_+=,.@:/-", rune(c)) {
			return false
		}
	}
	return true
}

// validateECSPlacement refuses an ECS cluster ARN that is not where its environment is.
func validateECSPlacement(field string, t ECSTarget, p Placement) error {
	where, ok := ECSARNLocation(t.Cluster)
	if !ok || p.IsZero() {
		return nil
	}
	if a := p.Account(); a != "" && where.Account != a {
		return Errorf(Invalid, "%s.cluster: %s is in account %s, but the environment is in account %s", field, t.Cluster, where.Account, a)
	}
	if p.Region != "" && where.Region != p.Region {
		return Errorf(Invalid, "%s.cluster: %s is in region %s, but the environment is in region %s", field, t.Cluster, where.Region, p.Region)
	}
	return nil
}

// Places gives the clients that act where an environment lives: in its account, through the role
// it names, and its region. It is optional: without it (the local stack, which keeps everything
// in one place) every environment is reached through the Service's own Params and Runtime.
//
// by names who acts, for the role's session name (CloudTrail in the environment's account shows
// it); reads on shiplog's own behalf pass "shiplog". A Places answers the Service's own clients
// for a placement that is where the stack runs. An error is Unavailable (the role could not be
// assumed: the message says which role and why) or Invalid (the placement cannot be reached, such
// as another account without a role).
type Places interface {
	Parameters(ctx context.Context, at Placement, by string) (ParameterStore, error)
	Runtime(ctx context.Context, at Placement, by string) (Runtime, error)
	// Registry is the ECR registry of the placement's account and region.
	Registry(ctx context.Context, at Placement, by string) (Registry, error)
}

// paramsAt returns the parameter store of env's account and region.
func (s *Service) paramsAt(ctx context.Context, env Environment, by string) (ParameterStore, error) {
	if s.Places == nil || env.Placement.IsZero() {
		return s.Params, nil
	}
	ps, err := s.Places.Parameters(ctx, env.Placement, by)
	if err != nil {
		return nil, fmt.Errorf("the parameters of environment %s, in %s: %w", env.ID, env.Placement, err)
	}
	return ps, nil
}

// runtimeAt returns the ECS reader of env's account and region, nil if the Service has none.
func (s *Service) runtimeAt(ctx context.Context, env Environment, by string) (Runtime, error) {
	if s.Runtime == nil || s.Places == nil || env.Placement.IsZero() {
		return s.Runtime, nil
	}
	rt, err := s.Places.Runtime(ctx, env.Placement, by)
	if err != nil {
		return nil, fmt.Errorf("ECS of environment %s, in %s: %w", env.ID, env.Placement, err)
	}
	return rt, nil
}

// sessionName is who a role is assumed for: the requester's id (Places makes it fit STS's rules).
func sessionName(by Person) string {
	if by.ID == "" {
		return shiplogPerson.ID
	}
	return by.ID
}

// ecrImage is an ECR image URI taken apart: {account}.dkr.ecr.{region}.amazonaws.com/{rest}.
type ecrImage struct{ account, region, rest string }

func parseECRImage(uri string) (ecrImage, bool) {
	host, rest, ok := strings.Cut(uri, "/")
	if !ok {
		return ecrImage{}, false
	}
	account, host, ok := strings.Cut(host, ".dkr.ecr.")
	if !ok || !isAccount(account) {
		return ecrImage{}, false
	}
	region, ok := strings.CutSuffix(host, ".amazonaws.com")
	if !ok || !isRegion(region) {
		return ecrImage{}, false
	}
	return ecrImage{account: account, region: region, rest: rest}, true
}

// PullsFrom returns the URI of the image an environment placed at at pulls for uri (home is where
// the stack runs, for what at leaves out): uri itself when it pulls from the source registry, or
// the same repository and digest in the registry of its own account and region when it pulls
// from a replica (Placement.Registry). ok is false for an image not in ECR.
func PullsFrom(at Placement, home Location, uri string) (string, bool) {
	im, ok := parseECRImage(uri)
	if !ok {
		return uri, false
	}
	where := at.In(home)
	if where.Region == "" {
		where.Region = im.region
	}
	if where.Account == "" {
		where.Account = im.account
	}
	replica := at.Registry == RegistryReplica || (at.Registry == "" && where.Region != im.region)
	if !replica {
		return uri, true
	}
	return where.Account + ".dkr.ecr." + where.Region + ".amazonaws.com/" + im.rest, true
}

// checkPulled refuses, before anything is written, a release whose images are not in the
// registry that env pulls from where that is not where they were pushed (a replica: ECR
// replication copies them there), naming each missing image and where it was looked for. The
// check is by digest, through env's role. The source registry is checked by checkRelease.
func (s *Service) checkPulled(ctx context.Context, r Release, env Environment, by string) error {
	if s.Places == nil || env.Placement.IsZero() {
		return nil
	}
	pulled := map[string]string{} // the image env pulls -> the release's
	for _, uri := range sortedValues(r.Images) {
		if at, ok := PullsFrom(env.Placement, s.Home, uri); ok && at != uri {
			pulled[at] = uri
		}
	}
	if len(pulled) == 0 {
		return nil
	}
	reg, err := s.Places.Registry(ctx, env.Placement, by)
	if err != nil {
		return fmt.Errorf("the ECR registry of environment %s, in %s: %w", env.ID, env.Placement, err)
	}
	check, err := reg.CheckImages(ctx, sortedKeys(pulled), "")
	if err != nil {
		return fmt.Errorf("check the images of release %s in environment %s's registry: %w", r.ID, env.ID, err)
	}
	if len(check.Missing) == 0 {
		return nil
	}
	gone := map[string]bool{}
	for _, m := range check.Missing {
		gone[pulled[m]] = true
	}
	var names []string
	for svc, uri := range r.Images {
		if gone[uri] {
			at, _ := PullsFrom(env.Placement, s.Home, uri)
			names = append(names, fmt.Sprintf("%s (%s, looked for as %s)", svc, uri, at))
		}
	}
	sort.Strings(names)
	where := env.Placement.In(s.Home)
	return Errorf(Conflict, "release %s cannot be deployed to %s: %s pulls its images from the ECR registry of account %s, region %s, which does not have %s; replicate them there (ECR replication) and deploy again",
		r.ID, env.ID, env.ID, where.Account, where.Region, strings.Join(names, ", "))
}
