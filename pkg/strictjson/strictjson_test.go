package strictjson_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/pkg/shiplog"
	"github.com/shiplog/shiplog/pkg/strictjson"
)

type person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type request struct {
	ProjectID   string    `json:"project_id"`
	Description string    `json:"description,omitempty"`
	RequestedBy *person   `json:"requested_by,omitempty"`
	At          time.Time `json:"at"`
	Legacy      string    `json:"legacy_flag" strictjson:"ignored"`
}

// goisms are words of Go's encoding/json that mean nothing to the people who send the JSON.
var goisms = []string{"invalid character", "literal", "json:", "Go value", "struct", "unmarshal", "looking for beginning"}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty", ``, "payload: is empty; want an object with project_id, description, requested_by, at"},
		{"null", `null`, "payload: got JSON null, want an object with project_id"},
		{"an array", `[]`, "payload: got a JSON array, want an object"},
		{"a word", `nope`, `payload: not valid JSON: unexpected 'o' at byte 1, near "nope"`},
		{"a bad literal inside", `{"project_id": nul}`, `payload: not valid JSON: unexpected '}' at byte 18`},
		{"a trailing comma", `{"project_id": "p",}`, `payload: not valid JSON: unexpected '}' at byte 19`},
		{"truncated", `{"project_id": "p"`, "payload: the JSON ends too early"},
		{"trailing }", `{"project_id": "p"}}`, "payload: unexpected data after the JSON value, which ends at byte 19"},
		{"trailing ]", `{"project_id": "p"}]`, "payload: unexpected data after the JSON value"},
		{"trailing object", `{"project_id": "p"} {}`, "payload: unexpected data after the JSON value"},
		{"trailing word", `{"project_id": "p"} x`, "payload: unexpected data after the JSON value"},
		{"wrong type", `{"project_id": 5}`, "project_id: got a JSON number, want a string"},
		{"wrong nested type", `{"requested_by": {"id": true}}`, "requested_by.id: got a JSON boolean, want a string"},
		{"a bad time", `{"at": "yesterday"}`, "at: is not an RFC 3339 time"},
		{"unknown field, close", `{"project": "p"}`, `payload: unknown field "project"; did you mean project_id?`},
		{"unknown field, other case", `{"Project_ID": "p"}`, `payload: unknown field "Project_ID"; did you mean project_id?`},
		{"unknown field, far", `{"colour": "blue"}`, `payload: unknown field "colour"; the fields are project_id, description, requested_by, at`},
		{"unknown nested field", `{"requested_by": {"id": "a", "nmae": "A"}}`, "requested_by.nmae: unknown field; did you mean name?"},
		{"invalid UTF-8", "{\"description\": \"a \xff b\"}", "payload: is not valid UTF-8"},
		{"invalid UTF-8 in an unknown field", "{\"x\xc0\": 1}", "payload: is not valid UTF-8"},
		{"a lone high surrogate", `{"description": "a \ud800 b"}`, `payload: the escape \ud800 at byte 19 is half of a UTF-16 surrogate pair`},
		{"a lone low surrogate", `{"description": "\udc00"}`, `the escape \udc00`},
		{"a high surrogate before a non-surrogate", `{"description": "\ud83d\u0041"}`, `the escape \ud83d`},
		{"a lone surrogate in a key", `{"\ud800": 1}`, `the escape \ud800`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r request
			err := strictjson.Decode([]byte(tt.data), &r, strictjson.Options{Name: "payload"})
			if shiplog.KindOf(err) != shiplog.Invalid {
				t.Fatalf("Decode(%q): got %v, want an Invalid error", tt.data, err)
			}
			msg := shiplog.MessageOf(err)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("Decode(%q): got %q, want it to contain %q", tt.data, msg, tt.want)
			}
			for _, g := range goisms {
				if strings.Contains(msg, g) {
					t.Errorf("Decode(%q): message %q shows Go's wording %q", tt.data, msg, g)
				}
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	var r request
	data := `  {"project_id": "p", "legacy_flag": "x", "requested_by": {"id": "a"}, "at": "2026-11-20T09:15:02Z"}` + "\n"
	if err := strictjson.Decode([]byte(data), &r, strictjson.Options{Name: "payload"}); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if r.ProjectID != "p" || r.RequestedBy == nil || r.RequestedBy.ID != "a" || r.At.IsZero() {
		t.Errorf("Decode: got %+v", r)
	}
	// A surrogate pair is one character; an escaped backslash before "u" is no escape.
	var pair request
	if err := strictjson.Decode([]byte(`{"description": "\ud83d\ude80 \\ud800"}`), &pair, strictjson.Options{Name: "payload"}); err != nil {
		t.Errorf("Decode of a surrogate pair: %v", err)
	} else if pair.Description != "\U0001F680 \\ud800" {
		t.Errorf("Decode of a surrogate pair: got %q", pair.Description)
	}
	// AllowUnknown takes fields the type does not have, but never trailing data.
	var loose request
	if err := strictjson.Decode([]byte(`{"project_id": "p", "extra": 1}`), &loose, strictjson.Options{Name: "event", AllowUnknown: true}); err != nil {
		t.Errorf("Decode with AllowUnknown: %v", err)
	}
	if err := strictjson.Decode([]byte(`{"project_id": "p"}}`), &loose, strictjson.Options{Name: "event", AllowUnknown: true}); err == nil {
		t.Errorf("Decode with AllowUnknown of a trailing }: got no error")
	}
}

func TestUnknownFieldCause(t *testing.T) {
	var r request
	err := strictjson.Decode([]byte(`{"requested_by": {"id": "a", "emial": "x"}}`), &r, strictjson.Options{Name: "body", Path: "p"})
	var uf *strictjson.UnknownFieldError
	if !errors.As(err, &uf) {
		t.Fatalf("got %v, want an UnknownFieldError cause", err)
	}
	if uf.Path != "p.requested_by.emial" || uf.Field != "emial" {
		t.Errorf("got %+v, want path p.requested_by.emial", uf)
	}
}

// A repeated key means two things at once: encoding/json keeps the last, a reader of the text may
// see the first. Every decode refuses it, wherever it is and however loose the options.
func TestDecodeRefusesDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, data string
		o          strictjson.Options
		want       string
	}{
		{"top level", `{"project_id": "O", "project_id": "H"}`, strictjson.Options{Name: "payload"}, "project_id: appears twice"},
		{"same value", `{"project_id": "p", "project_id": "p"}`, strictjson.Options{Name: "payload"}, "project_id: appears twice"},
		{"escaped spelling", `{"project_id": "O", "project\u005fid": "H"}`, strictjson.Options{Name: "payload"}, "project_id: appears twice"},
		{"nested", `{"requested_by": {"id": "a", "id": "b"}}`, strictjson.Options{Name: "payload"}, "requested_by.id: appears twice"},
		{"under a path", `{"requested_by": {"name": "a", "name": "b"}}`, strictjson.Options{Name: "storage", Path: "storage"}, "storage.requested_by.name: appears twice"},
		{"an ignored field", `{"legacy_flag": "1", "legacy_flag": "2"}`, strictjson.Options{Name: "payload"}, "legacy_flag: appears twice"},
		{"an unknown field, allowed", `{"extra": 1, "extra": 2}`, strictjson.Options{Name: "event", AllowUnknown: true}, "extra: appears twice"},
		{"in an array, allowed", `{"project_id": "p", "extra": [{}, {"a": 1, "a": 1}]}`, strictjson.Options{Name: "event", AllowUnknown: true}, "extra[1].a: appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r request
			err := strictjson.Decode([]byte(tt.data), &r, tt.o)
			if shiplog.KindOf(err) != shiplog.Invalid {
				t.Fatalf("Decode(%q): got %v, want an Invalid error", tt.data, err)
			}
			if msg := shiplog.MessageOf(err); msg != tt.want {
				t.Errorf("Decode(%q): got %q, want %q", tt.data, msg, tt.want)
			}
		})
	}
	// Raw values and maps are decoded later, by parts: the key is refused in them too.
	var raw map[string]json.RawMessage
	err := strictjson.Decode([]byte(`{"storage": {"name": "a", "name": "b"}}`), &raw, strictjson.Options{Name: "manifest"})
	if got, want := shiplog.MessageOf(err), "storage.name: appears twice"; got != want {
		t.Errorf("Decode into map of raw values: got %q, want %q", got, want)
	}
	// The same key in two objects is no repetition.
	var ok request
	if err := strictjson.Decode([]byte(`{"requested_by": {"id": "a", "name": "A"}, "project_id": "id"}`), &ok, strictjson.Options{Name: "payload"}); err != nil {
		t.Errorf("Decode of distinct keys: %v", err)
	}
}
