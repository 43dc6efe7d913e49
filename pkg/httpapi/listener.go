package httpapi

import (
	"errors"
	"net"
	"sync"
)

// badHeaderResponse is what a request whose header has a bare line feed gets.
const badHeaderResponse = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" +
	`{"error":{"kind":"Invalid","message":"request header: a line ends in a bare LF; end header lines with CRLF (a bare LF inside a value would be read as a second header)"}}` + "\n"

// errBareLF ends a connection whose request header has a bare line feed.
var errBareLF = errors.New("request header has a bare LF")

// StrictHeaders wraps a listener so that a request whose header has a line feed not preceded by a
// carriage return gets a 400 and is never served. Go's server reads a bare LF as the end of a
// header line, so "X-Shiplog-User: alice\nX-Shiplog-User-Name: Mallory" would arrive as two
// headers. Only the first request's header of each connection is checked: the server must not
// keep connections alive (http.Server.SetKeepAlivesEnabled(false)).
func StrictHeaders(ln net.Listener) net.Listener { return strictListener{ln} }

type strictListener struct{ net.Listener }

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &strictConn{Conn: c}, nil
}

// strictConn scans the bytes it reads until the end of the request header (an empty CRLF line).
type strictConn struct {
	net.Conn
	mu   sync.Mutex
	done bool // the header has ended
	prev byte // the byte before the current one
	run  int  // bytes since the last CRLF: 0 after "\r\n", so a second one ends the header
}

func (c *strictConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return n, err
	}
	for i := 0; i < n; i++ {
		b := p[i]
		switch {
		case b == '\n' && c.prev != '\r':
			_, _ = c.Conn.Write([]byte(badHeaderResponse))
			_ = c.Conn.Close()
			return 0, errBareLF
		case b == '\n':
			if c.run == 1 { // only the CR since the last CRLF: the empty line
				c.done = true
				return n, err
			}
			c.run = 0
		default:
			c.run++
		}
		c.prev = b
	}
	return n, err
}
