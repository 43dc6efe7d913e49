package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"unicode/utf8"
)

// bareLFMessage says why a request whose header has a bare line feed is refused.
const bareLFMessage = "request header: a line ends in a bare LF; end header lines with CRLF (a bare LF inside a value would be read as a second header)"

// errBadHeader ends a connection whose request header was refused.
var errBadHeader = errors.New("request header refused")

// StrictHeaders wraps a listener so that every request net/http's server would refuse before any
// handler runs is answered in the API's JSON error shape, and so that a request whose header has
// a line feed not preceded by a carriage return gets a 400 and is never served.
//
// Go's server reads a bare LF as the end of a header line, so "X-Shiplog-User: alice\nX-Shiplog-
// User-Name: Mallory" would arrive as two headers. Go's server refuses a control character in
// the header (an ESC, a NUL) itself, but with a plain-text "400 Bad Request" that does not say
// which header, written straight to the connection before any handler or middleware could
// answer: so the wrapper refuses those bytes first, naming the header and the character, and
// rewrites the server's other plain-text refusals (no Host, a header too large, a malformed
// line) into the JSON shape. Only the first request of each connection is checked: the server
// must not keep connections alive (http.Server.SetKeepAlivesEnabled(false)).
func StrictHeaders(ln net.Listener) net.Listener { return strictListener{ln} }

type strictListener struct{ net.Listener }

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &strictConn{Conn: c}, nil
}

// maxNameInMessage bounds the header name a refusal repeats.
const maxNameInMessage = 64

// strictConn scans the bytes it reads until the end of the request header (an empty CRLF line).
type strictConn struct {
	net.Conn
	mu       sync.Mutex
	done     bool   // the header has ended
	prev     byte   // the byte before the current one
	run      int    // bytes since the last CRLF: 0 after "\r\n", so a second one ends the header
	line     int    // 0 on the request line, then each header line
	name     []byte // the current header line's field name, up to maxNameInMessage bytes
	named    bool   // the current header line's ':' has been read
	answered bool   // a response has been written: net/http's own refusals are rewritten only first
}

func (c *strictConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return n, err
	}
	for i := 0; i < n; i++ {
		if msg := c.scan(p[i]); msg != "" {
			c.answered = true
			_, _ = c.Conn.Write(errorResponse(http.StatusBadRequest, msg))
			_ = c.Conn.Close()
			return 0, errBadHeader
		}
		if c.done {
			return n, err
		}
	}
	return n, err
}

// scan takes the header's next byte and returns why the request is refused, or "".
func (c *strictConn) scan(b byte) string {
	defer func() { c.prev = b }()
	switch {
	case b == '\n' && c.prev != '\r':
		return bareLFMessage
	case c.prev == '\r' && b != '\n':
		return c.where() + ": contains a carriage return (U+000D) that does not end the line; control characters are not allowed"
	case b == '\n':
		if c.run == 1 { // only the CR since the last CRLF: the empty line
			c.done = true
			return ""
		}
		c.run, c.line, c.name, c.named = 0, c.line+1, c.name[:0], false
		return ""
	case b == '\r':
		c.run++
		return ""
	case b < 0x20 && b != '\t' || b == 0x7f:
		return fmt.Sprintf("%s: contains the control character %U; control characters are not allowed", c.where(), rune(b))
	}
	c.run++
	if c.line > 0 && !c.named {
		if b == ':' {
			c.named = true
		} else if len(c.name) < maxNameInMessage {
			c.name = append(c.name, b)
		}
	}
	return ""
}

// where names the part of the header being read, for messages.
func (c *strictConn) where() string {
	switch {
	case c.line == 0:
		return "request line"
	case !c.named:
		return "request header field name"
	case !utf8.Valid(c.name):
		return "request header: a field"
	}
	return "request header " + string(c.name)
}

// Write passes the server's writes on, rewriting a refusal net/http writes itself (before any
// handler, in plain text) into the API's JSON error shape.
func (c *strictConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	first := !c.answered
	c.answered = true
	c.mu.Unlock()
	if !first {
		return c.Conn.Write(p)
	}
	if status, msg, ok := serverRefusal(p); ok {
		if _, err := c.Conn.Write(errorResponse(status, msg)); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// serverErrorHeaders follow the status line of the refusals net/http's server writes itself
// (net/http's conn.serve); a handler's answer always has a Date and a length or an encoding.
const serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// serverRefusal recognizes a refusal written by net/http's server and says it in the API's words.
func serverRefusal(p []byte) (status int, msg string, ok bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 4 || rest[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(rest[:3]))
	if err != nil || status < 400 {
		return 0, "", false
	}
	i := bytes.Index(rest, []byte(serverErrorHeaders))
	if i < 0 || bytes.ContainsAny(rest[:i], "\r\n") {
		return 0, "", false
	}
	body := string(rest[i+len(serverErrorHeaders):])
	prefix := fmt.Sprintf("%d %s: ", status, http.StatusText(status))
	switch {
	case status == http.StatusRequestHeaderFieldsTooLarge:
		return status, "request header: is too large for the server", true
	case status == http.StatusNotImplemented:
		return status, "Transfer-Encoding: is not supported; send the body with Content-Length, or chunked", true
	case len(body) > len(prefix) && body[:len(prefix)] == prefix:
		return status, "request: " + body[len(prefix):], true
	}
	return status, "request: is not valid HTTP/1.1: the request line or a header line is malformed", true
}

// errorResponse is a whole HTTP response carrying the API's JSON error of kind Invalid.
func errorResponse(status int, msg string) []byte {
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Kind: "Invalid", Message: msg}})
	body = append(body, '\n')
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), len(body))
	return append([]byte(head), body...)
}
