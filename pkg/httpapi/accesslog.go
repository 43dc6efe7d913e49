package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// AccessLog logs one line per request that next serves: method, path, status, duration and who
// asked: the identity that LocalIdentity (or any WithIdentity inside next) gave the request, ""
// when none did. It goes outside LocalIdentity, so that requests it refuses are logged too. API
// Gateway keeps its own access log; the local stack and shiplog ui use this one.
func AccessLog(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		who := &whoSlot{}
		r = r.WithContext(context.WithValue(r.Context(), whoKey{}, who))
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http answers 200
			}
			log.InfoContext(r.Context(), "request", "method", r.Method, "path", r.URL.EscapedPath(),
				"status", status, "duration_ms", float64(time.Since(start).Microseconds())/1000, "who", who.get())
		}()
		next.ServeHTTP(rec, r)
	})
}

type whoKey struct{}

// whoSlot is where WithIdentity notes, for AccessLog, who a request is from.
type whoSlot struct {
	mu sync.Mutex
	id string
}

func (s *whoSlot) set(id string) { s.mu.Lock(); s.id = id; s.mu.Unlock() }

func (s *whoSlot) get() string { s.mu.Lock(); defer s.mu.Unlock(); return s.id }

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
