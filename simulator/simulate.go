// Package simulator plays providers against a running idvflow: it loads a
// simulated session's API answer into the provider emulator and posts its
// webhooks to the receiver, sealed (signed or encrypted) by the provider
// package as the provider would. What a session sends comes from the
// providers' scenario builders (each provider package's Scenario); this
// package names no provider.
package simulator

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/workflows"
)

// Target is a running idvflow: where to post webhooks, where the provider
// emulator and the Web UI are, and the provider configurations whose
// webhook credentials seal what is posted (those the receiver checks).
type Target struct {
	ReceiverURL string
	EmulatorURL string
	UIURL       string
	Namespace   string
	Providers   providers.Configs
	HTTP        *http.Client
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

func (t *Target) client() *http.Client {
	if t.HTTP != nil {
		return t.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (t *Target) session(s sim.Script) Session {
	wid := workflows.WorkflowID(s.Provider, s.SessionID)
	out := Session{Provider: s.Provider, ID: s.SessionID, UserID: s.UserID, WorkflowID: wid, Want: s.Want}
	if t.UIURL != "" {
		// The list filtered to this workflow shows every run of it.
		out.UILink = strings.TrimRight(t.UIURL, "/") + "/namespaces/" + url.PathEscape(t.Namespace) +
			"/workflows?query=" + url.QueryEscape(`WorkflowId="`+wid+`"`)
	}
	return out
}

// Run plays a scenario: it stores the session's API answer at the emulator
// and posts its webhooks step by step, each repeat times (at least once).
func (t *Target) Run(ctx context.Context, sc sim.Scenario, repeat int) (Session, error) {
	s, err := sc.Script(time.Now())
	if err != nil {
		return Session{}, err
	}
	return t.Play(ctx, s, repeat)
}

// Play is Run for a script already made.
func (t *Target) Play(ctx context.Context, s sim.Script, repeat int) (Session, error) {
	if s.API != nil {
		if err := t.Put(ctx, s.Provider, s.SessionID, s.API); err != nil {
			return Session{}, err
		}
	}
	out := t.session(s)
	for _, step := range s.Steps {
		if err := t.deliver(ctx, s.Provider, step, max(repeat, 1)); err != nil {
			return out, err
		}
	}
	return out, nil
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

// Send seals body as the provider would (its package's Seal, with the
// Target's credentials) and posts it; it returns the receiver's status and
// answer.
func (t *Target) Send(ctx context.Context, provider string, body []byte) (int, string, error) {
	cfg := t.Providers.Get(provider)
	if cfg == nil {
		return 0, "", fmt.Errorf("provider %q: want one of %s", provider, strings.Join(t.Providers.Names(), ", "))
	}
	header, sealed, err := cfg.Seal(body)
	if err != nil {
		return 0, "", err
	}
	return t.Post(ctx, provider, header, sealed)
}

// Post posts a webhook as given, sealed or not; it returns the receiver's
// status and answer.
func (t *Target) Post(ctx context.Context, provider string, header http.Header, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.ReceiverURL, "/")+"/webhooks/"+provider, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if header != nil {
		req.Header = header.Clone()
	}
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

// Put stores what the provider's API answers for a session at the
// emulator (its control route).
func (t *Target) Put(ctx context.Context, provider, id string, obj []byte) error {
	path := "/_emulator/objects/" + url.PathEscape(provider) + "/" + url.PathEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimRight(t.EmulatorURL, "/")+path, bytes.NewReader(obj))
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
