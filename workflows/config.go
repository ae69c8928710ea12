package workflows

import (
	"fmt"
	"time"

	"github.com/idvflow/idvflow/onboarding"
)

// Config holds the session timings. The worker reads it from the
// environment; each run records the values it started with in its history
// (see VerificationWorkflow), so changing them affects new runs only and
// never breaks the replay of old ones.
type Config struct {
	// ProcessedGrace is how long a decision waits for the processed event
	// before the session goes on without it.
	ProcessedGrace time.Duration `env:"IDV_PROCESSED_GRACE, default=5m" json:"processed_grace"`
	// DecisionPollAfter is how long the session waits for a decision webhook
	// before it asks the provider's API.
	DecisionPollAfter time.Duration `env:"IDV_DECISION_POLL_AFTER, default=1h" json:"decision_poll_after"`
	// PollInterval is the first wait between polls; it doubles up to
	// PollMaxInterval.
	PollInterval    time.Duration `env:"IDV_POLL_INTERVAL, default=5m" json:"poll_interval"`
	PollMaxInterval time.Duration `env:"IDV_POLL_MAX_INTERVAL, default=2h" json:"poll_max_interval"`
	// SessionExpiry is how long after its start a session without a final
	// decision is marked expired.
	SessionExpiry time.Duration `env:"IDV_SESSION_EXPIRY, default=168h" json:"session_expiry"`
	// LateEventWindow is how long a decided session stays open after its
	// last change to absorb repeats and apply later changes.
	LateEventWindow time.Duration `env:"IDV_LATE_EVENT_WINDOW, default=24h" json:"late_event_window"`
	// Rules are each provider's rules, by provider name (rules.go); the
	// worker fills them from the provider registry.
	Rules map[string]Rules `json:"rules,omitempty"`
	// ActivityTimeout bounds one attempt of an activity; a worker that dies
	// mid-activity is noticed after it, and the attempt retried elsewhere.
	ActivityTimeout time.Duration `env:"IDV_ACTIVITY_TIMEOUT, default=1m" json:"activity_timeout"`
	// Onboarding is the worker's onboarding plan, for the onboarding
	// workflow (which records it itself); a session does not record it.
	Onboarding onboarding.Plan `json:"-"`
	// UserIDs is this worker's IDV_USER_ID_ATTRIBUTE; nil: IdvUserId takes
	// the form each event or answer comes with.
	UserIDs UserIDForm `json:"-"`
	// Release is the behaviour of the runs that record this config (the
	// workflow sets it as it records it, so it costs no marker of its
	// own): 0 for runs of 1.0; 1 for runs that ask the store before they
	// wait and write IdvUserId in the worker's form.
	Release int `json:"release,omitempty"`
	// UserIDMode is the recording worker's IDV_USER_ID_ATTRIBUTE mode
	// ("plain", "hmac"; "" when it had none), recorded with the config.
	UserIDMode string `json:"user_id_mode,omitempty"`
	// HandsOver says the recording worker had an onboarding plan: the
	// run's writes go to the user's onboarding (R11), and a worker
	// without the plan that makes one (a fleet whose workers differ)
	// leaves the change owed to the onboarding in the store, for its next
	// run, instead of handing nothing over. Recorded, so every write of
	// the run asks the same.
	HandsOver bool `json:"hands_over,omitempty"`
}

// UserIDForm is how this worker shows a user id in IdvUserId
// (worker.UserIDForm). A run writes IdvUserId in this form only, whatever
// form its events came with: a receiver (or another worker) set to another
// IDV_USER_ID_ATTRIBUTE would otherwise leave a user's sessions under two
// forms without a word.
type UserIDForm interface {
	// Mode is "plain" or "hmac".
	Mode() string
	// Value is what IdvUserId holds for userID; the same on every replay.
	Value(userID string) string
	// FirstMismatch reports whether this process has not yet been told of
	// a user id given in the form from ("plain", "hmac", "hmac-other-key"),
	// so that the run warns once per pair, not once per webhook.
	FirstMismatch(from string) bool
}

// activityTimeout is ActivityTimeout, or one minute when it is unset.
func (c Config) activityTimeout() time.Duration {
	if c.ActivityTimeout > 0 {
		return c.ActivityTimeout
	}
	return time.Minute
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		ProcessedGrace:    5 * time.Minute,
		DecisionPollAfter: time.Hour,
		PollInterval:      5 * time.Minute,
		PollMaxInterval:   2 * time.Hour,
		SessionExpiry:     7 * 24 * time.Hour,
		LateEventWindow:   24 * time.Hour,
		ActivityTimeout:   time.Minute,
	}
}

// Validate reports every timing that cannot work.
func (c Config) Validate() []error {
	var errs []error
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"IDV_DECISION_POLL_AFTER", c.DecisionPollAfter},
		{"IDV_POLL_INTERVAL", c.PollInterval},
		{"IDV_POLL_MAX_INTERVAL", c.PollMaxInterval},
		{"IDV_SESSION_EXPIRY", c.SessionExpiry},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", p.name, p.d))
		}
	}
	if c.ProcessedGrace < 0 {
		errs = append(errs, fmt.Errorf("IDV_PROCESSED_GRACE must not be negative, got %s", c.ProcessedGrace))
	}
	if c.LateEventWindow < 0 {
		errs = append(errs, fmt.Errorf("IDV_LATE_EVENT_WINDOW must not be negative, got %s", c.LateEventWindow))
	}
	if c.PollMaxInterval < c.PollInterval {
		errs = append(errs, fmt.Errorf("IDV_POLL_MAX_INTERVAL (%s) must be at least IDV_POLL_INTERVAL (%s)", c.PollMaxInterval, c.PollInterval))
	}
	return errs
}
