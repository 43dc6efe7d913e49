package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/pkg/apiclient"
	"github.com/shiplog/shiplog/pkg/httpapi"
	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Short ids. Releases and deployments have 26-character ULIDs; tables and the dashboard show
// their last 8 characters. Everywhere the CLI takes a release or a deployment, it takes a
// unique prefix or suffix of its id too, in any case, as git takes a short commit hash.

// ulidLen is the length of a full release or deployment id.
const ulidLen = 26

// minShortID is the shortest part of an id the CLI looks up: shorter ones match too much to mean
// one release.
const minShortID = 4

// shortID is the part of an id tables show: its last 8 characters, as the dashboard shows it.
func shortID(id string) string {
	if len(id) == ulidLen {
		return id[ulidLen-8:]
	}
	return id
}

// crockford reports whether s is written in the ULID alphabet (Crockford's base32), any case.
func crockford(s string) bool {
	return s != "" && strings.Trim(strings.ToUpper(s), "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == ""
}

// idMatches reports whether the id has part as its prefix or suffix, case-insensitively.
func idMatches(id, part string) bool {
	id, part = strings.ToUpper(id), strings.ToUpper(part)
	return strings.HasPrefix(id, part) || strings.HasSuffix(id, part)
}

// errNoMatch is a short id that names nothing; what tells the person what it is not.
type errNoMatch struct{ what, part, project string }

func (e errNoMatch) Error() string {
	return fmt.Sprintf("no %s of %s has an id that starts or ends with %s", e.what, e.project, e.part)
}

// pick returns the one id of ids that part names, or an error listing what it could mean.
func pick(what, project, part string, ids []string) (string, error) {
	var found []string
	for _, id := range ids {
		if strings.EqualFold(id, part) {
			return id, nil
		}
		if idMatches(id, part) && !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", withCode(exitNotFound, "%v", errNoMatch{what, part, project})
	case 1:
		return found[0], nil
	}
	shown := found
	if len(shown) > 10 {
		shown = shown[:10]
	}
	more := ""
	if len(found) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(found)-len(shown))
	}
	return "", withCode(exitInvalid, "%s %q is ambiguous: it could be %s %s%s; give more characters",
		what, part, what, strings.Join(shown, ", "), more)
}

// needsLookup reports whether arg is a short id: part of a ULID, long enough to look up. Anything
// else (a full id, "latest", an id of another form) goes to the API as it is.
func needsLookup(arg string) bool {
	return len(arg) >= minShortID && len(arg) < ulidLen && crockford(arg) && arg != shiplog.LatestLabel
}

// asGiven is an id the CLI does not look up: a full ULID in upper case, anything else as it is.
func asGiven(arg string) string {
	if len(arg) == ulidLen && crockford(arg) {
		return strings.ToUpper(arg)
	}
	return arg
}

// resolveRelease turns a RELEASE argument into what the API takes: "latest" and full ids as
// they are (a full id in upper case), and a unique prefix or suffix the id it names.
func (a *app) resolveRelease(ctx context.Context, project, arg string) (string, error) {
	if !needsLookup(arg) {
		return asGiven(arg), nil
	}
	ids, err := a.allIDs(ctx, apiclient.Path("projects", project, "releases"), nil, func(b []byte) ([]string, string, error) {
		var page shiplog.Page[shiplog.Release]
		err := decodeJSON(b, &page)
		var ids []string
		for _, r := range page.Items {
			ids = append(ids, r.ID)
		}
		return ids, page.NextCursor, err
	})
	if err != nil {
		return "", err
	}
	return pick("release", project, arg, ids)
}

// resolveDeployment turns a DEPLOYMENT argument into a deployment id, as resolveRelease does.
func (a *app) resolveDeployment(ctx context.Context, project, arg string) (string, error) {
	if !needsLookup(arg) {
		return asGiven(arg), nil
	}
	ids, err := a.allIDs(ctx, apiclient.Path("projects", project, "deployments"), nil, func(b []byte) ([]string, string, error) {
		var page shiplog.Page[deployment]
		err := decodeJSON(b, &page)
		var ids []string
		for _, d := range page.Items {
			ids = append(ids, d.ID)
		}
		return ids, page.NextCursor, err
	})
	if err != nil {
		return "", err
	}
	return pick("deployment", project, arg, ids)
}

// allIDs reads every page of a list, at the API's largest page size.
func (a *app) allIDs(ctx context.Context, path string, q url.Values, read func([]byte) ([]string, string, error)) ([]string, error) {
	c, err := a.client(ctx)
	if err != nil {
		return nil, err
	}
	var all []string
	cursor := ""
	for {
		query := url.Values{"limit": {"100"}}
		for k, v := range q {
			query[k] = v
		}
		if cursor != "" {
			query.Set("cursor", cursor)
		}
		res, err := c.Get(ctx, path, query)
		if err != nil {
			return nil, err
		}
		ids, next, err := read(res.Body)
		if err != nil {
			return nil, err
		}
		all = append(all, ids...)
		if next == "" || next == cursor {
			return all, nil
		}
		cursor = next
	}
}

// labelsWithImages returns the labels of a project that hold images: latest and each environment
// deployed to (a deploy writes the environment's label), in the project's order.
func (a *app) labelsWithImages(ctx context.Context, project string) ([]string, error) {
	var p shiplog.Project
	if err := a.read(ctx, apiclient.Path("projects", project), &p); err != nil {
		return nil, err
	}
	var out []string
	for _, label := range append([]string{shiplog.LatestLabel}, envIDs(p)...) {
		var body httpapi.ImagesBody
		if err := a.read(ctx, apiclient.Path("projects", project, "images", label), &body); err != nil {
			return nil, err
		}
		if len(body.Images) > 0 {
			out = append(out, label)
		}
	}
	return out, nil
}

// noLabel is the error of a label with no images: which labels have some.
func (a *app) noLabel(ctx context.Context, project, label string) error {
	labels, err := a.labelsWithImages(ctx, project)
	if err != nil {
		return err
	}
	if len(labels) == 0 {
		return withCode(exitNotFound, "no label %s; no label of %s has images yet (an ECR push fills latest)", label, project)
	}
	return withCode(exitNotFound, "no label %s; labels with images: %s", label, strings.Join(labels, ", "))
}

// decodeJSON decodes an API answer's body.
func decodeJSON(b []byte, v any) error {
	return (&apiclient.Response{Status: 200, Body: b}).Decode(v)
}
