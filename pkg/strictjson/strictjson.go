// Package strictjson is the one JSON decoder of shiplog's inputs (manifests, HTTP API bodies and
// direct-invocation payloads), and the one describer of what is wrong with them: exactly one JSON
// value, no trailing data, no key repeated in one object, no unknown fields (named with their
// path and, where one is close, the field meant), and messages in the input's terms, never Go's.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Options say where a value comes from and how strict to be.
type Options struct {
	// Name is what errors about the whole value call it: "request body", "payload", "storage".
	Name string
	// Path prefixes the paths of fields in errors: "" names top-level fields bare (release_id),
	// "storage" gives storage.environments[0].id.
	Path string
	// AllowUnknown accepts fields the target type does not have, for events whose producer adds
	// fields over time. Trailing data is refused all the same.
	AllowUnknown bool
}

// IgnoredTag marks a struct field as another tool's: accepted and discarded, and left out of the
// field lists and suggestions in messages. Write it as `strictjson:"ignored"`.
const IgnoredTag = "ignored"

// UnknownFieldError is the cause of the Invalid error for a field the target does not have.
type UnknownFieldError struct {
	Path  string // the field's path, e.g. "storage.tag_deployed_image"
	Field string // the field's own name, e.g. "tag_deployed_image"
	Meant string // the close field name, if any, e.g. "tag_deployed_images"
}

func (e *UnknownFieldError) Error() string { return "unknown field " + e.Path }

// Decode decodes data, which must be exactly one JSON value, into v (a pointer). Every error is a
// shiplog Invalid error whose message names the field and says what is wrong.
func Decode(data []byte, v any, o Options) error {
	t := reflect.TypeOf(v).Elem()
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return shiplog.Errorf(shiplog.Invalid, "%s: is empty; want %s", o.Name, Want(t))
	}
	if isObjectType(t) && trimmed[0] != '{' && json.Valid(trimmed) {
		return shiplog.Errorf(shiplog.Invalid, "%s: got %s, want %s", o.Name, valueKind(trimmed), Want(t))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return shiplog.Errorf(shiplog.Invalid, "%s", describe(data, err, o, t))
	}
	end := dec.InputOffset()
	// Token, not More: More reports false for a stray "}" or "]", which would then be accepted.
	if _, err := dec.Token(); err != io.EOF {
		return shiplog.Errorf(shiplog.Invalid, "%s: unexpected data after the JSON value, which ends at byte %d", o.Name, end)
	}
	// encoding/json turns invalid UTF-8 and unpaired surrogate escapes into U+FFFD: the value
	// stored would not be the one sent.
	if !utf8.Valid(data) {
		return shiplog.Errorf(shiplog.Invalid, "%s: is not valid UTF-8", o.Name)
	}
	if esc, at := loneSurrogate(data); at >= 0 {
		return shiplog.Errorf(shiplog.Invalid, "%s: the escape %s at byte %d is half of a UTF-16 surrogate pair, which is no character", o.Name, esc, at)
	}
	if key := repeatedKey(data, o.Path); key != "" {
		return shiplog.Errorf(shiplog.Invalid, "%s: appears twice", key)
	}
	if o.AllowUnknown {
		return nil
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return shiplog.Errorf(shiplog.Invalid, "%s", describe(data, err, o, t))
	}
	if uf := unknownField(t, tree, o.Path); uf != nil {
		msg := uf.Path + ": unknown field"
		if o.Path == "" && !strings.ContainsAny(uf.Path, ".[") {
			msg = fmt.Sprintf("%s: unknown field %q", o.Name, uf.Field)
		}
		if uf.Meant != "" {
			msg += "; did you mean " + uf.Meant + "?"
		} else if fields := fieldsAt(t, uf.Path, o.Path); len(fields) > 0 {
			msg += "; the fields are " + strings.Join(fields, ", ")
		}
		return shiplog.Wrap(shiplog.Invalid, uf, "%s", msg)
	}
	return nil
}

// repeatedKey returns the path of the first key that appears twice in one object of data (valid
// JSON), or "". encoding/json keeps the last of them while a person, or another tool, may read the
// first: the input would mean two things. Keys are compared as decoded, so "a" and "\u0061" are
// one key.
func repeatedKey(data []byte, root string) string {
	type object struct {
		path string
		seen map[string]bool
		key  string // the key whose value comes next
	}
	type array struct {
		path string
		n    int
	}
	var stack []any // *object or *array
	// pathOfValue is the path of the value about to be read.
	pathOfValue := func() string {
		if len(stack) == 0 {
			return root
		}
		switch c := stack[len(stack)-1].(type) {
		case *object:
			return join(c.path, c.key)
		case *array:
			return fmt.Sprintf("%s[%d]", c.path, c.n)
		}
		return root
	}
	// valueDone moves the enclosing container past a value.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		switch c := stack[len(stack)-1].(type) {
		case *object:
			c.key = ""
		case *array:
			c.n++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF: Decode has already refused anything else
			return ""
		}
		if len(stack) > 0 {
			if o, ok := stack[len(stack)-1].(*object); ok && o.key == "" {
				if k, ok := tok.(string); ok {
					if o.seen[k] {
						return join(o.path, k)
					}
					o.seen[k] = true
					o.key = k
					continue
				}
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{path: pathOfValue(), seen: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &array{path: pathOfValue()})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// loneSurrogate returns the first \uXXXX escape of data (valid JSON) that is a UTF-16 surrogate
// without its other half, and its offset; -1 if there is none.
func loneSurrogate(data []byte) (string, int) {
	hexAt := func(i int) (rune, bool) {
		if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			r, ok := hexAt(i)
			if !ok {
				i++ // a one-character escape
				continue
			}
			switch {
			case 0xD800 <= r && r <= 0xDBFF:
				if lo, ok := hexAt(i + 6); ok && 0xDC00 <= lo && lo <= 0xDFFF {
					i += 11
					continue
				}
				return string(data[i : i+6]), i
			case 0xDC00 <= r && r <= 0xDFFF:
				return string(data[i : i+6]), i
			}
			i += 5
		}
	}
	return "", -1
}

func isObjectType(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage || reflect.PointerTo(t).Implements(unmarshaler) {
		return false
	}
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Map
}

// valueKind names the kind of JSON value data starts with, for "got ..." messages.
func valueKind(data []byte) string {
	switch data[0] {
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "JSON null"
	case '{':
		return "a JSON object"
	}
	if data[0] == '-' || (data[0] >= '0' && data[0] <= '9') {
		return "a JSON number"
	}
	return "something that is not JSON"
}

var (
	rawMessage  = reflect.TypeOf(json.RawMessage(nil))
	unmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

// describe turns an error of encoding/json into words for a person.
func describe(data []byte, err error, o Options, t reflect.Type) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		got := "a JSON " + jsonValueName(te.Value)
		if te.Value == "null" {
			got = "JSON null"
		}
		if te.Field == "" {
			return fmt.Sprintf("%s: got %s, want %s", o.Name, got, Want(te.Type))
		}
		return fmt.Sprintf("%s: got %s, want %s", join(o.Path, te.Field), got, Want(te.Type))
	case errors.As(err, &se):
		if strings.HasPrefix(se.Error(), "unexpected end") || se.Offset > int64(len(data)) {
			return o.Name + ": the JSON ends too early"
		}
		at := max(se.Offset-1, 0)
		return fmt.Sprintf("%s: not valid JSON: unexpected %q at byte %d, near %q", o.Name, data[at], at, near(data, at))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return o.Name + ": the JSON ends too early"
	case strings.HasPrefix(err.Error(), "parsing time "), strings.Contains(err.Error(), "Time.UnmarshalJSON"):
		// time.Time's own errors name Go, not the input, and not the field.
		if name := timeField(t); name != "" {
			return join(o.Path, name) + ": is not an RFC 3339 time"
		}
		return o.Name + ": a time is not an RFC 3339 time"
	}
	return fmt.Sprintf("%s: is not %s", o.Name, Want(t))
}

// timeField returns the name of struct t's one time.Time field, or "".
func timeField(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	name := ""
	for _, f := range fields(t) {
		if f.typ.String() == "time.Time" {
			if name != "" {
				return ""
			}
			name = f.name
		}
	}
	return name
}

func jsonValueName(v string) string {
	switch {
	case v == "bool":
		return "boolean"
	case strings.HasPrefix(v, "number"):
		return "number"
	}
	return v
}

func near(data []byte, at int64) string {
	from, to := max(at-10, 0), min(at+10, int64(len(data)))
	return string(data[from:to])
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	if strings.HasPrefix(field, "[") {
		return path + field
	}
	return path + "." + field
}

// Want says, in JSON's terms, what a value of type t must be.
func Want(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == rawMessage:
		return "a JSON value"
	case t.String() == "time.Time":
		return "an RFC 3339 time"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map:
		return "an object"
	case reflect.Struct:
		if fs := fieldNames(t); len(fs) > 0 {
			return "an object with " + strings.Join(fs, ", ")
		}
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a JSON value"
}

type field struct {
	name    string
	typ     reflect.Type
	ignored bool
}

// fields lists the JSON fields of struct type t, those of embedded structs included.
func fields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, fields(ft)...)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{name: name, typ: f.Type, ignored: f.Tag.Get("strictjson") == IgnoredTag})
	}
	return out
}

// fieldNames lists the names of t's own fields (not other tools'), in declaration order.
func fieldNames(t reflect.Type) []string {
	var out []string
	for _, f := range fields(t) {
		if !f.ignored {
			out = append(out, f.name)
		}
	}
	return out
}

// unknownField walks the decoded tree alongside t and returns the first field, in key order, that
// t has no place for.
func unknownField(t reflect.Type, v any, path string) *UnknownFieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		fs := fields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			i := indexOf(fs, k)
			if i < 0 {
				return &UnknownFieldError{Path: join(path, k), Field: k, Meant: closest(k, fieldNames(t))}
			}
			if uf := unknownField(fs[i].typ, obj[k], join(path, k)); uf != nil {
				return uf
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if uf := unknownField(t.Elem(), obj[k], join(path, k)); uf != nil {
				return uf
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, e := range arr {
			if uf := unknownField(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i)); uf != nil {
				return uf
			}
		}
	}
	return nil
}

func indexOf(fs []field, name string) int {
	for i, f := range fs {
		if f.name == name {
			return i
		}
	}
	return -1
}

// fieldsAt returns the field names of the struct that holds the field at path, for messages.
func fieldsAt(t reflect.Type, path, root string) []string {
	rest := strings.TrimPrefix(path, root)
	rest = strings.TrimPrefix(rest, ".")
	parts := splitPath(rest)
	for _, p := range parts[:max(len(parts)-1, 0)] {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case strings.HasPrefix(p, "["):
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return nil
			}
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			fs := fields(t)
			i := indexOf(fs, p)
			if i < 0 {
				return nil
			}
			t = fs[i].typ
		case t.Kind() == reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return fieldNames(t)
}

// splitPath splits "a.b[2].c" into a, b, [2], c.
func splitPath(p string) []string {
	var out []string
	for _, dotted := range strings.Split(p, ".") {
		for dotted != "" {
			i := strings.IndexByte(dotted[1:], '[')
			if i < 0 {
				out = append(out, dotted)
				break
			}
			out = append(out, dotted[:i+1])
			dotted = dotted[i+1:]
		}
	}
	return out
}

// closest returns the candidate a mistyped name most likely meant, or "" if none is close: a
// difference of one or two edits (a third of the name's length, for long names), or a difference
// only of case.
func closest(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
		d := distance(strings.ToLower(name), strings.ToLower(c))
		if d <= max(2, len(c)/3) && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
