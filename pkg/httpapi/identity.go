package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The local stack's identity headers: who is calling, as the local stack has no IAM.
const (
	UserHeader     = "X-Shiplog-User"      // the caller's id, e.g. "alice"
	UserNameHeader = "X-Shiplog-User-Name" // optional display name, e.g. "Alice Smith"
)

type identityKey struct{}

// WithIdentity returns ctx carrying the caller's identity, which the API records as requested_by.
// The Lambda adapter sets it from the API Gateway request context (IAM user ARN or JWT claims);
// LocalIdentity sets it on the local stack.
func WithIdentity(ctx context.Context, p shiplog.Person) context.Context {
	if who, ok := ctx.Value(whoKey{}).(*whoSlot); ok {
		who.set(p.ID)
	}
	return context.WithValue(ctx, identityKey{}, p)
}

// IdentityFrom returns the caller's identity in ctx, and whether there is one.
func IdentityFrom(ctx context.Context) (shiplog.Person, bool) {
	p, ok := ctx.Value(identityKey{}).(shiplog.Person)
	return p, ok && p.ID != ""
}

// identity returns the caller of a write. A write with no identity is refused with 401, never
// recorded as anonymous: behind API Gateway every request is authenticated, so its absence means
// the caller did not authenticate (or, locally, sent no X-Shiplog-User with no fallback).
func identity(r *http.Request) (shiplog.Person, error) {
	p, ok := IdentityFrom(r.Context())
	if !ok {
		return shiplog.Person{}, statusError{http.StatusUnauthorized, shiplog.Errorf(shiplog.Invalid,
			"no caller identity: writes need an authenticated caller (IAM or a JWT behind API Gateway; the %s header on the local stack)", UserHeader)}
	}
	p.Via = shiplog.ViaAPI
	return p, nil
}

// LocalIdentity is the local stack's stand-in for IAM: it takes the caller's identity from the
// X-Shiplog-User header (and X-Shiplog-User-Name, the display name, which defaults to the id), or
// else uses fallback, normally the OS user running the stack. A zero fallback sets no identity,
// so writes without the header are refused. Malformed headers get a 400 JSON error.
func LocalIdentity(next http.Handler, fallback shiplog.Person) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := headerIdentity(r.Header)
		if err != nil {
			writeError(w, r, slog.New(slog.DiscardHandler), err)
			return
		}
		if p.ID == "" {
			p = fallback
		}
		if p.ID != "" {
			if p.Name == "" {
				p.Name = p.ID
			}
			r = r.WithContext(WithIdentity(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// headerIdentity reads the identity headers; a zero Person if there are none.
func headerIdentity(h http.Header) (shiplog.Person, error) {
	id, hasID, err := headerValue(h, UserHeader, false)
	if err != nil {
		return shiplog.Person{}, err
	}
	name, hasName, err := headerValue(h, UserNameHeader, true)
	if err != nil {
		return shiplog.Person{}, err
	}
	if hasName && !hasID {
		return shiplog.Person{}, shiplog.Errorf(shiplog.Invalid, "%s: needs %s too (the name goes with an id)", UserNameHeader, UserHeader)
	}
	return shiplog.Person{ID: id, Name: name}, nil
}

func headerValue(h http.Header, key string, spaces bool) (string, bool, error) {
	vs, ok := h[http.CanonicalHeaderKey(key)]
	switch {
	case !ok:
		return "", false, nil
	case len(vs) > 1:
		return "", true, shiplog.Errorf(shiplog.Invalid, "%s: is given %d times", key, len(vs))
	}
	v := strings.TrimSpace(vs[0])
	switch {
	case v == "":
		return "", true, shiplog.Errorf(shiplog.Invalid, "%s: is empty", key)
	case len(v) > shiplog.MaxNameLength:
		return "", true, shiplog.Errorf(shiplog.Invalid, "%s: is %d bytes long; the limit is %d", key, len(v), shiplog.MaxNameLength)
	case !utf8.ValidString(v):
		return "", true, shiplog.Errorf(shiplog.Invalid, "%s: is not valid UTF-8", key)
	}
	for _, c := range v {
		if !unicode.IsPrint(c) || (!spaces && unicode.IsSpace(c)) {
			what := "printable characters"
			if !spaces {
				what = "printable characters and no spaces"
			}
			return "", true, shiplog.Errorf(shiplog.Invalid, "%s: %q must be %s", key, clip(v), what)
		}
	}
	return v, true, nil
}
