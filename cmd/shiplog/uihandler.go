package main

import "net/http"

// uiHandler is the dashboard that shiplog ui serves at /. This stand-in only says that the
// dashboard is not built in.
func uiHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("shiplog ui: this build has no dashboard built in; the API is forwarded at /projects\n"))
	})
}
