package localaws_test

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/localaws"
)

// TestServersListenOnLoopbackOnly reads the kernel's table of listening sockets: every socket on
// each server's port is bound to 127.0.0.1, none to all interfaces. DynamoDB Local has no flag
// for its address and on its own listens on every interface.
func TestServersListenOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	servers := map[string]*localaws.Server{
		"moto":           localaws.SharedMoto(t).Server,
		"DynamoDB Local": localaws.SharedDynamoDBLocal(t).Server,
	}
	for name, s := range servers {
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(u.Port())
		addrs := listening(t, port)
		if len(addrs) == 0 {
			t.Errorf("%s: no listening socket on port %d in /proc/net/tcp{,6}", name, port)
		}
		for _, a := range addrs {
			if a != "127.0.0.1" {
				t.Errorf("%s listens on %s:%d, want 127.0.0.1 only", name, a, port)
			}
		}
	}
}

// listening returns the local addresses of the listening TCP sockets on port, IPv4-mapped IPv6
// addresses written as IPv4.
func listening(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			hexAddr, hexPort, _ := strings.Cut(fields[1], ":")
			if p, _ := strconv.ParseUint(hexPort, 16, 16); int(p) != port {
				continue
			}
			out = append(out, procAddr(hexAddr))
		}
		f.Close()
	}
	return out
}

// procAddr decodes an address of /proc/net/tcp (four bytes in host order, little-endian here)
// or /proc/net/tcp6 (four such words).
func procAddr(h string) string {
	word := func(s string) [4]byte {
		v, _ := strconv.ParseUint(s, 16, 32)
		return [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	}
	ipv4 := func(b [4]byte) string { return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3]) }
	switch len(h) {
	case 8:
		return ipv4(word(h))
	case 32:
		w := [4][4]byte{word(h[0:8]), word(h[8:16]), word(h[16:24]), word(h[24:32])}
		if w[0] == [4]byte{} && w[1] == [4]byte{} && w[2] == [4]byte{0, 0, 0xff, 0xff} {
			return ipv4(w[3])
		}
		if w == [4][4]byte{} {
			return "::"
		}
		return fmt.Sprintf("%x", w)
	}
	return h
}
