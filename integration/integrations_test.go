package integration

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/server/temporaltest"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
)

// TestTwoVeriffIntegrations: a company with a web and a mobile integration
// at Veriff, each with its own API key and secret (VERIFF_INTEGRATIONS),
// through the production receiver and worker. A webhook is accepted under
// its own integration's key and secret; a body signed with web's secret but
// sent with mobile's key gets the same 401 as any forgery; and a mobile
// session whose decision webhook never comes is polled with mobile's key
// and secret.
func TestTwoVeriffIntegrations(t *testing.T) {
	const (
		webKey, webSecret       = "2b3c4d5e-0000-4000-8000-00000000a11e", "web-secret-0123456789-1"
		mobileKey, mobileSecret = "2b3c4d5e-0000-4000-8000-00000000b0b1", "mobile-secret-0123456789-1"
	)
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ps := startProduction(t, map[string]string{
		"TEMPORAL_ADDRESS":             ts.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE":           ts.GetDefaultNamespace(),
		"VERIFF_API_KEY":               "",
		"VERIFF_SHARED_SECRETS":        "",
		"VERIFF_INTEGRATIONS":          "web,mobile",
		"VERIFF_WEB_API_KEY":           webKey,
		"VERIFF_WEB_SHARED_SECRETS":    webSecret,
		"VERIFF_MOBILE_API_KEY":        mobileKey,
		"VERIFF_MOBILE_SHARED_SECRETS": mobileSecret + ",mobile-secret-0123456789-old", // the first signs API calls
		"IDV_DECISION_POLL_AFTER":      "1s",
		"IDV_POLL_INTERVAL":            "1s",
		"IDV_VERIFF_AWAIT_SUBMITTED":   "false",
		"IDV_PROCESSED_GRACE":          "1s",
	})

	decided := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

	// The web app's decision, under web's key and secret.
	webSession := sim.NewUUID()
	ps.sendUntilAcked(t, veriffDelivery(webKey, webSecret,
		veriff.DecisionBody(webSession, sim.NewUUID(), "web-user", "approved", decided)))
	ps.waitUser(t, "web-user", "approved")

	// Signed by web, claimed by mobile: the one 401.
	forged := veriff.DecisionBody(sim.NewUUID(), sim.NewUUID(), "forged-user", "approved", decided)
	crossed := veriffDelivery(mobileKey, webSecret, forged)
	if code := send(t, ps.url, crossed); code != http.StatusUnauthorized {
		t.Fatalf("web's signature under mobile's key: %d, want 401", code)
	}
	if code := send(t, ps.url, veriffDelivery("no-such-key", webSecret, forged)); code != http.StatusUnauthorized {
		t.Fatalf("an unknown key: %d, want 401", code)
	}

	// A mobile session that only says "submitted": the worker polls with
	// mobile's credentials (the emulator accepts each key only with its
	// own secret) and finds the decision.
	mobileSession, attempt := sim.NewUUID(), sim.NewUUID()
	v, _ := json.Marshal(veriff.Verification(mobileSession, attempt, "mobile-user", "declined", decided))
	ps.emu.Put(veriff.Name, mobileSession, v)
	ps.sendUntilAcked(t, veriffDelivery(mobileKey, mobileSecret,
		veriff.EventBody(mobileSession, attempt, "mobile-user", veriff.Submitted)))
	ps.waitUser(t, "mobile-user", "declined")
	if got := ps.emu.Client(mobileSession); got != mobileKey {
		t.Fatalf("the mobile session was polled with key %q, want mobile's", got)
	}
	if _, err := ps.users.Get(t.Context(), "forged-user"); err == nil {
		t.Fatal("the crossed webhook reached the user store")
	}
}
