package shiplog

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds of error. Anything that is not a *Error is Internal.
const (
	Internal    Kind = iota // a fault of ours or of a dependency; details are logged, not shown
	Invalid                 // the request is malformed or names something in the wrong form
	NotFound                // the request names something that does not exist
	Conflict                // the request is well formed but the current state forbids it
	Unavailable             // a dependency is throttling or down; the same request may succeed later
	Forbidden               // the caller may not do this on its channel; an operator grants it, not a better request
)

var kindNames = [...]string{
	Internal:    "Internal",
	Invalid:     "Invalid",
	NotFound:    "NotFound",
	Conflict:    "Conflict",
	Unavailable: "Unavailable",
	Forbidden:   "Forbidden",
}

// String returns the kind's name, which is also the errorType a Lambda caller sees.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return kindNames[Internal]
	}
	return kindNames[k]
}

// Kinds lists every kind, for tables that map them to transports.
func Kinds() []Kind { return []Kind{Internal, Invalid, NotFound, Conflict, Unavailable, Forbidden} }

// Error is shiplog's error type: a kind, a message a person can act on, and an optional cause.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Err != nil:
		return e.Message + ": " + e.Err.Error()
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Kind.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of the given kind that keeps err as its cause.
func Wrap(kind Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// MessageOf returns what a caller may be shown about err. Internal errors get a generic message
// so that no detail of our dependencies leaks; their cause is for the logs.
func MessageOf(err error) string {
	var e *Error
	if !errors.As(err, &e) || e.Kind == Internal {
		return "internal error"
	}
	if e.Message != "" {
		return e.Message
	}
	return e.Error()
}

// IsKind reports whether err is a shiplog error of kind k.
func IsKind(err error, k Kind) bool { return err != nil && KindOf(err) == k }
