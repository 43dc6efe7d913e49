package main

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The API's messages are written for whoever calls it: they name routes and Unix seconds. A
// person at the CLI gets the same facts in the CLI's words: the command that does what the
// route does, and times as dates in their time zone.

var (
	// "(DELETE /projects/P/environments/E/lock)"
	unlockRoute = regexp.MustCompile(`DELETE /projects/([^/\s]+)/environments/([^/\s)]+)/lock`)
	// "set by PUT /projects/P/freezes/F"
	freezeRoute = regexp.MustCompile(`PUT /projects/([^/\s]+)/freezes/([^/\s;,)]+)`)
	// "PUT /projects/P?retire=E"
	retireRoute = regexp.MustCompile(`PUT /projects/([^/\s?]+)\?retire=([^\s,)]+)`)
	// "An emergency deployment passes the lock", "use an emergency deployment"
	emergency = regexp.MustCompile(`(An|an) emergency deployment passes (the lock|the freeze|locks and gates)`)
	useIt     = regexp.MustCompile(`use an emergency deployment`)
	// "1700000000 (2023-11-14T22:13:20Z)": Unix seconds with the time they are
	unixAndTime = regexp.MustCompile(`\b\d{9,11} \((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)`)
	rfc3339     = regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b`)
	// the body fields of times, which the CLI sets with flags
	timeFields = strings.NewReplacer("ends_at: ", "--ends: ", "starts_at: ", "--starts: ", "expires_at: ", "--expires: ",
		"is not after starts_at", "is not after --starts", "(Unix seconds)", "")
)

// forPeople rewrites an API message in the CLI's words.
func (a *app) forPeople(msg string) string {
	msg = unlockRoute.ReplaceAllString(msg, "shiplog unlock $1 $2")
	msg = freezeRoute.ReplaceAllString(msg, "shiplog freeze set $1 $2 --environments ENV1,ENV2")
	msg = retireRoute.ReplaceAllString(msg, "shiplog project register -f FILE --project $1 --retire $2")
	msg = emergency.ReplaceAllString(msg, "$1 emergency deployment (shiplog deploy ... --override REASON) passes $2")
	msg = useIt.ReplaceAllString(msg, "deploy with --override REASON")
	msg = unixAndTime.ReplaceAllStringFunc(msg, func(s string) string {
		return a.humanTime(unixAndTime.FindStringSubmatch(s)[1])
	})
	msg = rfc3339.ReplaceAllStringFunc(msg, a.humanTime)
	return strings.TrimSpace(timeFields.Replace(msg))
}

// humanTime shows an RFC 3339 time as when does: a local date and how far from now.
func (a *app) humanTime(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return a.when(t.Unix())
}

// durationHint suggests what a bare number given as a time probably meant: minutes.
func durationHint(s string) string {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 1_000_000_000 {
		return "; did you mean " + s + "m (minutes) or " + s + "h (hours)?"
	}
	return ""
}
