// Package awssts implements shiplog.Places on AWS STS: the clients that act where an environment
// lives, in its account through the role it names (sts:AssumeRole) and in its region.
//
// The STS client is built on first use, so a function whose environments all live where the
// stack does never builds one. Credentials are cached per role, external id and session name
// until shortly before they expire; the clients made on them are cached with them.
package awssts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Actions lists the IAM actions Places calls with the function's own credentials: the role of a
// function that reaches other accounts needs it on the roles it assumes (the target-account
// template's), and nothing more.
var Actions = []string{"sts:AssumeRole"}

// Clients makes, from a configuration, the clients of one account and region that a function
// uses. A nil maker is a client the function never uses (ecs-events writes no parameters), and
// asking Places for it is an error.
type Clients struct {
	Parameters func(aws.Config) shiplog.ParameterStore
	Runtime    func(aws.Config) shiplog.Runtime
	Registry   func(aws.Config) shiplog.Registry
	// Alarms makes the CloudWatch alarms reader: a Places with it is a shiplog.AlarmPlaces.
	Alarms func(aws.Config) shiplog.Alarms
}

// Home is what a function uses where the stack runs: its own clients, which a placement with no
// role in the stack's region gets.
type Home struct {
	Parameters shiplog.ParameterStore
	Runtime    shiplog.Runtime
	Registry   shiplog.Registry
	Alarms     shiplog.Alarms
}

// maxSessions bounds the credentials kept: one per role, external id and requester.
const maxSessions = 256

// expiryWindow is how long before they expire cached credentials are renewed.
const expiryWindow = 2 * time.Minute

// Places is a shiplog.Places on the function's configuration. It is safe for concurrent use.
type Places struct {
	cfg     aws.Config
	clients Clients
	home    Home

	stsOnce sync.Once
	sts     *sts.Client

	mu       sync.Mutex
	sessions map[sessionKey]*session
}

var (
	_ shiplog.Places      = (*Places)(nil)
	_ shiplog.AlarmPlaces = (*Places)(nil)
)

type sessionKey struct{ role, externalID, name string }

// session is one assumed role's credentials and the clients made on them, per region.
type session struct {
	creds     *aws.CredentialsCache
	mu        sync.Mutex
	params    map[string]shiplog.ParameterStore
	runtimes  map[string]shiplog.Runtime
	registers map[string]shiplog.Registry
	alarms    map[string]shiplog.Alarms
}

// New returns Places on cfg (the function's own configuration: its region is the stack's), making
// the clients of other accounts and regions with clients, and answering home for the stack's own.
func New(cfg aws.Config, clients Clients, home Home) *Places {
	return &Places{cfg: cfg, clients: clients, home: home, sessions: map[sessionKey]*session{}}
}

// stsClient builds the STS client on first use.
func (p *Places) stsClient() *sts.Client {
	p.stsOnce.Do(func() { p.sts = sts.NewFromConfig(p.cfg) })
	return p.sts
}

// Parameters returns the parameter store of at's account and region.
func (p *Places) Parameters(ctx context.Context, at shiplog.Placement, by string) (shiplog.ParameterStore, error) {
	if p.clients.Parameters == nil {
		return nil, shiplog.Errorf(shiplog.Internal, "this function writes no parameters")
	}
	return reach(ctx, p, at, by, p.home.Parameters, p.clients.Parameters, func(s *session) map[string]shiplog.ParameterStore { return s.params })
}

// Runtime returns the ECS reader of at's account and region.
func (p *Places) Runtime(ctx context.Context, at shiplog.Placement, by string) (shiplog.Runtime, error) {
	if p.clients.Runtime == nil {
		return nil, shiplog.Errorf(shiplog.Internal, "this function reads no ECS")
	}
	return reach(ctx, p, at, by, p.home.Runtime, p.clients.Runtime, func(s *session) map[string]shiplog.Runtime { return s.runtimes })
}

// Registry returns the ECR registry of at's account and region.
func (p *Places) Registry(ctx context.Context, at shiplog.Placement, by string) (shiplog.Registry, error) {
	if p.clients.Registry == nil {
		return nil, shiplog.Errorf(shiplog.Internal, "this function reads no ECR")
	}
	return reach(ctx, p, at, by, p.home.Registry, p.clients.Registry, func(s *session) map[string]shiplog.Registry { return s.registers })
}

// Alarms returns the CloudWatch alarms reader of at's account and region.
func (p *Places) Alarms(ctx context.Context, at shiplog.Placement, by string) (shiplog.Alarms, error) {
	if p.clients.Alarms == nil {
		return nil, shiplog.Errorf(shiplog.Internal, "this function reads no CloudWatch alarms")
	}
	return reach(ctx, p, at, by, p.home.Alarms, p.clients.Alarms, func(s *session) map[string]shiplog.Alarms { return s.alarms })
}

// reach returns the client of at's account and region: home's for the stack's own, else one made
// with make on the role's credentials (or the function's own, in another region), cached in the
// session's map that of picks.
func reach[C any](ctx context.Context, p *Places, at shiplog.Placement, by string, home C, make func(aws.Config) C, of func(*session) map[string]C) (C, error) {
	var zero C
	region := at.Region
	if region == "" {
		region = p.cfg.Region
	}
	if at.RoleARN == "" {
		switch {
		case at.AccountID != "":
			return zero, shiplog.Errorf(shiplog.Invalid, "account %s is named without role_arn: shiplog acts in another account only through a role it assumes there", at.AccountID)
		case region != p.cfg.Region:
			// The functions' own roles are granted only in the stack's region.
			return zero, shiplog.Errorf(shiplog.Invalid, "region %s is named without role_arn: shiplog's own roles reach only its region (%s); apply templates/target-account.yaml in the account for region %s and name its role", region, p.cfg.Region, region)
		}
		return home, nil
	}
	s, err := p.session(ctx, at, by)
	if err != nil {
		return zero, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := of(s)
	if c, ok := m[region]; ok {
		return c, nil
	}
	cfg := p.cfg.Copy()
	cfg.Region = region
	if s.creds != nil {
		cfg.Credentials = s.creds
	}
	c := make(cfg)
	m[region] = c
	return c, nil
}

// session returns the credentials of at's role for by (nil credentials: the function's own, for
// a placement with no role), assuming the role now if none are cached, so that a role that
// cannot be assumed is known before anything is written.
func (p *Places) session(ctx context.Context, at shiplog.Placement, by string) (*session, error) {
	key := sessionKey{role: at.RoleARN, externalID: at.ExternalID, name: SessionName(by)}
	p.mu.Lock()
	s, ok := p.sessions[key]
	if !ok {
		if len(p.sessions) >= maxSessions {
			// Forget them all rather than track use: it only costs each a new AssumeRole.
			p.sessions = map[sessionKey]*session{}
		}
		s = &session{params: map[string]shiplog.ParameterStore{}, runtimes: map[string]shiplog.Runtime{}, registers: map[string]shiplog.Registry{}, alarms: map[string]shiplog.Alarms{}}
		if at.RoleARN != "" {
			provider := stscreds.NewAssumeRoleProvider(p.stsClient(), at.RoleARN, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = key.name
				if at.ExternalID != "" {
					o.ExternalID = aws.String(at.ExternalID)
				}
			})
			s.creds = aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow })
		}
		p.sessions[key] = s
	}
	p.mu.Unlock()
	if s.creds == nil {
		return s, nil
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return nil, assumeError(err, at)
	}
	if want := at.Account(); want != "" && creds.AccountID != "" && creds.AccountID != want {
		return nil, shiplog.Errorf(shiplog.Invalid, "assuming %s gave credentials of account %s, not of the environment's account %s", at.RoleARN, creds.AccountID, want)
	}
	return s, nil
}

// assumeError says why a role could not be assumed, and what to do about it.
func assumeError(err error, at shiplog.Placement) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDenied", "AccessDeniedException":
			return shiplog.Wrap(shiplog.Forbidden, err, "shiplog may not assume %s: the role must trust this shiplog's function roles%s (templates/target-account.yaml makes such a role): %s",
				at.RoleARN, externalIDHint(at), api.ErrorMessage())
		case "RegionDisabledException", "ExpiredTokenException", "MalformedPolicyDocument", "PackedPolicyTooLarge":
			return shiplog.Wrap(shiplog.Invalid, err, "assume %s: %s", at.RoleARN, api.ErrorMessage())
		}
	}
	return shiplog.Wrap(shiplog.Unavailable, err, "assume %s: %v", at.RoleARN, err)
}

func externalIDHint(at shiplog.Placement) string {
	if at.ExternalID != "" {
		return fmt.Sprintf(" and require the external id %q", at.ExternalID)
	}
	return ""
}

// SessionName makes by a role session name STS takes: 2 to 64 of letters, digits and
// _+=,.@- (others become -), prefixed "shiplog@" so CloudTrail shows the session as shiplog's
// acting for by.
func SessionName(by string) string {
	var b strings.Builder
	b.WriteString("shiplog@")
	for _, c := range []byte(by) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("_+=,.@-", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('-')
		}
		if b.Len() == 64 {
			break
		}
	}
	if by == "" {
		b.WriteString("shiplog")
	}
	return b.String()
}
