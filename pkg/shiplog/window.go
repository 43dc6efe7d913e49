package shiplog

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // a window's time zone must load where the system has no zoneinfo (Lambda's provided runtimes)
)

// Window is a recurring span of the week in a time zone: days "Mon-Thu" (a day, a range that may
// wrap, "Fri-Mon", or a comma-separated list of either), from Start to End ("09:00" to "16:00",
// End after Start; "24:00" is the end of the day), in TZ (an IANA zone, "Europe/London"; local
// time, daylight saving included).
type Window struct {
	Days  string `json:"days"`
	Start string `json:"start"`
	End   string `json:"end"`
	TZ    string `json:"tz"`
}

// String shows a window as written: "Mon-Thu 09:00-16:00 Europe/London".
func (w Window) String() string { return w.Days + " " + w.Start + "-" + w.End + " " + w.TZ }

// window is a Window parsed: the days as a bit per time.Weekday, the times in minutes of the day.
type window struct {
	days       uint8
	start, end int
	loc        *time.Location
	text       string
}

var dayNames = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

// parse checks a window and parses it; its errors name the field under field.
func (w Window) parse(field string) (window, error) {
	out := window{text: w.String()}
	var err error
	if out.days, err = parseDays(w.Days); err != nil {
		return window{}, Errorf(Invalid, "%s.days: %q %v; write days like \"Mon-Fri\", \"Sat,Sun\" or \"Mon,Wed-Thu\"", field, clip(w.Days), err)
	}
	if out.start, err = parseClock(w.Start, false); err != nil {
		return window{}, Errorf(Invalid, "%s.start: %q %v", field, clip(w.Start), err)
	}
	if out.end, err = parseClock(w.End, true); err != nil {
		return window{}, Errorf(Invalid, "%s.end: %q %v", field, clip(w.End), err)
	}
	if out.end <= out.start {
		return window{}, Errorf(Invalid, "%s.end: %s is not after start %s; a window ends on the day it starts (write one that crosses midnight as two: \"22:00\"-\"24:00\" and \"00:00\"-\"02:00\" of the next days)", field, w.End, w.Start)
	}
	if w.TZ == "" {
		return window{}, Errorf(Invalid, "%s.tz: is required: an IANA time zone such as \"Europe/London\" or \"UTC\"", field)
	}
	if out.loc, err = time.LoadLocation(w.TZ); err != nil || w.TZ == "Local" {
		return window{}, Errorf(Invalid, "%s.tz: %q is not an IANA time zone (such as \"Europe/London\" or \"UTC\")", field, clip(w.TZ))
	}
	return out, nil
}

func parseDays(s string) (uint8, error) {
	if strings.TrimSpace(s) == "" {
		return 0, fmt.Errorf("names no day")
	}
	var days uint8
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[strings.ToLower(strings.TrimSpace(from))]
		if !ok {
			return 0, fmt.Errorf("has %q, which is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", from)
		}
		b := a
		if isRange {
			if b, ok = dayNames[strings.ToLower(strings.TrimSpace(to))]; !ok {
				return 0, fmt.Errorf("has %q, which is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			days |= 1 << d
			if d == b {
				break
			}
		}
	}
	return days, nil
}

// parseClock parses "HH:MM" into minutes of the day; "24:00" only as an end.
func parseClock(s string, end bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, fmt.Errorf("is not a time of day as HH:MM (\"09:00\")")
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	switch {
	case err1 != nil || err2 != nil || hh < 0 || mm < 0:
		return 0, fmt.Errorf("is not a time of day as HH:MM (\"09:00\")")
	case end && hh == 24 && mm == 0:
		return 24 * 60, nil
	case hh > 23 || mm > 59:
		return 0, fmt.Errorf("is not a time of day (00:00 to 23:59%s)", map[bool]string{true: ", or 24:00 for the end of the day"}[end])
	}
	return hh*60 + mm, nil
}

// span is the occurrence of w on the local day of t (whatever the window's days): its start
// and end instants.
func (w window) span(t time.Time) (time.Time, time.Time) {
	lt := t.In(w.loc)
	y, mo, d := lt.Date()
	return time.Date(y, mo, d, 0, w.start, 0, 0, w.loc), time.Date(y, mo, d, 0, w.end, 0, 0, w.loc)
}

// on reports whether w has an occurrence on the local day of t.
func (w window) on(t time.Time) bool { return w.days&(1<<t.In(w.loc).Weekday()) != 0 }

// contains reports whether t is inside an occurrence of w, and that occurrence's end.
func (w window) contains(t time.Time) (bool, time.Time) {
	if !w.on(t) {
		return false, time.Time{}
	}
	from, to := w.span(t)
	return !t.Before(from) && t.Before(to), to
}

// next is the start of w's next occurrence after t.
func (w window) next(t time.Time) time.Time {
	lt := t.In(w.loc)
	for i := 0; i <= 8; i++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()+i, 12, 0, 0, 0, w.loc)
		if !w.on(day) {
			continue
		}
		if from, _ := w.span(day); from.After(t) {
			return from
		}
	}
	return time.Time{} // no day named: parse refuses such a window
}

// parseWindows parses windows validated at registration; one that no longer parses (a time
// zone gone from the database) is an error the gate reports.
func parseWindows(field string, ws []Window) ([]window, error) {
	out := make([]window, 0, len(ws))
	for i, w := range ws {
		p, err := w.parse(fmt.Sprintf("%s[%d]", field, i))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// inside answers the window of ws that t is in, if any, and the moment t's run of windows ends
// (windows that meet or overlap, one after another).
func inside(ws []window, t time.Time) (*window, time.Time) {
	var first *window
	end := t
	for range 16 { // bounded: windows that cover every moment have no end
		moved := false
		for i := range ws {
			if in, to := ws[i].contains(end); in {
				if first == nil {
					first = &ws[i]
				}
				if to.After(end) {
					end, moved = to, true
				}
			}
		}
		if !moved {
			break
		}
	}
	return first, end
}

// nextOpen is the earliest start of one of ws after t.
func nextOpen(ws []window, t time.Time) time.Time {
	var best time.Time
	for _, w := range ws {
		if n := w.next(t); !n.IsZero() && (best.IsZero() || n.Before(best)) {
			best = n
		}
	}
	return best
}
