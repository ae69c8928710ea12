// Package envconf loads a config struct from the environment with
// go-envconfig and reports every bad variable at once, not only the first,
// so an operator fixes a deployment in one round.
package envconf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sethvargo/go-envconfig"
)

// Validator is implemented by config structs with rules beyond parsing.
type Validator interface {
	Validate() []error
}

// Expander is implemented by config structs with variables whose names
// depend on other variables' values (one set per integration). Expand runs
// after the struct is loaded and before Validate.
type Expander interface {
	Expand(ctx context.Context, lookup envconfig.Lookuper) []error
}

// Load fills target (a pointer to a struct with `env` tags) from lookup,
// or from the process environment when lookup is nil. A variable that does
// not parse is reported by name and left at its default so the rest can be
// checked too; then target's Validate, if any, runs.
func Load(ctx context.Context, target any, lookup envconfig.Lookuper) error {
	if lookup == nil {
		lookup = envconfig.OsLookuper()
	}
	errs := Fill(ctx, target, lookup)
	if e, ok := target.(Expander); ok {
		errs = append(errs, e.Expand(ctx, lookup)...)
	}
	if v, ok := target.(Validator); ok {
		errs = append(errs, v.Validate()...)
	}
	if len(errs) > 0 {
		return &Error{Errs: errs}
	}
	return nil
}

// Fill is Load's first step: it fills target from lookup and returns an
// error per variable that does not parse, leaving it at its default.
func Fill(ctx context.Context, target any, lookup envconfig.Lookuper) []error {
	rec := &recorder{next: lookup, hidden: map[string]bool{}}
	var errs []error
	// Each failed pass names one variable; hide it and try again. The number
	// of passes is bounded by the number of variables.
	for {
		err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: target, Lookuper: rec})
		if err == nil {
			break
		}
		if rec.last == "" || rec.hidden[rec.last] {
			errs = append(errs, err)
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", rec.last, unwrapField(err)))
		rec.hidden[rec.last] = true
	}
	return errs
}

// Error lists every problem found in the environment.
type Error struct{ Errs []error }

func (e *Error) Error() string {
	lines := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		lines[i] = "  - " + err.Error()
	}
	return "configuration is invalid:\n" + strings.Join(lines, "\n")
}

func (e *Error) Unwrap() []error { return e.Errs }

// unwrapField drops envconfig's "FieldName: " prefix; the variable name is
// what an operator knows.
func unwrapField(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// recorder remembers the last variable looked up (the one whose value
// failed to parse) and hides variables already reported.
type recorder struct {
	next   envconfig.Lookuper
	last   string
	hidden map[string]bool
}

func (r *recorder) Lookup(key string) (string, bool) {
	r.last = key
	if r.hidden[key] {
		return "", false
	}
	return r.next.Lookup(key)
}

// Required returns an error for each named variable whose value is empty.
func Required(pairs ...string) []error {
	var errs []error
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			errs = append(errs, fmt.Errorf("%s is required", pairs[i]))
		}
	}
	return errs
}

// ReadFile reads a file of KEY=value lines, as deploy/local-cluster.sh
// writes its stack's variables (no quoting, no comments); the cluster test
// and the load tool read it.
func ReadFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\r"), "="); ok {
			env[k] = v
		}
	}
	return env, nil
}
