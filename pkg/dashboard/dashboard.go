// Package dashboard is shiplog's web dashboard: a single-page app, embedded in the binary, that
// people use in a browser to see what runs where, what happened and how it went, and to deploy,
// promote, roll back, lock, freeze, report and break glass (docs/dashboard.md).
//
// The page is plain HTML, CSS and JavaScript modules with no build step and nothing fetched from
// the internet: Handler serves it at "/" and its files under "/assets/". The page calls the HTTP
// API (pkg/httpapi) on the same origin, so whatever serves the dashboard serves the API next to
// it: the local stack directly, `shiplog ui` by forwarding API calls, signed, to API Gateway.
// The page keeps itself current by polling the API's event log (the newest event of each project
// it shows), so the server needs nothing beyond the API for live updates.
// The dashboard has no login of its own; on the local stack the page sends the user name a person
// types once as X-Shiplog-User. Behind `shiplog ui` the proxy signs as the person running it, and
// the page shows that identity (read from IdentityPath) before every write, since no name typed
// in the page reaches the record.
package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// AssetPrefix is the path under which the page's files are served.
const AssetPrefix = "/assets/"

// IdentityPath is where the page asks who the API will record as the requester of its writes.
const IdentityPath = "/dashboard/identity"

// Serves reports whether a request path is the dashboard's ("/", IdentityPath and everything
// under AssetPrefix) rather than the API's, for servers that put both on one origin.
func Serves(urlPath string) bool {
	return urlPath == "/" || urlPath == IdentityPath || strings.HasPrefix(urlPath, AssetPrefix)
}

// Writer is who the API will record as the requester of the writes the page sends, as the
// server that serves the page knows it.
type Writer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Fixed says the server names the requester itself (shiplog ui signs every request as the
	// person running it), so the page cannot choose one and sends none. Otherwise the page may
	// name someone (X-Shiplog-User, on the local stack), and ID and Name, if set, are who the API
	// records when it does not.
	Fixed bool `json:"fixed"`
	// How says, for a person, how the server identifies the writes.
	How string `json:"how"`
}

// WriterFunc returns the Writer of a request's page; its error's text is shown on the page.
type WriterFunc func(context.Context) (Writer, error)

// contentSecurityPolicy lets the page load and call only its own origin: no inline script, no
// third-party anything.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler returns the dashboard's handler: GET (and HEAD) of "/" and of the files under
// AssetPrefix. Other paths answer 404 and other methods 405, as JSON errors like the API's.
// IdentityPath answers 404: the page then lets a person name themselves.
func Handler() http.Handler { return HandlerFor(nil) }

// HandlerFor is Handler that answers GET IdentityPath with who's Writer (502 with its error's
// text if it fails).
func HandlerFor(who WriterFunc) http.Handler {
	files := assetFiles()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == IdentityPath && who != nil {
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", "GET")
				writeError(w, http.StatusMethodNotAllowed, "Invalid", "method "+r.Method+" is not allowed on "+IdentityPath+"; allowed: GET")
				return
			}
			wr, err := who(r.Context())
			if err != nil {
				writeError(w, http.StatusBadGateway, "Unavailable", err.Error())
				return
			}
			body, _ := json.Marshal(wr)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			_, _ = w.Write(append(body, '\n'))
			return
		}
		serveFile(w, r, files)
	})
}

// assetFiles reads the embedded files once, with their types and ETags, keyed by URL path.
func assetFiles() map[string]file {
	files := map[string]file{}
	err := fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = http.DetectContentType(body)
		}
		files["/"+name] = file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("dashboard: read embedded assets: " + err.Error()) // the files are compiled in
	}
	files["/"] = files["/assets/index.html"]
	delete(files, "/assets/index.html")
	return files
}

// serveFile answers a GET or HEAD of one of files.
func serveFile(w http.ResponseWriter, r *http.Request, files map[string]file) {
	f, ok := files[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "no dashboard page or file "+r.URL.EscapedPath())
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "Invalid", "method "+r.Method+" is not allowed on "+r.URL.EscapedPath()+"; allowed: GET, HEAD")
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// The files change only with the binary: the browser asks again each time and gets a 304.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

func writeError(w http.ResponseWriter, status int, kind, message string) {
	type detail struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	body, _ := json.Marshal(struct {
		Error detail `json:"error"`
	}{detail{kind, message}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
