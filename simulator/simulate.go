package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"
)

// Target is a running idvflow: where to post webhooks, where the provider
// emulator and the Web UI are, and the secrets the receiver checks.
type Target struct {
	ReceiverURL    string
	EmulatorURL    string
	UIURL          string
	Namespace      string
	VeriffAPIKey   string
	VeriffSecret   string
	PassbaseSecret string
	HTTP           *http.Client
	// Out receives one line per webhook answer; nil prints nothing.
	Out io.Writer
}

// Session is one simulated verification and what it should end in.
type Session struct {
	Provider   string
	ID         string
	UserID     string
	WorkflowID string
	// Want is the user status the session should leave.
	Want string
	// UILink opens the session's workflow in the Web UI.
	UILink string
}

// PassbaseScenario is `simulate passbase`.
type PassbaseScenario struct {
	Outcome string // approved, declined or pending
	UserID  string
	Legacy  bool   // AUTHENTICATION_* instead of VERIFICATION_* events
	Order   string // processed-first, decision-first or together
	Repeat  int    // deliveries of each webhook (at least 1)
}

// VeriffScenario is `simulate veriff`.
type VeriffScenario struct {
	Outcome   string // approved, declined, resubmission_requested, review, expired, abandoned
	UserID    string
	Events    bool // also send the 7001 started and 7002 submitted events
	Watchlist bool // also send a watchlist screening result
	Repeat    int
}

// Outcomes each provider can simulate.
var (
	PassbaseOutcomes = []string{"approved", "declined", "pending"}
	VeriffOutcomes   = []string{"approved", "declined", "resubmission_requested", "review", "expired", "abandoned"}
)

func (t *Target) client() *http.Client {
	if t.HTTP != nil {
		return t.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (t *Target) session(provider, id, userID, want string) Session {
	wid := provider + ":" + id
	s := Session{Provider: provider, ID: id, UserID: userID, WorkflowID: wid, Want: want}
	if t.UIURL != "" {
		// The list filtered to this workflow shows every run of it.
		s.UILink = strings.TrimRight(t.UIURL, "/") + "/namespaces/" + url.PathEscape(t.Namespace) +
			"/workflows?query=" + url.QueryEscape(`WorkflowId="`+wid+`"`)
	}
	return s
}

// Passbase registers the identity at the emulator and posts the encrypted
// events in the scenario's order.
func (t *Target) Passbase(ctx context.Context, sc PassbaseScenario) (Session, error) {
	if !contains(PassbaseOutcomes, sc.Outcome) {
		return Session{}, fmt.Errorf("passbase outcome %q: want one of %s", sc.Outcome, strings.Join(PassbaseOutcomes, ", "))
	}
	key := NewUUID()
	userID := orDefault(sc.UserID, "user-"+key[:8])
	vocab := VocabularyNew
	if sc.Legacy {
		vocab = VocabularyLegacy
	}
	now := time.Now().UTC().Truncate(time.Second)
	created, processed, decided := now.Add(-3*time.Minute), now.Add(-2*time.Minute), now.Add(-time.Minute)
	status := sc.Outcome
	if status == "pending" {
		decided = processed
	}
	if err := t.PutIdentity(ctx, key, PassbaseIdentity(key, userID, status, created, decided)); err != nil {
		return Session{}, err
	}
	processedEv := PassbaseProcessed(vocab, key, userID, "pending", created, processed)
	var steps [][][]byte
	if sc.Outcome == "pending" {
		steps = [][][]byte{{processedEv}}
	} else {
		reviewed := PassbaseReviewed(vocab, key, userID, sc.Outcome, created, decided)
		switch sc.Order {
		case "decision-first":
			steps = [][][]byte{{reviewed}, {processedEv}}
		case "together":
			steps = [][][]byte{{processedEv, reviewed}}
		case "", "processed-first":
			steps = [][][]byte{{processedEv}, {reviewed}}
		default:
			return Session{}, fmt.Errorf("order %q: want processed-first, decision-first or together", sc.Order)
		}
	}
	s := t.session("passbase", key, userID, sc.Outcome)
	for _, step := range steps {
		if err := t.deliver(ctx, "passbase", step, max(sc.Repeat, 1)); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Veriff registers the decision at the emulator and posts the signed
// webhooks: events, the decision, and a screening result.
func (t *Target) Veriff(ctx context.Context, sc VeriffScenario) (Session, error) {
	if !contains(VeriffOutcomes, sc.Outcome) {
		return Session{}, fmt.Errorf("veriff outcome %q: want one of %s", sc.Outcome, strings.Join(VeriffOutcomes, ", "))
	}
	id, attempt := NewUUID(), NewUUID()
	userID := orDefault(sc.UserID, "user-"+id[:8])
	decided := time.Now().UTC().Add(-time.Minute)
	v, _ := json.Marshal(VeriffVerification(id, attempt, userID, sc.Outcome, decided))
	if err := t.PutDecision(ctx, id, v); err != nil {
		return Session{}, err
	}
	var steps [][][]byte
	if sc.Events {
		steps = append(steps, [][]byte{VeriffEvent(id, attempt, userID, 7001, "started")},
			[][]byte{VeriffEvent(id, attempt, userID, 7002, "submitted")})
	}
	steps = append(steps, [][]byte{VeriffDecision(id, attempt, userID, sc.Outcome, decided)})
	if sc.Watchlist {
		steps = append(steps, [][]byte{VeriffScreening(id, attempt, userID, "initial_result", "no_match", decided.Add(time.Second))})
	}
	s := t.session("veriff", id, userID, sc.Outcome)
	for _, step := range steps {
		if err := t.deliver(ctx, "veriff", step, max(sc.Repeat, 1)); err != nil {
			return s, err
		}
	}
	return s, nil
}

// deliver posts the bodies of one step (concurrently when more than one),
// each repeat times.
func (t *Target) deliver(ctx context.Context, provider string, bodies [][]byte, repeat int) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(bodies)*repeat)
	for range repeat {
		for _, b := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, answer, err := t.Send(ctx, provider, b)
				if err != nil {
					errs <- err
					return
				}
				if code != http.StatusOK {
					errs <- fmt.Errorf("%s webhook answered %d: %s", provider, code, answer)
				}
			}()
		}
		wg.Wait()
	}
	close(errs)
	return <-errs
}

// Send signs (Veriff) or encrypts (Passbase) body and posts it, as the
// provider would; it returns the receiver's status and answer.
func (t *Target) Send(ctx context.Context, provider string, body []byte) (int, string, error) {
	header := http.Header{}
	switch provider {
	case "veriff":
		header.Set("Content-Type", "application/json")
		header.Set("X-Auth-Client", t.VeriffAPIKey)
		header.Set("X-Hmac-Signature", VeriffSign(t.VeriffSecret, body))
	case "passbase":
		enc, err := passbase.Encrypt(t.PassbaseSecret, body)
		if err != nil {
			return 0, "", err
		}
		header.Set("Content-Type", "text/plain")
		body = enc
	default:
		return 0, "", fmt.Errorf("provider %q: want veriff or passbase", provider)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.ReceiverURL, "/")+"/webhooks/"+provider, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header = header
	resp, err := t.client().Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post %s webhook: %w", provider, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if t.Out != nil {
		fmt.Fprintf(t.Out, "  POST /webhooks/%s -> %d %s\n", provider, resp.StatusCode, bytes.TrimSpace(answer))
	}
	return resp.StatusCode, string(answer), nil
}

// PutIdentity stores a Passbase identity at the emulator.
func (t *Target) PutIdentity(ctx context.Context, key string, identity []byte) error {
	return t.control(ctx, "/_emulator/passbase/identities/"+key, identity)
}

// PutDecision stores a Veriff verification object at the emulator.
func (t *Target) PutDecision(ctx context.Context, sessionID string, verification []byte) error {
	return t.control(ctx, "/_emulator/veriff/sessions/"+sessionID+"/decision", verification)
}

// control stores an object at the emulator.
func (t *Target) control(ctx context.Context, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(t.EmulatorURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client().Do(req)
	if err != nil {
		return fmt.Errorf("provider emulator at %s: %w (is `go run ./cmd/dev` running?)", t.EmulatorURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("provider emulator %s: HTTP %d", path, resp.StatusCode)
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
