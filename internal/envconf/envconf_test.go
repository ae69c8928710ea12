package envconf_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/internal/envconf"
	"github.com/idvflow/idvflow/internal/temporalconn"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/worker"
)

func TestWorkerDefaults(t *testing.T) {
	var cfg worker.Config
	env := envconfig.MapLookuper(map[string]string{"PASSBASE_API_KEY": "k"})
	if err := envconf.Load(context.Background(), &cfg, env); err != nil {
		t.Fatal(err)
	}
	cfg.Temporal.Env, cfg.Temporal.DisableFile = temporalconn.EnvMap{}, true
	conn, err := cfg.Temporal.Connection()
	if err != nil {
		t.Fatal(err)
	}
	if conn.HostPort != "localhost:7233" || conn.Namespace != "default" || conn.ConnectionOptions.TLS != nil || cfg.TaskQueue != "idv-verification" ||
		cfg.AdminAddr != "127.0.0.1:8081" || cfg.Workflow.SessionExpiry.Hours() != 168 || cfg.Workflow.ProcessedGrace.Minutes() != 5 ||
		cfg.Workflow.DecisionPollAfter.Hours() != 1 || cfg.Workflow.LateEventWindow.Hours() != 24 || cfg.WorkflowConfig().Rules["veriff"].AwaitsProcessed {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestEveryProblemIsNamed(t *testing.T) {
	var cfg worker.Config
	env := envconfig.MapLookuper(map[string]string{
		"IDV_PROCESSED_GRACE":   "5 minutes",
		"IDV_SESSION_EXPIRY":    "-1h",
		"IDV_ADMIN_ADDR":        "0.0.0.0:8081",
		"VERIFF_API_KEY":        "key-without-secrets",
		"IDV_LATE_EVENT_WINDOW": "soon",
	})
	err := envconf.Load(context.Background(), &cfg, env)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"IDV_PROCESSED_GRACE", "IDV_SESSION_EXPIRY", "IDV_ADMIN_ADDR", "VERIFF_SHARED_SECRETS", "IDV_LATE_EVENT_WINDOW"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%s", name, err)
		}
	}
}

func TestReceiverRefusesBadSecretsWithoutEchoingThem(t *testing.T) {
	var cfg receiver.ServerConfig
	env := envconfig.MapLookuper(map[string]string{
		"PASSBASE_WEBHOOK_SECRETS": "too-short-secret",
		"IDV_SIGNAL_TIMEOUT":       "6s",
	})
	err := envconf.Load(context.Background(), &cfg, env)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"PASSBASE_WEBHOOK_SECRETS", "32", "IDV_SIGNAL_TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
	if strings.Contains(err.Error(), "too-short-secret") {
		t.Fatalf("error echoes the secret:\n%s", err)
	}
}

func TestReceiverRotationSecrets(t *testing.T) {
	var cfg receiver.ServerConfig
	env := envconfig.MapLookuper(map[string]string{
		"VERIFF_API_KEY":        "k",
		"VERIFF_SHARED_SECRETS": "old-secret-0123456789,new-secret-0123456789",
	})
	if err := envconf.Load(context.Background(), &cfg, env); err != nil {
		t.Fatal(err)
	}
	if vc := cfg.Providers.Get("veriff").(*veriff.Config); len(vc.SharedSecrets) != 2 || cfg.HTTPAddr != ":8080" || cfg.Receiver.MaxBodyBytes != 1<<20 {
		t.Fatalf("%+v", cfg)
	}
}

// docs/semantics.md R9: unencrypted Passbase bodies can never be switched on
// by accident: not next to secrets, not without an allowlist that excludes
// the internet.
func TestUnencryptedPassbaseIsNeverAnAccident(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef"
	for name, c := range map[string]struct {
		env  map[string]string
		want string
	}{
		"beside secrets": {map[string]string{"PASSBASE_ALLOW_UNENCRYPTED": "true", "PASSBASE_WEBHOOK_SECRETS": secret,
			"PASSBASE_ALLOWED_CIDRS": "10.0.0.0/8"}, "cannot go with PASSBASE_WEBHOOK_SECRETS"},
		"without an allowlist": {map[string]string{"PASSBASE_ALLOW_UNENCRYPTED": "true"}, "needs PASSBASE_ALLOWED_CIDRS"},
		"with a catch-all":     {map[string]string{"PASSBASE_ALLOW_UNENCRYPTED": "true", "PASSBASE_ALLOWED_CIDRS": "0.0.0.0/0"}, "admits every address"},
	} {
		t.Run(name, func(t *testing.T) {
			var cfg receiver.ServerConfig
			err := envconf.Load(context.Background(), &cfg, envconfig.MapLookuper(c.env))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	var cfg receiver.ServerConfig
	env := map[string]string{"PASSBASE_ALLOW_UNENCRYPTED": "true", "PASSBASE_ALLOWED_CIDRS": "10.0.0.0/8"}
	if err := envconf.Load(context.Background(), &cfg, envconfig.MapLookuper(env)); err != nil {
		t.Fatalf("unencrypted behind an allowlist must be allowed: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.env")
	if err := os.WriteFile(path, []byte("TEMPORAL_ADDRESS=127.0.0.1:7233\r\nIDV_CLUSTER_DATABASE_URL=postgres://u:p@h/db?sslmode=disable\n\nnot a variable\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := envconf.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:7233", "IDV_CLUSTER_DATABASE_URL": "postgres://u:p@h/db?sslmode=disable"}
	if !maps.Equal(env, want) {
		t.Fatalf("%v, want %v", env, want)
	}
	if _, err := envconf.ReadFile(filepath.Join(t.TempDir(), "missing.env")); err == nil {
		t.Fatal("a missing file read without an error")
	}
}

// deploy/env.example's placeholders never start a stack: every secret in
// it is refused at start by the binary that reads it, naming the variable,
// never the value.
func TestEnvExamplePlaceholdersAreRefused(t *testing.T) {
	env, err := envconf.ReadFile(filepath.Join("..", "..", "deploy", "env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env["IDV_DATABASE_URL"] = "sqlite::memory:"
	var w worker.Config
	werr := envconf.Load(context.Background(), &w, envconfig.MapLookuper(env))
	var r receiver.ServerConfig
	rerr := envconf.Load(context.Background(), &r, envconfig.MapLookuper(env))
	for _, c := range []struct {
		err  error
		vars []string
	}{
		{werr, []string{"IDV_ADMIN_TOKEN", "IDV_PAYLOAD_KEYS", "VERIFF_SHARED_SECRETS", "VERIFF_API_KEY", "PASSBASE_WEBHOOK_SECRETS", "PASSBASE_API_KEY"}},
		{rerr, []string{"IDV_PAYLOAD_KEYS", "VERIFF_SHARED_SECRETS", "PASSBASE_WEBHOOK_SECRETS"}},
	} {
		if c.err == nil {
			t.Fatal("env.example's placeholders were accepted")
		}
		for _, v := range c.vars {
			if !strings.Contains(c.err.Error(), v) {
				t.Errorf("error lacks %s:\n%s", v, c.err)
			}
		}
		for k, v := range env {
			if (strings.Contains(k, "SECRET") || strings.Contains(k, "TOKEN") || strings.Contains(k, "KEY")) && strings.Contains(c.err.Error(), v) {
				t.Fatalf("the error echoes %s's value:\n%s", k, c.err)
			}
		}
	}
}
