package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shiplog/shiplog/pkg/httpapi"
)

// TestStrictHeaders: a bare LF in a header value must not split it into a second header (Go's
// server would read "alice\nX-Shiplog-User-Name: Mallory" as two), so such a request gets a 400
// and never reaches the handler; bodies may hold any bytes.
func TestStrictHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	var names []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		names = append(names, r.Header.Get(httpapi.UserNameHeader))
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	})}
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve(httpapi.StrictHeaders(ln))
	t.Cleanup(func() { srv.Close() })

	send := func(raw string) string {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(c)
		return string(out)
	}
	out := send("POST /projects/storage/releases HTTP/1.1\r\nHost: x\r\nX-Shiplog-User: alice\nX-Shiplog-User-Name: Mallory\r\nContent-Length: 2\r\n\r\n{}")
	if !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, "bare LF") {
		t.Errorf("bare LF in a header: got %q, want a 400 that says why", out)
	}
	if n := served.Load(); n != 0 {
		t.Errorf("bare LF in a header: the handler ran %d times (names %q), want never", n, names)
	}
	body := "{\n\"a\": \"b\\n\"\n}\n"
	out = send("POST / HTTP/1.1\r\nHost: x\r\nX-Shiplog-User: alice\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	if !strings.HasPrefix(out, "HTTP/1.1 200 ") || !strings.HasSuffix(out, body) {
		t.Errorf("CRLF header and a body of bare LFs: got %q, want 200 echoing the body", out)
	}
}

// TestHeaderRefusalsAreJSON: a request net/http's server would refuse before any handler runs (a
// control character in a header, no Host, a header too large) gets the API's JSON error shape
// with a message that says what is wrong, not net/http's plain-text "400 Bad Request".
func TestHeaderRefusalsAreJSON(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "served")
	})}
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve(httpapi.StrictHeaders(ln))
	t.Cleanup(func() { srv.Close() })

	send := func(raw string) *http.Response {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("reading the answer to %q: %v", raw, err)
		}
		return res
	}
	tests := []struct {
		name   string
		raw    string
		status int
		want   []string // in the message
	}{
		{"ESC in a value", "GET /projects HTTP/1.1\r\nHost: x\r\nX-Trace: a\x1b[31mb\r\n\r\n", 400, []string{"X-Trace", "control character U+001B"}},
		{"ESC in an identity", "GET /projects HTTP/1.1\r\nHost: x\r\nX-Shiplog-User: alice\x1b[2J\r\n\r\n", 400, []string{"X-Shiplog-User", "U+001B"}},
		{"NUL in a value", "GET /projects HTTP/1.1\r\nHost: x\r\nX-Trace: a\x00b\r\n\r\n", 400, []string{"X-Trace", "U+0000"}},
		{"DEL in a value", "GET /projects HTTP/1.1\r\nHost: x\r\nX-Trace: a\x7fb\r\n\r\n", 400, []string{"X-Trace", "U+007F"}},
		{"a bare CR in a value", "GET /projects HTTP/1.1\r\nHost: x\r\nX-Trace: a\rX-Shiplog-User: root\r\n\r\n", 400, []string{"X-Trace", "U+000D"}},
		{"a control character in a name", "GET /projects HTTP/1.1\r\nHost: x\r\nX-Tr\x01ace: a\r\n\r\n", 400, []string{"U+0001"}},
		{"a control character in the request line", "GET /proj\x1bects HTTP/1.1\r\nHost: x\r\n\r\n", 400, []string{"request line", "U+001B"}},
		{"no Host", "GET /projects HTTP/1.1\r\nX-Trace: a\r\n\r\n", 400, []string{"Host"}},
		{"a malformed header line", "GET /projects HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, []string{"request"}},
		{"a header too large", "GET /projects HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", http.DefaultMaxHeaderBytes+8192) + "\r\n\r\n", 431, []string{"request header", "too large"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := send(tt.raw)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Errorf("status: got %d, want %d (body %q)", res.StatusCode, tt.status, body)
			}
			if got := res.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json (body %q)", got, body)
			}
			var eb httpapi.ErrorBody
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatalf("body %q: not the API's JSON error: %v", body, err)
			}
			if eb.Error.Kind != "Invalid" {
				t.Errorf("kind: got %q, want Invalid", eb.Error.Kind)
			}
			for _, w := range tt.want {
				if !strings.Contains(eb.Error.Message, w) {
					t.Errorf("message: got %q, want it to contain %q", eb.Error.Message, w)
				}
			}
		})
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the handler ran %d times, want never", n)
	}
	// A handler's own plain-text answer is left as it is.
	res := send("GET / HTTP/1.1\r\nHost: x\r\nX-Trace: a\tb \xc3\xa9\r\n\r\n")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "served" {
		t.Errorf("a tab and obs-text in a value: got %d %q, want 200 served", res.StatusCode, body)
	}
}
