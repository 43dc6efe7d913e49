package emf

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteIsTheSpecsShape(t *testing.T) {
	var buf bytes.Buffer
	at := time.UnixMilli(1796592000123)
	w := NewAt(&buf, func() time.Time { return at })
	err := w.Write(Point{
		Dimensions: [][]string{{"Project", "Environment"}, {"Environment"}},
		Values:     map[string]string{"Project": "storage", "Environment": "prod", "DeploymentId": "01J"},
		Metrics:    []Metric{{Name: "DeploymentsFailed", Unit: Count, Value: 1}, {Name: "LeadTime", Unit: Seconds, Value: 5400}},
	})
	if err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("want one line ending in a newline, got %q", line)
	}
	var got any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"_aws": map[string]any{
			"Timestamp": float64(1796592000123),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "shiplog",
				"Dimensions": []any{[]any{"Project", "Environment"}, []any{"Environment"}},
				"Metrics": []any{
					map[string]any{"Name": "DeploymentsFailed", "Unit": "Count"},
					map[string]any{"Name": "LeadTime", "Unit": "Seconds"},
				},
			}},
		},
		"Project": "storage", "Environment": "prod", "DeploymentId": "01J",
		"DeploymentsFailed": float64(1), "LeadTime": float64(5400),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("line (-want +got):\n%s", diff)
	}
	if err := Validate([]byte(line)); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestWriteRefusesWhatCloudWatchWouldDrop(t *testing.T) {
	tests := map[string]Point{
		"no metric":                 {Values: map[string]string{"Project": "p"}},
		"dimension without a value": {Dimensions: [][]string{{"Project"}}, Metrics: []Metric{{Name: "Deployments", Unit: Count, Value: 1}}},
		"empty dimension value":     {Dimensions: [][]string{{"Project"}}, Values: map[string]string{"Project": ""}, Metrics: []Metric{{Name: "Deployments", Unit: Count, Value: 1}}},
		"metric named as dimension": {Dimensions: [][]string{{"Project"}}, Values: map[string]string{"Project": "p"}, Metrics: []Metric{{Name: "Project", Unit: Count, Value: 1}}},
		"not a number":              {Metrics: []Metric{{Name: "LeadTime", Unit: Seconds, Value: math.NaN()}}},
		"unknown unit":              {Metrics: []Metric{{Name: "LeadTime", Unit: "Fortnights", Value: 1}}},
		"empty metric name":         {Metrics: []Metric{{Name: "", Unit: Count, Value: 1}}},
	}
	for name, p := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := New(&buf).Write(p); err == nil {
				t.Errorf("no error; wrote %q", buf.String())
			} else if buf.Len() != 0 {
				t.Errorf("error %v, yet wrote %q", err, buf.String())
			}
		})
	}
}

func TestValidateFindsEachBreach(t *testing.T) {
	good := `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"shiplog","Dimensions":[["Environment"]],"Metrics":[{"Name":"Deployments","Unit":"Count"}]}]},"Environment":"prod","Deployments":1}`
	if err := Validate([]byte(good)); err != nil {
		t.Fatalf("a good line: %v", err)
	}
	tests := map[string]struct{ line, want string }{
		"not JSON":              {`{"_aws":`, "not a JSON object"},
		"no _aws":               {`{"Deployments":1}`, "no _aws member"},
		"no timestamp":          {`{"_aws":{"CloudWatchMetrics":[]}}`, "Timestamp is required"},
		"timestamp not integer": {`{"_aws":{"Timestamp":1.5,"CloudWatchMetrics":[]}}`, "not milliseconds"},
		"no directives":         {`{"_aws":{"Timestamp":1}}`, "CloudWatchMetrics is required"},
		"no namespace":          {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[],"Metrics":[{"Name":"D"}]}]},"D":1}`, "Namespace must be"},
		"no dimensions":         {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Metrics":[{"Name":"D"}]}]},"D":1}`, "Dimensions is required"},
		"dimension missing":     {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["E"]],"Metrics":[{"Name":"D"}]}]},"D":1}`, `dimension "E" is not a string member`},
		"dimension a number":    {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["E"]],"Metrics":[{"Name":"D"}]}]},"D":1,"E":2}`, `dimension "E" is not a string member`},
		"no metrics":            {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[]}]}}`, "Metrics must list"},
		"metric missing":        {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"D"}]}]}}`, `metric "D" is not a number member`},
		"metric a string":       {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"D"}]}]},"D":"1"}`, `metric "D" is not a number member`},
		"bad unit":              {`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"D","Unit":"Hours"}]}]},"D":1}`, `unit "Hours"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := Validate([]byte(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	// 31 dimensions in a set.
	var names []string
	values := map[string]any{}
	for i := range 31 {
		n := string(rune('A'+i%26)) + strings.Repeat("x", i/26)
		names = append(names, n)
		values[n] = "v"
	}
	values["D"] = 1
	values["_aws"] = map[string]any{"Timestamp": 1, "CloudWatchMetrics": []any{map[string]any{"Namespace": "n", "Dimensions": [][]string{names}, "Metrics": []any{map[string]any{"Name": "D"}}}}}
	line, _ := json.Marshal(values)
	if err := Validate(line); err == nil || !strings.Contains(err.Error(), "at most 30") {
		t.Errorf("31 dimensions: got %v, want at most 30", err)
	}
}
