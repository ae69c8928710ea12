package worker_test

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/worker"
)

// R11: the worker's onboarding steps come from its configuration, in the
// order they run; with none, no change is handed over and so no
// onboarding run starts.
func TestPlanAndHandOver(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    worker.Config
		steps  []string
		handed bool
	}{
		{"nothing configured", worker.Config{}, nil, false},
		{"notify", worker.Config{NotifyURL: "https://app.example/hooks", NotifySecret: "whsec_bm90aWZ5LXNlY3JldC1ub3RpZnktc2VjcmV0LTAxMjM="},
			[]string{onboarding.StepNotify}, true},
		{"review gate only", worker.Config{ReviewStatuses: []string{"approved"}}, []string{onboarding.StepReview}, true},
		{"both: the gate first", worker.Config{NotifyURL: "https://app.example/hooks", NotifySecret: "whsec_bm90aWZ5LXNlY3JldC1ub3RpZnktc2VjcmV0LTAxMjM=",
			ReviewStatuses: []string{"approved"}}, []string{onboarding.StepReview, onboarding.StepNotify}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.cfg.Plan().Steps; !slices.Equal(got, c.steps) {
				t.Fatalf("steps %q, want %q", got, c.steps)
			}
			a := worker.NewActivities(&c.cfg, nil, nil, slog.New(slog.DiscardHandler))
			if (a.Onboarding != nil) != c.handed {
				t.Fatalf("onboarding %v, want handed over: %v", a.Onboarding, c.handed)
			}
		})
	}
}

// The review gate takes final statuses only, and a versioned worker needs
// both its deployment and its build id.
func TestOnboardingAndVersioningSettings(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  worker.Config
		want string
	}{
		{"a review gate on a non-final status", worker.Config{ReviewStatuses: []string{"review"}}, "IDV_REVIEW_STATUSES"},
		{"a build id without a deployment", worker.Config{BuildID: "v2"}, "IDV_WORKER_DEPLOYMENT and IDV_WORKER_BUILD_ID"},
		{"a deployment without a build id", worker.Config{Deployment: "idvflow"}, "IDV_WORKER_DEPLOYMENT and IDV_WORKER_BUILD_ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			found := false
			for _, err := range c.cfg.Validate() {
				found = found || strings.Contains(err.Error(), c.want)
			}
			if !found {
				t.Fatalf("Validate() %v: want an error naming %s", c.cfg.Validate(), c.want)
			}
		})
	}
	v := worker.Config{Deployment: "idvflow", BuildID: "v2"}
	if o := v.WorkerOptions().DeploymentOptions; !o.UseVersioning || o.Version.DeploymentName != "idvflow" || o.Version.BuildID != "v2" {
		t.Fatalf("deployment options %+v", o)
	}
	if o := (&worker.Config{}).WorkerOptions().DeploymentOptions; o.UseVersioning {
		t.Fatalf("an unversioned worker has deployment options %+v", o)
	}
}

// The app verifies every message with IDV_NOTIFY_SECRET: a key anyone can
// guess, or has read in the Standard Webhooks documentation, is refused at
// start, and the message names the variable, never the value.
func TestNotifySecretMustBeRandom(t *testing.T) {
	zeros := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	repeated := "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	for _, c := range []struct {
		name, secret string
		refused      bool
	}{
		{"all-zero key", zeros, true},
		{"one repeated byte", repeated, true},
		{"the Standard Webhooks docs' example secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true},
		{"a random key", "whsec_VGmxXwPc3WXvCGwctgGgjAgpdK6x8OAjdVeoks/hBFs=", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := worker.Config{NotifyURL: "https://app.example/hooks", NotifySecret: c.secret}
			var named []string
			for _, err := range cfg.Validate() {
				if strings.Contains(err.Error(), "IDV_NOTIFY_SECRET") {
					named = append(named, err.Error())
					if strings.Contains(err.Error(), strings.TrimPrefix(c.secret, "whsec_")) {
						t.Errorf("the error shows the secret: %s", err)
					}
				}
			}
			if refused := len(named) > 0; refused != c.refused {
				t.Fatalf("IDV_NOTIFY_SECRET errors %q, want refused %v", named, c.refused)
			}
		})
	}
}
