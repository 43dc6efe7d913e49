package httpapi_test

import (
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
