package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// The colors of table cells. Every code is two characters, so that on a terminal every cell
// carries escapes of one length and tabwriter still lines the columns up.
const (
	plain  = "39"
	bold   = "01"
	red    = "31"
	green  = "32"
	yellow = "33"
	cyan   = "36"
	dim    = "90"
)

// styled is a table cell with a color.
type styled struct {
	text, color string
}

// colored reports whether stdout gets colors: a terminal, and NO_COLOR unset.
func (a *app) colored() bool {
	return a.std.outTTY && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb"
}

// paint returns s in color when stdout takes colors.
func (a *app) paint(color, s string) string {
	if !a.colored() {
		return s
	}
	return "\x1b[" + color + "m" + s + "\x1b[0m"
}

// table writes aligned columns.
type table struct {
	a  *app
	tw *tabwriter.Writer
}

func (a *app) newTable(w io.Writer, headers ...string) *table {
	t := &table{a: a, tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	cells := make([]any, len(headers))
	for i, h := range headers {
		cells[i] = styled{h, bold}
	}
	t.row(cells...)
	return t
}

// row adds a row of cells: strings, or styled for color.
func (t *table) row(cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		s, color := "", plain
		switch v := c.(type) {
		case styled:
			s, color = v.text, v.color
		case string:
			s = v
		default:
			s = fmt.Sprint(v)
		}
		s = oneLine(s)
		if s == "" {
			s, color = "-", dim
		}
		if t.a.colored() {
			s = "\x1b[" + color + "m" + s + "\x1b[0m"
		}
		parts[i] = s
	}
	fmt.Fprintln(t.tw, strings.Join(parts, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// oneLine keeps a cell on one line and free of tabs and control characters.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}

// clip shortens s to n characters for a table.
func clip(s string, n int) string {
	r := []rune(oneLine(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

// shortDigest shortens "sha256:<64 hex>" to "sha256:<12 hex>".
func shortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

// shortImage shows a digest-pinned image URI as repository@sha256:abcdef123456, without the
// registry's host name.
func shortImage(uri string) string {
	if uri == "" {
		return ""
	}
	name, digest, ok := strings.Cut(uri, "@")
	if i := strings.IndexByte(name, '/'); i >= 0 && strings.ContainsAny(name[:i], ".:") {
		name = name[i+1:]
	}
	if !ok {
		return name
	}
	return name + "@" + shortDigest(digest)
}

// splitImage returns an image URI's repository (without the registry) and short digest.
func splitImage(uri string) (repo, digest string) {
	s := shortImage(uri)
	repo, digest, _ = strings.Cut(s, "@")
	return repo, digest
}

// when shows a Unix time as "2026-11-20 10:00 (5m ago)", in the local time zone.
func (a *app) when(unix int64) string {
	if unix == 0 {
		return ""
	}
	t := time.Unix(unix, 0).In(a.loc)
	return t.Format("2006-01-02 15:04") + " (" + relative(a.now().Sub(t)) + ")"
}

// whenLong shows a Unix time with seconds and zone, and how long ago.
func (a *app) whenLong(unix int64) string {
	if unix == 0 {
		return "-"
	}
	t := time.Unix(unix, 0).In(a.loc)
	return t.Format("2006-01-02 15:04:05 MST") + " (" + relative(a.now().Sub(t)) + ")"
}

// relative says how long ago (or, negative, in how long) d is, in its largest unit.
func relative(d time.Duration) string {
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(math.Round(d.Hours())))
	case d < 60*24*time.Hour:
		s = fmt.Sprintf("%dd", int(math.Round(d.Hours()/24)))
	case d < 730*24*time.Hour:
		s = fmt.Sprintf("%dmo", int(math.Round(d.Hours()/24/30)))
	default:
		s = fmt.Sprintf("%dy", int(math.Round(d.Hours()/24/365)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// statusColor colors a deployment status.
func statusColor(s string) styled {
	switch s {
	case "verified":
		return styled{s, green}
	case "applied":
		return styled{s, cyan}
	case "failed":
		return styled{s, red}
	case "requested":
		return styled{s, yellow}
	}
	return styled{s, dim}
}

// changeColor colors a diff's change.
func changeColor(c string) styled {
	switch c {
	case "added":
		return styled{c, green}
	case "removed":
		return styled{c, red}
	case "changed":
		return styled{c, yellow}
	}
	return styled{c, dim}
}

// personOf shows who: the name, and in brackets the id when it differs and "invoke" when a
// direct invocation asserted the identity (no one authenticated it: the invoker may name
// anyone), so that "GitHub Actions (ci, invoke)" never reads as a caller IAM vouched for.
func personOf(p shiplog.Person) string {
	who, notes := p.Name, []string{}
	switch {
	case p.Name == "" || p.Name == p.ID:
		who = p.ID
	case p.ID != "":
		notes = append(notes, p.ID)
	}
	if p.Via == shiplog.ViaInvoke {
		notes = append(notes, shiplog.ViaInvoke)
	}
	if len(notes) == 0 {
		return who
	}
	return who + " (" + strings.Join(notes, ", ") + ")"
}
