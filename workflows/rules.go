package workflows

// Rules are what the workflow needs to know of a provider; each provider
// package says its own (providers.Config.Rules) and the worker hands them
// over in Config.Rules. A run records them with its timings, so changing a
// provider's rules affects new runs only.
type Rules struct {
	// AwaitsProcessed makes a decision wait (up to ProcessedGrace) for the
	// provider's processed event before the record is written.
	AwaitsProcessed bool `json:"awaits_processed,omitempty"`
	// FetchesDetails reads the provider's details (the app's user id) once
	// per run before the record is written: the webhooks lack them.
	FetchesDetails bool `json:"fetches_details,omitempty"`
	// FallbackUserIDSource names the session id when it stands in for the
	// app's user id (no user id known); "session_id" when empty.
	FallbackUserIDSource string `json:"fallback_user_id_source,omitempty"`
	// UserIDSources ranks the fields a provider names the app's user in,
	// best first: a session takes the user id of the best source any of its
	// events or details gave.
	UserIDSources []string `json:"user_id_sources,omitempty"`
}

// betterSource reports whether user-id source a ranks before b.
func (r Rules) betterSource(a, b string) bool {
	rank := func(s string) int {
		for i, x := range r.UserIDSources {
			if x == s {
				return i
			}
		}
		return len(r.UserIDSources)
	}
	return rank(a) < rank(b)
}

// rules returns the rules of the session's provider; a provider the worker
// does not know gets the zero Rules.
func (c Config) rules(provider string) Rules { return c.Rules[provider] }
