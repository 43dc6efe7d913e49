package apiclient

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ExecuteAPIService is the SigV4 service name of API Gateway's invoke endpoints.
const ExecuteAPIService = "execute-api"

// SigningTransport signs each request with SigV4 for execute-api and sends it on Next. It
// reads the whole body to hash it (API Gateway checks the payload's hash), so bodies must be
// small; the API's are at most 1 MiB.
type SigningTransport struct {
	Credentials aws.CredentialsProvider
	Region      string
	Next        http.RoundTripper
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// RoundTrip signs a copy of req and sends it.
func (t *SigningTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body to sign it: %w", err)
		}
		body = b
	}
	out := req.Clone(req.Context())
	// Nothing of the caller's own identity travels: the signature is the identity.
	for _, h := range []string{"Authorization", "Cookie", UserHeader, UserNameHeader, "X-Amz-Date", "X-Amz-Security-Token"} {
		out.Header.Del(h)
	}
	out.ContentLength = int64(len(body))
	out.Body = http.NoBody
	if len(body) > 0 {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	creds, err := t.Credentials.Retrieve(req.Context())
	if err != nil {
		return nil, &CredentialsError{Err: err}
	}
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(req.Context(), creds, out, hex.EncodeToString(sum[:]), ExecuteAPIService, t.Region, now()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	return t.next().RoundTrip(out)
}

func (t *SigningTransport) next() http.RoundTripper {
	if t.Next == nil {
		return http.DefaultTransport
	}
	return t.Next
}

// IdentityTransport names the caller to the local stack in the X-Shiplog-User header (when User
// is set), replacing whatever identity headers the request had, and sends it on Next.
type IdentityTransport struct {
	User string
	Next http.RoundTripper
}

// RoundTrip sends a copy of req that names User.
func (t *IdentityTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Header.Del(UserHeader)
	out.Header.Del(UserNameHeader)
	if t.User != "" {
		out.Header.Set(UserHeader, t.User)
	}
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(out)
}
