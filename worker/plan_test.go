package worker_test

import (
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
