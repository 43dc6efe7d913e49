package awslambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/logctx"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// HTTPAPI wraps an http.Handler as an API Gateway HTTP API (payload format 2.0) Lambda handler.
// The caller's identity, which API Gateway has authenticated, is put in the request context.
func HTTPAPI(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		// Every line the request logs names API Gateway's request id (its access log's), as well
		// as Lambda's.
		ctx = logctx.New(ctx)
		logctx.Add(ctx, logctx.APIRequestID, ev.RequestContext.RequestID)
		req, err := toRequest(ctx, ev)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest,
				Headers: map[string]string{"Content-Type": "application/json"},
				Body:    `{"error":{"kind":"Invalid","message":"the request could not be read"}}` + "\n"}, nil
		}
		if p, ok := Identity(ev.RequestContext); ok {
			req = req.WithContext(httpapi.WithIdentity(req.Context(), p))
		}
		w := &responseWriter{header: http.Header{}}
		h.ServeHTTP(w, req)
		return w.response(), nil
	}
}

// toRequest rebuilds the HTTP request. rawPath is taken as the path, whole: an HTTP API hands it
// over already decoded ("pro%3Fd" arrives as "pro?d", "pro%2564" as "pro%64"), other sources
// (Function URLs, tests, sam local) encoded. Either way nothing in it may start a query string,
// and anything that was or is encoded shows as '%' in the request's EscapedPath, which the API
// handler refuses. The HTTP API's own decoding of "pro%64" to "prod" happens before the function
// runs and cannot be seen here.
func toRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	raw := ev.RawPath
	if raw == "" {
		raw = "/"
	}
	u := &url.URL{Path: raw, RawQuery: ev.RawQueryString}
	if p, err := url.PathUnescape(raw); err == nil {
		// An encoded path: Path decoded, RawPath as sent, as net/http's server parses a request.
		// For a decoded one with '?' or ' ' in it, RawPath is not a valid encoding and
		// EscapedPath escapes Path instead.
		u.Path, u.RawPath = p, raw
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.URL = u
	req.RequestURI = u.RequestURI()
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	for _, c := range ev.Cookies {
		req.Header.Add("Cookie", c)
	}
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	req.Host = ev.RequestContext.DomainName
	return req, nil
}

// IAMPerson is who the API records for a request signed by the IAM principal arn: the ARN, named
// by its user or role session name. shiplog ui shows it before the page writes.
func IAMPerson(arn string) shiplog.Person {
	return shiplog.Person{ID: arn, Name: arn[strings.LastIndex(arn, "/")+1:]}
}

// Identity returns the authenticated caller of an HTTP API request: the IAM principal's ARN (with
// the user or role session name), or a JWT's subject (with its name, email or username claim).
func Identity(rc events.APIGatewayV2HTTPRequestContext) (shiplog.Person, bool) {
	a := rc.Authorizer
	if a == nil {
		return shiplog.Person{}, false
	}
	if a.IAM != nil && a.IAM.UserARN != "" {
		return IAMPerson(a.IAM.UserARN), true
	}
	if a.JWT != nil && a.JWT.Claims["sub"] != "" {
		c := a.JWT.Claims
		name := c["sub"]
		for _, k := range []string{"name", "email", "cognito:username", "username"} {
			if c[k] != "" {
				name = c[k]
				break
			}
		}
		return shiplog.Person{ID: c["sub"], Name: name}, true
	}
	return shiplog.Person{}, false
}

type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) response() events.APIGatewayV2HTTPResponse {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	res := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: map[string]string{}}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		res.Headers[k] = strings.Join(vs, ",")
	}
	if utf8.Valid(w.body.Bytes()) {
		res.Body = w.body.String()
	} else {
		res.Body = base64.StdEncoding.EncodeToString(w.body.Bytes())
		res.IsBase64Encoded = true
	}
	return res
}
