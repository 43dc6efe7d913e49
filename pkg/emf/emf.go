// Package emf writes CloudWatch metrics in the Embedded Metric Format: one JSON object per line
// whose "_aws" member tells CloudWatch Logs which of its members are metrics, in which namespace
// and with which dimensions. A Lambda function writes them to stdout, Lambda sends them to the
// function's log group, and CloudWatch extracts the metrics: no API call, no client, no
// permission beyond the logs the function already writes.
//
// The format is AWS's "Specification: Embedded metric format"; Validate holds a line to it.
package emf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric shiplog writes.
const Namespace = "shiplog"

// Unit is a CloudWatch unit.
type Unit string

// The units shiplog's metrics use.
const (
	Count        Unit = "Count"
	Seconds      Unit = "Seconds"
	Milliseconds Unit = "Milliseconds"
)

// units are every unit CloudWatch accepts (the StandardUnit of PutMetricData).
var units = []Unit{"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
	"Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent",
	"Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
	"Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
	"Terabits/Second", "Count/Second", "None"}

// Metric is one value of one metric.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Point is one line: metrics that share dimensions. Dimensions are the dimension sets CloudWatch
// files each metric under (each set is a separate metric in CloudWatch, and a separate cost);
// Values holds every dimension's value, and may hold more members, which CloudWatch keeps in the
// log line only.
type Point struct {
	Dimensions [][]string
	Values     map[string]string
	Metrics    []Metric
}

// Writer writes Points as EMF lines. Its methods may be called at once from several goroutines.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// New returns a Writer to w (a Lambda function's stdout) on the real clock.
func New(w io.Writer) *Writer { return &Writer{w: w, now: time.Now} }

// NewAt is New on another clock, for tests.
func NewAt(w io.Writer, now func() time.Time) *Writer { return &Writer{w: w, now: now} }

// Write writes p as one line, or nothing and an error that says what is wrong with p.
func (w *Writer) Write(p Point) error {
	if w == nil {
		return nil
	}
	line, err := Encode(p, w.now())
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(line)
	return err
}

// Encode is p as an EMF line at time at, newline included, or an error that says what is wrong.
func Encode(p Point, at time.Time) ([]byte, error) {
	if len(p.Metrics) == 0 {
		return nil, errors.New("emf: a point needs a metric")
	}
	root := map[string]any{}
	for k, v := range p.Values {
		root[k] = v
	}
	defs := make([]map[string]string, 0, len(p.Metrics))
	for _, m := range p.Metrics {
		if _, dup := root[m.Name]; dup {
			return nil, fmt.Errorf("emf: metric %q is also a dimension or another metric of the point", m.Name)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return nil, fmt.Errorf("emf: metric %q: %v is not a number CloudWatch takes", m.Name, m.Value)
		}
		root[m.Name] = m.Value
		defs = append(defs, map[string]string{"Name": m.Name, "Unit": string(m.Unit)})
	}
	dims := p.Dimensions
	if dims == nil {
		dims = [][]string{}
	}
	root["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": Namespace, "Dimensions": dims, "Metrics": defs,
		}},
	}
	line, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("emf: %w", err)
	}
	if err := Validate(line); err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

// The specification's limits.
const (
	maxDimensionsPerSet = 30
	maxMetrics          = 100
	maxNameLength       = 255
	maxValueLength      = 1024
)

// Validate checks that line is one EMF object as AWS's specification has it: an "_aws" member
// with an integer Timestamp (milliseconds) and a CloudWatchMetrics array of directives, each with
// a Namespace, Dimensions (arrays of at most 30 names, each a string member of the object) and
// Metrics (at most 100, each naming a number member, with a unit CloudWatch knows). It answers
// the first problem it finds.
func Validate(line []byte) error {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return fmt.Errorf("emf: not a JSON object: %w", err)
	}
	raw, ok := root["_aws"]
	if !ok {
		return errors.New("emf: no _aws member")
	}
	var meta struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics *[]struct {
			Namespace  *string     `json:"Namespace"`
			Dimensions *[][]string `json:"Dimensions"`
			Metrics    *[]struct {
				Name *string `json:"Name"`
				Unit *string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("emf: _aws: %w", err)
	}
	if meta.Timestamp == nil {
		return errors.New("emf: _aws.Timestamp is required")
	}
	if ms, err := meta.Timestamp.Int64(); err != nil || ms < 0 {
		return fmt.Errorf("emf: _aws.Timestamp %s is not milliseconds since the epoch", *meta.Timestamp)
	}
	if meta.CloudWatchMetrics == nil {
		return errors.New("emf: _aws.CloudWatchMetrics is required")
	}
	str := func(name string) (string, bool) {
		var s string
		v, ok := root[name]
		return s, ok && json.Unmarshal(v, &s) == nil
	}
	for i, d := range *meta.CloudWatchMetrics {
		at := fmt.Sprintf("emf: _aws.CloudWatchMetrics[%d]", i)
		if d.Namespace == nil || *d.Namespace == "" || len(*d.Namespace) > maxNameLength {
			return fmt.Errorf("%s.Namespace must be 1 to %d characters", at, maxNameLength)
		}
		if d.Dimensions == nil {
			return fmt.Errorf("%s.Dimensions is required (it may be empty)", at)
		}
		for j, set := range *d.Dimensions {
			if len(set) > maxDimensionsPerSet {
				return fmt.Errorf("%s.Dimensions[%d] has %d dimensions, at most %d", at, j, len(set), maxDimensionsPerSet)
			}
			for _, name := range set {
				v, ok := str(name)
				if !ok {
					return fmt.Errorf("%s.Dimensions[%d]: dimension %q is not a string member of the object", at, j, name)
				}
				if v == "" || len(v) > maxValueLength {
					return fmt.Errorf("%s.Dimensions[%d]: dimension %q's value must be 1 to %d characters", at, j, name, maxValueLength)
				}
			}
		}
		if d.Metrics == nil || len(*d.Metrics) == 0 || len(*d.Metrics) > maxMetrics {
			return fmt.Errorf("%s.Metrics must list 1 to %d metrics", at, maxMetrics)
		}
		for _, m := range *d.Metrics {
			if m.Name == nil || *m.Name == "" || len(*m.Name) > maxNameLength {
				return fmt.Errorf("%s.Metrics: a name must be 1 to %d characters", at, maxNameLength)
			}
			var n float64
			v, ok := root[*m.Name]
			if !ok || json.Unmarshal(v, &n) != nil {
				return fmt.Errorf("%s.Metrics: metric %q is not a number member of the object", at, *m.Name)
			}
			if m.Unit != nil && !slices.Contains(units, Unit(*m.Unit)) {
				return fmt.Errorf("%s.Metrics: metric %q has unit %q, not a CloudWatch unit", at, *m.Name, *m.Unit)
			}
		}
	}
	return nil
}
