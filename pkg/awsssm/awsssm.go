// Package awsssm implements shiplog.ParameterStore on AWS Systems Manager Parameter Store.
package awsssm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/shiplog/shiplog/pkg/awserr"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Actions lists the IAM actions the Store calls: a policy for a function that uses it needs
// these, on {prefix}/*/images/*, and nothing more. A test holds the Store's calls to it.
var Actions = []string{
	"ssm:GetParameter",
	"ssm:GetParameters",
	"ssm:GetParametersByPath",
	"ssm:PutParameter",
}

const (
	// pageSize is the most GetParametersByPath returns, and GetParameters takes, at once.
	pageSize = 10
	// writers bounds how many PutParameter calls run at once. PutParameter's default quota is
	// low (a few per second per account and region, shared with every other writer), so more
	// parallelism only buys throttling; the retryer paces what remains.
	writers = 4
	// readers bounds how many GetParameters calls run at once.
	readers = 4
	// maxAttempts is how often WithRetries lets the SDK try one call before giving up.
	maxAttempts = 10
)

// Store is a shiplog.ParameterStore on SSM. Parameters are plain String parameters.
//
// A Store with a prefix (WithPrefix) keeps every parameter under it: the domain's
// /{project}/images/{label}/{service} is {prefix}/{project}/images/{label}/{service} in SSM, so
// that two shiplogs in one account and region keep apart. The domain never sees the prefix.
type Store struct {
	client *ssm.Client
	prefix string
}

var _ shiplog.ParameterStore = (*Store)(nil)

// New returns a Store that uses client. Build the client once per process, with WithRetries so
// that throttled writes back off and retry rather than fail:
//
//	awsssm.New(ssm.NewFromConfig(cfg, awsssm.WithRetries))
func New(client *ssm.Client) *Store {
	return &Store{client: client}
}

// prefixPattern is what a prefix may be: one path segment, as the SAM template's ParameterPrefix
// parameter allows. SSM reserves names that begin with aws or ssm.
// (A loop, not a regexp: a package-level regexp is compiled on every cold start.)
func isPrefix(s string) bool {
	seg, ok := strings.CutPrefix(s, "/")
	if !ok || seg == "" || len(seg) > 64 {
		return false
	}
	for _, c := range []byte(seg) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// CheckPrefix returns an error that says what is wrong with prefix, or nil if a Store may use it.
// The empty prefix keeps the design's paths (/{project}/images/...).
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if !isPrefix(prefix) {
		return shiplog.Errorf(shiplog.Invalid, "parameter prefix %q must be empty or one path segment such as /shiplog-staging: a slash and then 1 to 64 letters, digits, '_', '.' or '-'", prefix)
	}
	if lower := strings.ToLower(prefix); strings.HasPrefix(lower, "/aws") || strings.HasPrefix(lower, "/ssm") {
		return shiplog.Errorf(shiplog.Invalid, "parameter prefix %q must not begin with aws or ssm: SSM reserves those names", prefix)
	}
	return nil
}

// WithPrefix returns a Store on the same client that keeps its parameters under prefix. prefix
// must pass CheckPrefix; a bad one panics, as the caller was to check it at start-up.
func (s *Store) WithPrefix(prefix string) *Store {
	if err := CheckPrefix(prefix); err != nil {
		panic(err)
	}
	return &Store{client: s.client, prefix: prefix}
}

// ssmName is the SSM name of a domain name; domainName undoes it for a name SSM returned.
func (s *Store) ssmName(name string) string { return s.prefix + name }

func (s *Store) domainName(name string) (string, bool) { return strings.CutPrefix(name, s.prefix) }

// WithRetries configures an SSM client for Parameter Store's throttling: the adaptive retry mode
// (which also slows the client down when throttled) with up to 10 attempts per call, backing
// off with jitter up to 20s between attempts.
func WithRetries(o *ssm.Options) {
	o.Retryer = retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
		ao.StandardOptions = append(ao.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
		})
	})
}

// GetParameter returns a parameter's value; NotFound if there is none.
func (s *Store) GetParameter(ctx context.Context, name string) (string, error) {
	out, err := s.client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.ssmName(name))})
	if err != nil {
		return "", mapError(err, "get parameter %s", name)
	}
	if out.Parameter == nil {
		return "", shiplog.Errorf(shiplog.Internal, "get parameter %s: SSM returned no parameter", name)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// GetParameters reads parameters by name, 10 names a call (GetParameters' limit), a few calls
// at a time. Names SSM does not have come back in InvalidParameters and are left out.
func (s *Store) GetParameters(ctx context.Context, names []string) (map[string]string, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var mu sync.Mutex
	params := make(map[string]string, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readers)
	for chunk := range slices.Chunk(names, pageSize) {
		g.Go(func() error {
			ssmNames := make([]string, len(chunk))
			for i, name := range chunk {
				ssmNames[i] = s.ssmName(name)
			}
			out, err := s.client.GetParameters(gctx, &ssm.GetParametersInput{Names: ssmNames})
			if err != nil {
				return mapError(err, "get parameters %s", strings.Join(chunk, ", "))
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range out.Parameters {
				if name, ok := s.domainName(aws.ToString(p.Name)); ok {
					params[name] = aws.ToString(p.Value)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return params, nil
}

// GetParametersByPath returns every parameter directly under path, reading all pages.
func (s *Store) GetParametersByPath(ctx context.Context, path string) (map[string]string, error) {
	params := map[string]string{}
	if path == "" {
		return params, nil
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	// SSM takes the hierarchy without its trailing slash, except for the root.
	query := strings.TrimSuffix(s.ssmName(path), "/")
	if query == "" {
		query = "/"
	}
	pages := ssm.NewGetParametersByPathPaginator(s.client, &ssm.GetParametersByPathInput{
		Path:       aws.String(query),
		Recursive:  aws.Bool(false),
		MaxResults: aws.Int32(pageSize),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, mapError(err, "get parameters under %s", path)
		}
		for _, p := range page.Parameters {
			name, ok := s.domainName(aws.ToString(p.Name))
			if !ok {
				continue
			}
			// Only direct children, whatever the server's idea of a hierarchy level.
			rest, ok := strings.CutPrefix(name, path)
			if !ok || rest == "" || strings.Contains(rest, "/") {
				continue
			}
			params[name] = aws.ToString(p.Value)
		}
	}
	return params, nil
}

// PutParameters writes each parameter with PutParameter (SSM has no batch write), a few at a
// time. It stops starting writes at the first failure; some parameters may then be written and
// others not, which callers recover from by writing them all again.
func (s *Store) PutParameters(ctx context.Context, params map[string]string) error {
	if len(params) == 0 {
		return nil
	}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)

	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(writers)
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		value := params[name]
		g.Go(func() error {
			_, err := s.client.PutParameter(ctx, &ssm.PutParameterInput{
				Name:      aws.String(s.ssmName(name)),
				Value:     aws.String(value),
				Type:      types.ParameterTypeString,
				Overwrite: aws.Bool(true),
			})
			if err != nil {
				return mapError(err, "put parameter %s", name)
			}
			return nil
		})
	}
	return g.Wait()
}

// service names SSM in the messages of errors the SDK's retries could not get past.
const service = awserr.Service("SSM")

// mapError turns an SDK error into a shiplog error with context: SSM's own meanings here, the
// rest as every AWS adapter maps them (awserr).
func mapError(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var notFound *types.ParameterNotFound
	var tooMany *types.TooManyUpdates
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &notFound):
		return shiplog.Wrap(shiplog.NotFound, err, "%s: no such parameter", what)
	case errors.As(err, &tooMany):
		// PutParameter's throttling of writes to one parameter.
		return service.Unavailable(err, "%s", what)
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException":
		return shiplog.Wrap(shiplog.Invalid, err, "%s: SSM refused it: %s", what, apiErr.ErrorMessage())
	}
	return service.Wrap(err, "%s", what)
}

// SecureActions are the IAM actions GetSecureParameters calls.
var SecureActions = []string{"ssm:GetParameters"}

// GetSecureParameters reads parameters by name, SecureString ones decrypted (the notify
// function's configuration and its destinations' URLs and secrets). Names SSM does not have are
// left out.
func (s *Store) GetSecureParameters(ctx context.Context, names []string) (map[string]string, error) {
	params := make(map[string]string, len(names))
	for chunk := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(names))), pageSize) {
		ssmNames := make([]string, len(chunk))
		for i, name := range chunk {
			ssmNames[i] = s.ssmName(name)
		}
		out, err := s.client.GetParameters(ctx, &ssm.GetParametersInput{Names: ssmNames, WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, mapError(err, "get parameters %s", strings.Join(chunk, ", "))
		}
		for _, p := range out.Parameters {
			if name, ok := s.domainName(aws.ToString(p.Name)); ok {
				params[name] = aws.ToString(p.Value)
			}
		}
	}
	return params, nil
}
