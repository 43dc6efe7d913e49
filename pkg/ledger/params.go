package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// Parameters is a shiplog.ParameterStore on a driver that holds parameters (Caps.Parameters): the
// embedded stores', whose deploys write parameters in the same atomic write as their record.
type Parameters struct{ l *Ledger }

var _ shiplog.ParameterStore = Parameters{}

// Parameters returns the ledger's parameter store; its driver must hold parameters.
func (l *Ledger) Parameters() Parameters { return Parameters{l: l} }

// GetParameter returns a parameter's value; NotFound if there is none.
func (p Parameters) GetParameter(ctx context.Context, name string) (string, error) {
	return getRecord(ctx, p.l, paramKey(name), func(r paramRecord) string { return r.Value },
		shiplog.Errorf(shiplog.NotFound, "parameter %s does not exist", name))
}

// GetParameters returns the values of those of names that exist.
func (p Parameters) GetParameters(ctx context.Context, names []string) (map[string]string, error) {
	keys := make([]Key, len(names))
	for i, n := range names {
		keys[i] = paramKey(n)
	}
	got, err := p.l.d.BatchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("get parameters: %w", err)
	}
	out := make(map[string]string, len(got))
	for _, n := range names {
		if it, ok := got[paramKey(n)]; ok {
			var rec paramRecord
			if err := it.Decode(&rec); err != nil {
				return nil, err
			}
			out[n] = rec.Value
		}
	}
	return out, nil
}

// GetParametersByPath returns the parameters directly under path, as SSM's non-recursive
// GetParametersByPath does; a path without its final "/" gets one, as in SSM.
func (p Parameters) GetParametersByPath(ctx context.Context, path string) (map[string]string, error) {
	out := map[string]string{}
	if path == "" {
		return out, nil
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	items, err := p.l.d.Query(ctx, Query{Table: Params, PK: path})
	if err != nil {
		return nil, fmt.Errorf("get parameters by path %s: %w", path, err)
	}
	for _, it := range items {
		var rec paramRecord
		if err := it.Decode(&rec); err != nil {
			return nil, err
		}
		out[path+it.Key.SK] = rec.Value
	}
	return out, nil
}

// PutParameters sets every parameter in one atomic write.
func (p Parameters) PutParameters(ctx context.Context, params map[string]string) error {
	if len(params) == 0 {
		return nil
	}
	ops := make([]Op, 0, len(params))
	for _, name := range sortedKeys(params) {
		if name == "" {
			return shiplog.Errorf(shiplog.Invalid, "parameter name: is required")
		}
		ops = append(ops, put(paramKey(name), paramRecord{Value: params[name]}))
	}
	if err := p.l.d.Write(ctx, ops); err != nil {
		return fmt.Errorf("put parameters: %w", err)
	}
	return nil
}
