package receiver_test

// Issue 20 audit (regression): a hanging quarantine store holds the
// in-flight slot of every refused webhook for the quarantine timeout, so a
// valid webhook arriving meanwhile is answered 503 instead of 200, and a
// refused one 503 instead of 400.

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/record"
)

func TestAuditHangingQuarantineChangesOtherAnswers(t *testing.T) {
	tc := &fakeTemporal{}
	cfg := receiver.Config{MaxBodyBytes: 1 << 20, SignalTimeout: time.Second, RetryAfter: 7 * time.Second, TaskQueue: "q", MaxInFlight: 1}
	r := receiver.New(cfg, tc, slog.New(slog.DiscardHandler), nil, veriff.NewWebhooks(veriffClient, []string{veriffSecret})).
		WithQuarantine(slowStore{}, nil)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	ahead := time.Now().Add(record.MaxClockSkew + time.Hour)
	refused := veriff.DecisionBody("0d4f0b3b-2a0b-4b5f-9a9e-5f3c2b1a0d4f", "a1", "user-q", "approved", ahead)
	done := make(chan response, 1)
	go func() {
		done <- post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(veriff.Sign([]byte(veriffSecret), refused)), refused)
	}()
	time.Sleep(200 * time.Millisecond) // the refused one now sits in keep()
	valid := []byte(`{"verification":{"id":"s1","status":"approved"}}`)
	got := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(hmacHex(veriffSecret, string(valid))), valid)
	first := <-done
	t.Logf("refused webhook: %d %s", first.status, first.body)
	if got.status != http.StatusOK {
		t.Fatalf("a valid webhook sent while the quarantine store hangs: %d %s, want 200 (it is 200 without a quarantine)", got.status, got.body)
	}
}
