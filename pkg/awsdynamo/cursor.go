package awsdynamo

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// A cursor is the key of the last item of a page (every key attribute is a string), as base64url
// JSON. It says where the next Query starts; it is not signed, so decodeCursor checks that it
// names a place in the list being read and nothing else.

func encodeCursor(m item, names []string) (string, error) {
	key := make(map[string]string, len(names))
	for _, n := range names {
		s, ok := m[n].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("encode cursor: key attribute %s is missing", n)
		}
		key[n] = s.Value
	}
	b, err := json.Marshal(key)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

var errBadCursor = shiplog.Errorf(shiplog.Invalid, "cursor: is not a cursor this service returned")

// decodeCursor returns the ExclusiveStartKey a cursor stands for: nil for "", Invalid unless it
// has exactly the attributes names and valid accepts their values.
func decodeCursor(cursor string, names []string, valid func(key map[string]string) bool) (item, error) {
	if cursor == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, errBadCursor
	}
	var key map[string]string
	if err := json.Unmarshal(b, &key); err != nil || len(key) != len(names) {
		return nil, errBadCursor
	}
	start := make(item, len(names))
	for _, n := range names {
		v, ok := key[n]
		if !ok || v == "" || len(v) > 1024 {
			return nil, errBadCursor
		}
		start[n] = str(v)
	}
	if !valid(key) {
		return nil, errBadCursor
	}
	return start, nil
}

// idAfter reports whether s is prefix followed by a non-empty id with no "#" in it.
func idAfter(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	return ok && rest != "" && !strings.Contains(rest, "#")
}
