// Package apiclienttest checks SigV4 signatures as API Gateway does, for tests of clients that
// sign (like net/http/httptest, it is for tests only). Its check is written from the SigV4
// specification, not with the SDK's signer, so that a client signing wrongly with the SDK fails.
package apiclienttest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Credentials are the static credentials the checker knows: the one caller it accepts.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Checker is an http.Handler that accepts only requests signed with SigV4 for Service and
// Region with Credentials, as API Gateway's IAM authorization does, and passes them to Next.
// Others get API Gateway's 403 {"message"}.
type Checker struct {
	Credentials     Credentials
	Region, Service string
	Next            http.Handler
	// Now is the clock signatures must be within 5 minutes of; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	accepted int
	refused  []string
}

// Accepted returns how many requests passed the check.
func (c *Checker) Accepted() int { c.mu.Lock(); defer c.mu.Unlock(); return c.accepted }

// Refused returns why each refused request was refused.
func (c *Checker) Refused() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.refused...)
}

// ServeHTTP checks the request's signature and serves it with Next if it holds.
func (c *Checker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		c.refuse(w, "body: "+err.Error())
		return
	}
	if err := c.check(r, body); err != nil {
		c.refuse(w, err.Error())
		return
	}
	c.mu.Lock()
	c.accepted++
	c.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.Next.ServeHTTP(w, r)
}

func (c *Checker) refuse(w http.ResponseWriter, why string) {
	c.mu.Lock()
	c.refused = append(c.refused, why)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", "InvalidSignatureException")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": "The request signature we calculated does not match the signature you provided: " + why})
}

const algorithm = "AWS4-HMAC-SHA256"

func (c *Checker) check(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return fmt.Errorf("no %s Authorization header", algorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return fmt.Errorf("credential %q is not KEY/DATE/REGION/SERVICE/aws4_request", fields["Credential"])
	}
	if scope[0] != c.Credentials.AccessKeyID {
		return fmt.Errorf("unknown access key %q", scope[0])
	}
	if scope[2] != c.Region || scope[3] != c.Service {
		return fmt.Errorf("signed for %s/%s, want %s/%s", scope[2], scope[3], c.Region, c.Service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("X-Amz-Date %q: %v", amzDate, err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if d := now().Sub(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signed at %s, more than 5 minutes from now", amzDate)
	}
	if scope[1] != amzDate[:8] {
		return fmt.Errorf("scope date %s is not X-Amz-Date's", scope[1])
	}
	if c.Credentials.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != c.Credentials.SessionToken {
		return fmt.Errorf("X-Amz-Security-Token is not the session's")
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !contains(signed, "host") || !contains(signed, "x-amz-date") {
		return fmt.Errorf("SignedHeaders %q lacks host or x-amz-date", fields["SignedHeaders"])
	}
	if c.Credentials.SessionToken != "" && !contains(signed, "x-amz-security-token") {
		return fmt.Errorf("the session token is not signed")
	}
	var headers strings.Builder
	for _, h := range signed {
		var vals []string
		if h == "host" {
			vals = []string{r.Host}
		} else {
			vals = r.Header.Values(h)
		}
		if len(vals) == 0 && h != "content-length" {
			return fmt.Errorf("signed header %q is not in the request", h)
		}
		if h == "content-length" {
			vals = []string{fmt.Sprint(r.ContentLength)}
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		headers.WriteString(h + ":" + strings.Join(vals, ",") + "\n")
	}
	payload := sha256.Sum256(body)
	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL.EscapedPath()),
		canonicalQuery(r.URL.RawQuery),
		headers.String(),
		fields["SignedHeaders"],
		hex.EncodeToString(payload[:]),
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{algorithm, amzDate, strings.Join(scope[1:], "/"), hex.EncodeToString(sum[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+c.Credentials.SecretAccessKey), scope[1])
	for _, s := range scope[2:] {
		key = hmacSHA256(key, s)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("signature mismatch for canonical request:\n%s", canonical)
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// canonicalURI encodes each segment of the escaped path once more, as SigV4 wants for every
// service but S3.
func canonicalURI(escaped string) string {
	if escaped == "" {
		return "/"
	}
	segs := strings.Split(escaped, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery sorts the query's parameters by name and value, each encoded.
func canonicalQuery(raw string) string {
	q, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode is SigV4's URI encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
