package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

// MaxBodyBytes bounds every request body: manifests entries and release requests are a few KiB.
const MaxBodyBytes = 1 << 20

// readBody reads the whole body, up to MaxBodyBytes. A blank body comes back empty.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, statusError{http.StatusRequestEntityTooLarge, shiplog.Errorf(shiplog.Invalid,
			"request body: is larger than the limit of 1 MiB (%d bytes)", MaxBodyBytes)}
	case err != nil:
		return nil, shiplog.Wrap(shiplog.Invalid, err, "request body: could not be read")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	return data, nil
}

// decodeBody reads one JSON object into v (a pointer to a struct), refusing unknown fields and
// trailing data. A blank body leaves v as it is unless required.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, required bool) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	if data == nil {
		if required {
			return shiplog.Errorf(shiplog.Invalid, "request body: is empty; want %s", strictjson.Want(reflect.TypeOf(v)))
		}
		return nil
	}
	err = strictjson.Decode(data, v, strictjson.Options{Name: "request body"})
	var uf *strictjson.UnknownFieldError
	if errors.As(err, &uf) && strings.EqualFold(uf.Path, "requested_by") {
		return shiplog.Errorf(shiplog.Invalid, "requested_by: comes from your identity, not the body")
	}
	return err
}

// query parses the query string, refusing parameters the route does not take and repeated ones:
// a misspelt "limt" silently ignored would be a surprise.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, shiplog.Errorf(shiplog.Invalid, "query: %v", err)
	}
	for name, vs := range q {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, shiplog.Errorf(shiplog.Invalid, "query: %q is not a parameter of this route, which takes none", name)
			}
			return nil, shiplog.Errorf(shiplog.Invalid, "query: %q is not a parameter of this route; it takes %s", name, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, shiplog.Errorf(shiplog.Invalid, "query: %q is given %d times", name, len(vs))
		}
	}
	return q, nil
}

// checkQuery refuses any query parameter, for routes that take none.
func checkQuery(r *http.Request) error {
	_, err := query(r)
	return err
}

// pageRequest reads limit and cursor; extra names the route's other parameters.
func pageRequest(r *http.Request, extra ...string) (shiplog.PageRequest, error) {
	q, err := query(r, append([]string{"limit", "cursor"}, extra...)...)
	if err != nil {
		return shiplog.PageRequest{}, err
	}
	var page shiplog.PageRequest
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return page, shiplog.Errorf(shiplog.Invalid, "limit: %q is not a whole number", clip(s))
		}
		if n < 1 || n > shiplog.MaxPageLimit {
			return page, shiplog.Errorf(shiplog.Invalid, "limit: %d is not between 1 and %d", n, shiplog.MaxPageLimit)
		}
		page.Limit = n
	}
	page.Cursor = q.Get("cursor")
	return page, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
