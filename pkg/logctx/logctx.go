// Package logctx carries a request's log fields in its context, so that every line the request
// writes says which request, project, environment and deployment it is about without each call
// site passing them: the entry point starts the fields (New), whoever learns one adds it (Add),
// and Handler puts them on every record logged with the context (slog's ...Context methods).
//
// Fields are shared by the contexts derived from the one New returned, so a deployment id the
// service makes deep in a deploy is on the line the entry point writes when the deploy returns.
package logctx

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// The fields' keys, as the log lines name them.
const (
	// APIRequestID is API Gateway's id of the request ($context.requestId, in its access log);
	// Lambda's own request id is "requestId", which lambdacontext's handler adds.
	APIRequestID = "apiRequestId"
	Project      = "project"
	Environment  = "environment"
	Deployment   = "deployment"
)

type key struct{}

type fields struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

// New returns ctx with an empty set of fields, for one request; a context that carries a set
// already keeps it (a request does not start over when a handler calls another).
func New(ctx context.Context) context.Context {
	if _, ok := ctx.Value(key{}).(*fields); ok {
		return ctx
	}
	return context.WithValue(ctx, key{}, &fields{})
}

// Add sets string fields on ctx's set, replacing one of the same key; empty values are left out.
// Without a set (no New upstream) it does nothing.
func Add(ctx context.Context, keyValues ...string) {
	f, ok := ctx.Value(key{}).(*fields)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i+1 < len(keyValues); i += 2 {
		k, v := keyValues[i], keyValues[i+1]
		if v == "" {
			continue
		}
		if j := slices.IndexFunc(f.attrs, func(a slog.Attr) bool { return a.Key == k }); j >= 0 {
			f.attrs[j] = slog.String(k, v)
		} else {
			f.attrs = append(f.attrs, slog.String(k, v))
		}
	}
}

// Attrs are ctx's fields, in the order they were first added.
func Attrs(ctx context.Context) []slog.Attr {
	f, ok := ctx.Value(key{}).(*fields)
	if !ok {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.attrs)
}

// Handler wraps a slog.Handler and adds the context's fields to every record, except those the
// record names itself (a call site that says which deployment it means is believed).
type Handler struct{ inner slog.Handler }

// NewHandler returns h with the context's fields added.
func NewHandler(h slog.Handler) *Handler { return &Handler{inner: h} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if attrs := Attrs(ctx); len(attrs) > 0 {
		own := map[string]bool{}
		r.Attrs(func(a slog.Attr) bool { own[a.Key] = true; return true })
		for _, a := range attrs {
			if !own[a.Key] {
				r.AddAttrs(a)
			}
		}
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name)}
}
