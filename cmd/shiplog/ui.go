package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/httpapi"
)

func (a *app) uiCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "ui [--addr 127.0.0.1:8081]",
		Short: "Serve the dashboard locally, forwarding its API calls to --api, signed as the CLI signs",
		Long: `ui serves the dashboard on a local address and forwards the API's paths (/projects...) to
--api, each request signed with your AWS credentials when the CLI would sign it (a browser
cannot sign SigV4), as kubectl proxy does. Anyone who can reach the address acts as you, so it
listens only on a loopback address, and refuses requests that name another host or come from
another site's page.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return withCode(exitError, "--addr %q: %v", addr, err)
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return withCode(exitError, "--addr %q: ui forwards requests as you, so it listens only on a loopback address (127.0.0.1)", addr)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return withCode(exitError, "%v", err)
			}
			log := slog.New(slog.NewJSONHandler(a.std.err, nil))
			srv := &http.Server{Handler: httpapi.AccessLog(uiServer(c, uiHandler(c), log), log), ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			how := "unsigned, as --user"
			if c.Signing {
				how = "signed with SigV4 for " + c.Region
			}
			fmt.Fprintf(a.std.err, "shiplog ui: http://%s/ (API %s, %s); Ctrl-C stops\n", ln.Addr(), c.Base(), how)
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "the local address to serve on (loopback only)")
	return cmd
}

// uiServer serves dashboard at / and forwards the API's paths to c's API, through c's transport
// (which signs, or names the caller). sameSiteOnly refuses requests for another host name (DNS
// rebinding) and cross-site requests (another page posting to 127.0.0.1), which would otherwise
// act with the user's credentials.
func uiServer(c *apiclient.Client, dashboard http.Handler, log *slog.Logger) http.Handler {
	base := c.Base()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.Out.URL.Path = base.Path + pr.In.URL.Path
			pr.Out.URL.RawPath = base.EscapedPath() + pr.In.URL.EscapedPath()
			// The browser's own credentials and origin mean nothing to the API.
			for _, h := range []string{"Cookie", "Authorization", "Origin", "Referer", apiclient.UserHeader, apiclient.UserNameHeader} {
				pr.Out.Header.Del(h)
			}
		},
		Transport: c.Transport(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.ErrorContext(r.Context(), "forward failed", "path", r.URL.EscapedPath(), "err", err)
			status, kind, msg := http.StatusBadGateway, "Unavailable", "shiplog ui: no answer from "+base.String()
			var ce *apiclient.CredentialsError
			if errors.As(err, &ce) {
				status, kind, msg = http.StatusUnauthorized, "Invalid", "shiplog ui: "+ce.Error()
			}
			jsonError(w, status, kind, msg)
		},
	}
	return sameSiteOnly("shiplog ui", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/projects" || strings.HasPrefix(r.URL.Path, "/projects/") {
			proxy.ServeHTTP(w, r)
			return
		}
		dashboard.ServeHTTP(w, r)
	}))
}
