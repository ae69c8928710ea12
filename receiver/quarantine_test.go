package receiver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities/userstore"
	_ "github.com/idvflow/idvflow/activities/userstore/drivers"
	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/record"
)

type failingStore struct{ err error }

func (f failingStore) Quarantine(context.Context, userstore.Quarantined, userstore.QuarantineLimits) error {
	return f.err
}

func (f failingStore) PruneQuarantine(context.Context, userstore.QuarantineLimits) error {
	return f.err
}

// slowStore holds every write until its context ends.
type slowStore struct{}

func (slowStore) Quarantine(ctx context.Context, _ userstore.Quarantined, _ userstore.QuarantineLimits) error {
	<-ctx.Done()
	return ctx.Err()
}

func (slowStore) PruneQuarantine(ctx context.Context, _ userstore.QuarantineLimits) error {
	<-ctx.Done()
	return ctx.Err()
}

// The answer to an authentic webhook the receiver refuses is the same
// whatever becomes of its quarantined copy: no quarantine, a store that
// fails, one that hangs (bounded by the quarantine's own timeout), one
// that keeps it. Temporal is never called for it.
func TestQuarantineNeverChangesTheAnswer(t *testing.T) {
	store, err := userstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	codec, err := payloadcodec.ParseKeys(payloadcodec.NewKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	ahead := time.Now().Add(record.MaxClockSkew + time.Hour)
	body := veriff.DecisionBody("0d4f0b3b-2a0b-4b5f-9a9e-5f3c2b1a0d4f", "a1", "user-q", "approved", ahead)
	header := veriffHeaders(veriff.Sign([]byte(veriffSecret), body))
	for _, tc := range []struct {
		name  string
		q     receiver.Quarantine
		kept  bool
		sealr receiver.Sealer
	}{
		{"no quarantine", nil, false, nil},
		{"store fails", failingStore{errors.New("database is down")}, false, codec},
		{"store hangs", slowStore{}, false, codec},
		{"kept without keys", store, true, nil},
		{"kept again, now with its body", store, true, codec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc0 := &fakeTemporal{}
			cfg := receiver.Config{MaxBodyBytes: 1 << 20, SignalTimeout: 200 * time.Millisecond, RetryAfter: 30 * time.Second, TaskQueue: "q",
				Quarantine: userstore.QuarantineLimits{MaxItems: 10}}
			r := receiver.New(cfg, tc0, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, veriff.NewWebhooks(veriffClient, []string{veriffSecret}))
			if tc.q != nil {
				r = r.WithQuarantine(tc.q, tc.sealr)
			}
			srv := httptest.NewServer(r.Handler())
			defer srv.Close()
			resp := post(t, srv.URL+"/webhooks/veriff", "application/json", header, body)
			if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "event time is in the future") {
				t.Fatalf("answer: %d %s", resp.status, resp.body)
			}
			if tc0.count() != 0 {
				t.Fatal("Temporal was called for a refused webhook")
			}
			// The copy is written after the answer: wait for it.
			got, err := store.QuarantineGet(context.Background(), receiver.QuarantineID("veriff", body))
			for deadline := time.Now().Add(3 * time.Second); tc.kept && (err != nil || (tc.sealr != nil && len(got.Body) == 0)) && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				got, err = store.QuarantineGet(context.Background(), receiver.QuarantineID("veriff", body))
			}
			if tc.kept != (err == nil) {
				t.Fatalf("kept: %v (%v)", err == nil, err)
			}
			if tc.kept {
				if _, ok := got.Headers["X-Hmac-Signature"]; ok || got.Headers.Get("X-Auth-Client") != "" {
					t.Fatalf("credentials kept: %v", got.Headers)
				}
				if (tc.sealr == nil) != (len(got.Body) == 0) {
					t.Fatalf("body kept %d bytes with sealer %v", len(got.Body), tc.sealr != nil)
				}
				if tc.sealr != nil {
					plain, err := codec.Open(got.Body)
					if err != nil || string(plain) != string(body) {
						t.Fatalf("sealed body does not open to the webhook: %v", err)
					}
				}
			}
		})
	}
}

// An entry goes when its age is up, though nothing else is refused: the
// receiver prunes on a timer, not only when it keeps one.
func TestQuarantineAgesOutWithoutRefusals(t *testing.T) {
	ctx := context.Background()
	store, err := userstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for id, age := range map[string]time.Duration{"old": 800 * time.Hour, "young": time.Hour} {
		if err := store.Quarantine(ctx, userstore.Quarantined{ID: id, Provider: "veriff", Reason: "r", LastAt: time.Now().Add(-age)}, userstore.QuarantineLimits{}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := receiver.Config{MaxBodyBytes: 1 << 20, TaskQueue: "q", Quarantine: userstore.QuarantineLimits{MaxItems: 10, MaxAge: 720 * time.Hour},
		QuarantinePruneEvery: 20 * time.Millisecond}
	r := receiver.New(cfg, &fakeTemporal{}, slog.New(slog.DiscardHandler), nil).WithQuarantine(store, nil)
	defer r.Close(context.Background()) // before the store closes (defers run last first)
	_, err = store.QuarantineGet(ctx, "old")
	for deadline := time.Now().Add(5 * time.Second); err == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, err = store.QuarantineGet(ctx, "old")
	}
	if err == nil {
		t.Fatal("an entry last delivered 800h ago is still kept (IDV_QUARANTINE_MAX_AGE 720h)")
	}
	if _, err := store.QuarantineGet(ctx, "young"); err != nil {
		t.Fatalf("an entry an hour old went: %v", err)
	}
}

// slowKeeper is a store whose every write takes a while.
type slowKeeper struct {
	*userstore.Store
	delay time.Duration
}

func (s slowKeeper) Quarantine(ctx context.Context, q userstore.Quarantined, lim userstore.QuarantineLimits) error {
	time.Sleep(s.delay)
	return s.Store.Quarantine(ctx, q, lim)
}

// Copies queued when the receiver stops are written before Close returns
// (run closes the database after it).
func TestQuarantineCloseWritesWhatIsQueued(t *testing.T) {
	ctx := context.Background()
	store, err := userstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := receiver.Config{MaxBodyBytes: 1 << 20, SignalTimeout: 200 * time.Millisecond, TaskQueue: "q", Quarantine: userstore.QuarantineLimits{MaxItems: 100}}
	r := receiver.New(cfg, &fakeTemporal{}, slog.New(slog.DiscardHandler), nil, veriff.NewWebhooks(veriffClient, []string{veriffSecret})).
		WithQuarantine(slowKeeper{store, 100 * time.Millisecond}, nil)
	srv := httptest.NewServer(r.Handler())
	const n = 5
	for i := range n {
		body := veriff.DecisionBody(fmt.Sprintf("0d4f0b3b-2a0b-4b5f-9a9e-5f3c2b1a0d4%d", i), "a1", "user-q", "approved", time.Now().Add(record.MaxClockSkew+time.Hour))
		if resp := post(t, srv.URL+"/webhooks/veriff", "application/json", veriffHeaders(veriff.Sign([]byte(veriffSecret), body)), body); resp.status != http.StatusBadRequest {
			t.Fatalf("answer %d", resp.status)
		}
	}
	srv.Close()
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r.Close(closeCtx)
	list, err := store.QuarantineList(ctx, userstore.QuarantineFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("%d of %d refused webhooks kept once Close returned", len(list), n)
	}
}

// A quarantine store that hangs does not hold the in-flight slot
// (MaxInFlight 1 here) of the refused webhook it is keeping for the
// quarantine's timeout: a valid webhook arriving meanwhile is answered 200,
// as without a quarantine, not 503.
func TestHangingQuarantineDoesNotChangeOtherAnswers(t *testing.T) {
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
