package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Problem is one thing wrong in a manifest: what (Message, which begins with the field's path, as
// "storage.environments[1].id: ...") and where (Line and Column, from 1, of the field's value
// or key; 0 when the manifest is not JSON enough to say).
type Problem struct {
	Path         string
	Message      string
	Line, Column int
}

// String shows the problem as compilers do: "LINE:COLUMN: MESSAGE".
func (p Problem) String() string {
	if p.Line == 0 {
		return p.Message
	}
	return fmt.Sprintf("%d:%d: %s", p.Line, p.Column, p.Message)
}

// Problems is every problem Parse found, in the order of the file. Its message (Error, and
// shiplog.MessageOf) lists them all, separated by "; "; its kind is Invalid.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, "; ")
}

// ProblemsOf returns the problems of an error Parse or ParseProject returned, nil if it has none.
func ProblemsOf(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	return nil
}

// collector gathers the problems of one document, locating each.
type collector struct {
	data  []byte
	index map[string]int // path -> byte offset of its key (or, for array elements, its value)
	probs Problems
}

func newCollector(data []byte, root string) *collector {
	c := &collector{data: data, index: map[string]int{}}
	dec := json.NewDecoder(bytes.NewReader(data))
	c.walk(dec, root, 0)
	return c
}

// maxIndexDepth is how deep the index of positions goes. A manifest nests a few levels; a body
// nested thousands deep (hostile input) would otherwise build a path per level, each as long as
// its depth: memory in the square of the depth. Below it problems are still found, by the
// decoder, only named without a line and column.
const maxIndexDepth = 32

// skipSpace returns the offset of the first byte at or after i that is not white space, ',' or ':'.
func (c *collector) skipSpace(i int) int {
	for i < len(c.data) && strings.IndexByte(" \t\r\n,:", c.data[i]) >= 0 {
		i++
	}
	return i
}

// walk indexes the value at the decoder's position under path, and everything in it.
func (c *collector) walk(dec *json.Decoder, path string, depth int) bool {
	if depth > maxIndexDepth {
		return false
	}
	start := c.skipSpace(int(dec.InputOffset()))
	if _, ok := c.index[path]; !ok && path != "" {
		c.index[path] = start
	}
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			keyAt := c.skipSpace(int(dec.InputOffset()))
			k, err := dec.Token()
			if err != nil {
				return false
			}
			key, _ := k.(string)
			child := key
			if path != "" {
				child = path + "." + key
			}
			if _, ok := c.index[child]; !ok {
				c.index[child] = keyAt
			}
			if !c.walk(dec, child, depth+1) {
				return false
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if !c.walk(dec, fmt.Sprintf("%s[%d]", path, i), depth+1) {
				return false
			}
		}
		_, _ = dec.Token()
	}
	return true
}

var (
	atByte    = regexp.MustCompile(`at byte (\d+)`)
	lastField = regexp.MustCompile(`(\.[^.\[]+|\[\d+\])$`)
)

// add records err's message as a problem, located by the path it begins with.
func (c *collector) add(err error) {
	if err == nil {
		return
	}
	if ps := ProblemsOf(err); ps != nil {
		c.probs = append(c.probs, ps...)
		return
	}
	msg := shiplog.MessageOf(err)
	path, _, _ := strings.Cut(msg, ": ")
	p := Problem{Path: path, Message: msg}
	off := -1
	for q := path; q != ""; q = lastField.ReplaceAllString(q, "") {
		if at, ok := c.index[q]; ok {
			off = at
			break
		}
		if !lastField.MatchString(q) {
			break
		}
	}
	if m := atByte.FindStringSubmatch(msg); m != nil && (path == "manifest" || off < 0) {
		off, _ = strconv.Atoi(m[1])
	}
	if off >= 0 {
		p.Line, p.Column = position(c.data, off)
	}
	c.probs = append(c.probs, p)
}

// err returns the problems as an Invalid error, or nil.
func (c *collector) err() error {
	if len(c.probs) == 0 {
		return nil
	}
	return shiplog.Wrap(shiplog.Invalid, c.probs, "%s", c.probs.Error())
}

// position returns the line and column (from 1, in bytes) of offset off of data.
func position(data []byte, off int) (line, col int) {
	off = min(off, len(data))
	line = 1 + bytes.Count(data[:off], []byte("\n"))
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
