package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/shiplog/shiplog/pkg/httpapi"
)

// sameSiteOnly refuses the requests a browser sends to a local server on behalf of another site:
// both `shiplog ui` and `shiplog serve` act as the person running them (ui with their AWS
// credentials, serve as their OS user), so a page elsewhere must not write through them.
//
//   - A Host that is neither localhost nor an IP address is DNS rebinding: evil.example resolved
//     to 127.0.0.1, and its page is same-origin with itself. A rebinding needs a name, so an IP
//     literal (what the CLI, curl and the aws CLI send when given one) is safe.
//   - Sec-Fetch-Site cross-site or same-site, or an Origin other than this server's: a page of
//     another site or port, which a no-cors fetch lets send a POST whose answer it cannot read
//     but whose effect stands. Clients other than browsers send neither header and pass.
//
// who names the server in the errors ("shiplog ui").
func sameSiteOnly(who string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !localHost(r.Host) {
			jsonError(w, http.StatusForbidden, "Invalid", fmt.Sprintf("%s: host %q is not localhost or an IP address; open http://127.0.0.1:PORT/", who, r.Host))
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			jsonError(w, http.StatusForbidden, "Invalid", who+": refusing a request from another site's page")
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host {
			jsonError(w, http.StatusForbidden, "Invalid", fmt.Sprintf("%s: refusing a request from origin %q", who, origin))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// localHost reports whether a Host header is localhost or an IP address, names that DNS
// rebinding cannot take over.
func localHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	return net.ParseIP(strings.Trim(host, "[]")) != nil
}

// jsonError answers with the API's error body, for the refusals and failures of the local
// servers' own that happen before the API.
func jsonError(w http.ResponseWriter, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(httpapi.ErrorBody{Error: httpapi.ErrorDetail{Kind: kind, Message: msg}})
}
