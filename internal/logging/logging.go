// Package logging builds the slog logger every binary uses.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Config selects the log format and level.
type Config struct {
	Format string `env:"IDV_LOG_FORMAT, default=text"`
	Level  string `env:"IDV_LOG_LEVEL, default=info"`
}

// Validate implements envconf.Validator.
func (c Config) Validate() []error {
	var errs []error
	if c.Format != "text" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("IDV_LOG_FORMAT must be text or json, got %q", c.Format))
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); err != nil {
		errs = append(errs, fmt.Errorf("IDV_LOG_LEVEL must be debug, info, warn or error, got %q", c.Level))
	}
	return errs
}

// New returns a logger writing to w.
func New(c Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToLower(c.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
