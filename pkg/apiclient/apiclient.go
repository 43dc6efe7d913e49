// Package apiclient is a client of shiplog's HTTP API (package httpapi), for the shiplog CLI and
// its local dashboard proxy. It sends requests to a base URL and says who is calling in one of
// two ways: against API Gateway it signs every request with SigV4 for execute-api, with the
// caller's AWS credentials; against the local stack, which has no IAM, it names the caller in
// the X-Shiplog-User header. It keeps the API's JSON as it came, so that a caller can print it as
// is, and turns error answers into *Error values carrying the API's kind and message.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/shiplog/shiplog/pkg/version"
)

// DefaultURL is the local stack's address, as `shiplog serve` and `make run` listen on it.
const DefaultURL = "http://127.0.0.1:8080"

// The local stack's identity headers, as package httpapi reads them.
const (
	UserHeader     = "X-Shiplog-User"
	UserNameHeader = "X-Shiplog-User-Name"
)

// executeAPIHost matches an API Gateway endpoint's host name, capturing its region.
var executeAPIHost = regexp.MustCompile(`^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// APIGatewayRegion reports whether host (without a port) is an API Gateway endpoint, and its region.
func APIGatewayRegion(host string) (string, bool) {
	m := executeAPIHost.FindStringSubmatch(strings.ToLower(host))
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Options configure a Client.
type Options struct {
	// URL is the API's base URL; empty means DefaultURL. A path (an API Gateway stage) is kept
	// as the prefix of every request's path.
	URL string
	// Sign forces SigV4 signing. Without it, requests are signed when URL is an API Gateway
	// endpoint (*.execute-api.REGION.amazonaws.com).
	Sign bool
	// Profile and Region override the AWS configuration's (AWS_PROFILE, AWS_REGION, ~/.aws).
	// An API Gateway host names its own region, which Region overrides.
	Profile, Region string
	// User names the caller to the local stack (X-Shiplog-User); ignored when signing. Empty
	// sends no header, and the local stack takes the OS user running it.
	User string
	// Transport sends the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// UserAgent is the requests' User-Agent; empty means version.UserAgent("cli"), which names
	// this build's version.
	UserAgent string
}

// Client calls the HTTP API.
type Client struct {
	base *url.URL
	http *http.Client
	// Signing says whether requests are signed with SigV4; Region is the region they are signed for.
	Signing bool
	Region  string
	// User is the X-Shiplog-User the client sends when it does not sign; empty when it signs or
	// names no one.
	User      string
	userAgent string
	aws       aws.Config // when signing
}

// New returns a client for the options. When it signs, it loads the AWS configuration (the
// standard chain: environment, shared config and credentials files, SSO) once, here; credentials
// are retrieved, and refreshed, as requests are sent.
func New(ctx context.Context, o Options) (*Client, error) {
	raw := o.URL
	if raw == "" {
		raw = DefaultURL
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("API URL %q: want http:// or https:// and a host, e.g. %s", raw, DefaultURL)
	}
	if base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, fmt.Errorf("API URL %q: takes no query, fragment or user", raw)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""
	next := o.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := &Client{base: base, userAgent: o.UserAgent}
	if c.userAgent == "" {
		c.userAgent = version.UserAgent("cli")
	}
	region, gateway := APIGatewayRegion(base.Hostname())
	var rt http.RoundTripper
	if o.Sign || gateway {
		if o.Region != "" {
			region = o.Region
		}
		var opts []func(*config.LoadOptions) error
		if o.Profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(o.Profile))
		}
		if region != "" {
			opts = append(opts, config.WithRegion(region))
		}
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		if cfg.Region == "" {
			return nil, errors.New("signing needs a region: give --region, or set AWS_REGION or a profile's region")
		}
		c.Signing, c.Region, c.aws = true, cfg.Region, cfg
		rt = &SigningTransport{Credentials: cfg.Credentials, Region: cfg.Region, Next: next}
	} else {
		c.User = o.User
		rt = &IdentityTransport{User: o.User, Next: next}
	}
	c.http = &http.Client{Transport: rt, Timeout: 60 * time.Second}
	return c, nil
}

// SignerARN returns the ARN of the IAM principal the client signs as (STS GetCallerIdentity with
// the same credentials), which is the userArn API Gateway hands the API, so who the API records.
// It is an error to ask a client that does not sign.
func (c *Client) SignerARN(ctx context.Context) (string, error) {
	if !c.Signing {
		return "", errors.New("the client does not sign its requests")
	}
	out, err := sts.NewFromConfig(c.aws).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) {
			return "", fmt.Errorf("STS GetCallerIdentity: %w", err)
		}
		return "", &CredentialsError{Err: err}
	}
	return aws.ToString(out.Arn), nil
}

// Base returns the API's base URL.
func (c *Client) Base() *url.URL { u := *c.base; return &u }

// Transport returns the round tripper that signs or names the caller, for forwarding requests
// (shiplog ui) the same way the client sends its own.
func (c *Client) Transport() http.RoundTripper { return c.http.Transport }

// Path joins segments, each escaped, into an API path: Path("projects", p, "releases"). Do
// takes paths in this escaped form.
func Path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// Response is a successful answer: its status, headers and body exactly as the API sent them.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode decodes the body into v.
func (r *Response) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("the API answered %d with a body that is not the JSON expected: %v", r.Status, err)
	}
	return nil
}

// Error is an error answer of the API (status 4xx or 5xx).
type Error struct {
	Method, Path string
	Status       int
	// Kind is the error's kind as the API names it (Invalid, NotFound, Conflict, Unavailable, Forbidden,
	// Internal), or empty when the answer was not shiplog's error body (API Gateway's own 403).
	Kind    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// NetworkError is a request that got no answer: the API is down, unreachable, or too slow.
type NetworkError struct {
	URL string
	Err error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("no answer from %s: %v", e.URL, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// CredentialsError is a signed request whose AWS credentials could not be had.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("AWS credentials: %v (see aws configure, aws sso login, or --profile)", e.Err)
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// Get sends a GET of path (as Path builds it) with the query, if any.
func (c *Client) Get(ctx context.Context, path string, query url.Values) (*Response, error) {
	return c.Do(ctx, http.MethodGet, path, query, nil)
}

// Do sends a request whose body, if not nil, is encoded as JSON. An answer of 400 or more is an
// *Error; no answer is a *NetworkError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (*Response, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", path, err)
	}
	u.Path = p
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		var ce *CredentialsError
		if errors.As(err, &ce) {
			return nil, ce
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NetworkError{URL: c.base.String(), Err: unwrapURLError(err)}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, &NetworkError{URL: c.base.String(), Err: err}
	}
	if res.StatusCode >= 400 {
		return nil, errorOf(method, path, res.StatusCode, data)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorOf reads an error answer: shiplog's {"error": {"kind", "message"}}, or API Gateway's
// {"message"} (a refused signature, a missing route), or anything else.
func errorOf(method, path string, status int, body []byte) *Error {
	e := &Error{Method: method, Path: path, Status: status}
	var shiplog struct {
		Error *struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
		Upper   string `json:"Message"`
	}
	if json.Unmarshal(body, &shiplog) == nil {
		switch {
		case shiplog.Error != nil:
			e.Kind, e.Message = shiplog.Error.Kind, shiplog.Error.Message
		case shiplog.Message != "":
			e.Message = fmt.Sprintf("%d %s: %s", status, http.StatusText(status), shiplog.Message)
		case shiplog.Upper != "":
			e.Message = fmt.Sprintf("%d %s: %s", status, http.StatusText(status), shiplog.Upper)
		}
	}
	if e.Message == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		e.Message = fmt.Sprintf("%s %s: %d %s", method, path, status, http.StatusText(status))
		if text != "" {
			e.Message += ": " + text
		}
	}
	return e
}
