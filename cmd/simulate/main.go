// Command simulate plays a provider against a running idvflow (by default
// the one `go run ./cmd/dev` starts), like `stripe trigger`: it registers the
// identity or decision at the provider emulator, builds the webhooks byte for
// byte as the provider would, signs or encrypts them, posts them and prints
// each answer and the session's Web UI link.
//
//	go run ./cmd/simulate passbase --outcome approved|declined|pending [--user ID] [--legacy]
//	                               [--order processed-first|decision-first|together] [--repeat N] [--count N]
//	go run ./cmd/simulate veriff --outcome approved|declined|resubmission_requested|review|expired|abandoned
//	                             [--user ID] [--events] [--watchlist] [--repeat N] [--count N]
//	go run ./cmd/simulate persona --outcome approved|declined|review|expired [--user ID] [--repeat N] [--rotate] [--count N]
//	go run ./cmd/simulate sumsub --outcome approved|declined|resubmission_requested|review [--user ID] [--repeat N] [--count N]
//	go run ./cmd/simulate onfido --outcome approved|declined|review|abandoned [--user ID] [--repeat N] [--count N]
//	go run ./cmd/simulate send --provider veriff|passbase|persona|sumsub|onfido FILE
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/internal/version"
	"github.com/idvflow/idvflow/providers/onfido"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/persona"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/providers/sumsub"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/simulator"
)

const usage = `usage:
  simulate passbase --outcome approved|declined|pending [--user ID] [--legacy]
                    [--order processed-first|decision-first|together] [--repeat N] [--count N]
  simulate veriff   --outcome approved|declined|resubmission_requested|review|expired|abandoned
                    [--user ID] [--events] [--watchlist] [--repeat N] [--count N]
  simulate persona  --outcome approved|declined|review|expired [--user ID] [--rotate] [--repeat N] [--count N]
  simulate sumsub   --outcome approved|declined|resubmission_requested|review [--user ID] [--repeat N] [--count N]
  simulate onfido   --outcome approved|declined|review|abandoned [--user ID] [--repeat N] [--count N]
  simulate send --provider veriff|passbase|persona|sumsub|onfido FILE

Targets http://127.0.0.1:8080 (receiver), :8090 (emulator), :8233 (Web UI)
and :8081 (admin API) unless --receiver, --emulator, --ui, --admin say
otherwise. With --count, it lists every session it created and waits up to
--wait (20s) for each user to reach the status the scenario leads to
(a Passbase decision that comes before its processed event waits
IDV_PROCESSED_GRACE first; a longer --wait shows it). Webhooks are signed or
encrypted with the providers' variables as the receiver reads them
(VERIFF_API_KEY, VERIFF_SHARED_SECRETS, PASSBASE_WEBHOOK_SECRETS,
PERSONA_WEBHOOK_SECRETS, SUMSUB_WEBHOOK_SECRETS, ONFIDO_WEBHOOK_TOKENS, ...; the first of each list), else with the dev
stack's. persona --rotate signs as Persona does while it rotates a secret:
two sets, the first under a new secret the receiver does not know yet.
`

func main() {
	version.ExitIfAsked("simulate")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "simulate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(out, usage)
		return nil
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	// The webhooks are sealed with the providers' variables over the dev
	// stack's credentials, as the receiver reads them.
	creds, err := registry.Dev(ctx, envconfig.OsLookuper(), "")
	if err != nil {
		return err
	}
	t := &simulator.Target{Namespace: envOr("TEMPORAL_NAMESPACE", "default"), Providers: creds}
	fs.StringVar(&t.ReceiverURL, "receiver", "http://127.0.0.1:8080", "receiver base URL")
	fs.StringVar(&t.EmulatorURL, "emulator", "http://127.0.0.1:8090", "provider emulator base URL")
	fs.StringVar(&t.UIURL, "ui", "http://127.0.0.1:8233", "Temporal Web UI base URL")
	user := fs.String("user", "", "the app's user id (default: one per session)")
	outcome := fs.String("outcome", "approved", "the provider's decision")
	repeat := fs.Int("repeat", 1, "deliver each webhook N times, as an at-least-once provider may")
	count := fs.Int("count", 1, "simulate N sessions")
	legacy := fs.Bool("legacy", false, "passbase: AUTHENTICATION_* events instead of VERIFICATION_*")
	order := fs.String("order", "processed-first", "passbase: processed-first, decision-first or together")
	events := fs.Bool("events", false, "veriff: also send the started and submitted event webhooks")
	watchlist := fs.Bool("watchlist", false, "veriff: also send a watchlist screening result")
	rotate := fs.Bool("rotate", false, "persona: sign with two sets, as while Persona rotates the secret")
	provider := fs.String("provider", "", "send: veriff, passbase, persona, sumsub or onfido")
	adminURL := fs.String("admin", "http://127.0.0.1:8081", "admin API base URL (with --count: where to check each user)")
	wait := fs.Duration("wait", 20*time.Second, "with --count: how long to wait for the users' statuses")
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	var one func(i int) (simulator.Session, error)
	switch cmd {
	case "passbase":
		one = func(i int) (simulator.Session, error) {
			return t.Run(ctx, passbase.Scenario{Outcome: *outcome, UserID: numbered(*user, i, *count),
				Legacy: *legacy, Order: *order}, *repeat)
		}
	case "veriff":
		one = func(i int) (simulator.Session, error) {
			return t.Run(ctx, veriff.Scenario{Outcome: *outcome, UserID: numbered(*user, i, *count),
				Events: *events, Watchlist: *watchlist}, *repeat)
		}
	case "persona":
		one = func(i int) (simulator.Session, error) {
			sc := persona.Scenario{Outcome: *outcome, UserID: numbered(*user, i, *count)}
			if !*rotate {
				return t.Run(ctx, sc, *repeat)
			}
			return rotated(ctx, t, creds.Get(persona.Name).(*persona.Config), sc, *repeat)
		}
	case "sumsub":
		one = func(i int) (simulator.Session, error) {
			return t.Run(ctx, sumsub.Scenario{Outcome: *outcome, UserID: numbered(*user, i, *count)}, *repeat)
		}
	case "onfido":
		one = func(i int) (simulator.Session, error) {
			return t.Run(ctx, onfido.Scenario{Outcome: *outcome, UserID: numbered(*user, i, *count)}, *repeat)
		}
	case "send":
		if fs.NArg() != 1 {
			return fmt.Errorf("send needs one FILE\n%s", usage)
		}
		body, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		t.Out = out
		code, _, err := t.Send(ctx, *provider, body)
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("the receiver answered %d", code)
		}
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}

	if *count <= 1 {
		t.Out = out
		s, err := one(0)
		if s.WorkflowID != "" {
			fmt.Fprintf(out, "%s session %s for user %s: expect user status %q\n  workflow %s\n  %s\n",
				s.Provider, s.ID, s.UserID, s.Want, s.WorkflowID, s.UILink)
		}
		return err
	}
	sessions, err := many(ctx, *count, one, out)
	if len(sessions) > 0 {
		report(ctx, *adminURL, os.Getenv("IDV_ADMIN_TOKEN"), sessions, *wait, out)
	}
	return err
}

// report lists the sessions and whether each user reached the status its
// scenario leads to, asking the admin API until wait has passed.
func report(ctx context.Context, adminURL, token string, sessions []simulator.Session, wait time.Duration, out io.Writer) {
	slices.SortFunc(sessions, func(a, b simulator.Session) int { return strings.Compare(a.UserID, b.UserID) })
	got := make([]string, len(sessions))
	deadline := time.Now().Add(wait)
	for {
		pending := 0
		for i, s := range sessions {
			if got[i] != s.Want {
				got[i] = userStatus(ctx, adminURL, token, s.UserID)
			}
			if got[i] != s.Want {
				pending++
			}
		}
		if pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tPROVIDER\tSESSION\tEXPECTED\tSTATUS\t")
	reached := 0
	for i, s := range sessions {
		mark := "waiting"
		if got[i] == s.Want {
			mark, reached = "reached", reached+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (%s)\t\n", s.UserID, s.Provider, s.ID, s.Want, orDash(got[i]), mark)
	}
	tw.Flush()
	fmt.Fprintf(out, "%d of %d users reached their expected status\n", reached, len(sessions))
}

func userStatus(ctx context.Context, adminURL, token, userID string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/v1/users/"+url.PathEscape(userID), nil)
	if err != nil {
		return ""
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var u struct {
		Status string `json:"status"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&u) != nil {
		return ""
	}
	return u.Status
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// many runs count sessions, eight at a time, with a progress line, and
// returns the sessions it created.
func many(ctx context.Context, count int, one func(int) (simulator.Session, error), out io.Writer) ([]simulator.Session, error) {
	var done, failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var created []simulator.Session
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				s, err := one(i)
				mu.Lock()
				if s.WorkflowID != "" {
					created = append(created, s)
				}
				if err != nil {
					failed.Add(1)
					if firstErr == nil {
						firstErr = err
					}
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	go func() {
		defer close(work)
		for i := range count {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case <-tick.C:
			fmt.Fprintf(out, "\r%d/%d sessions sent, %d failed", done.Load(), count, failed.Load())
		case <-finished:
			fmt.Fprintf(out, "\r%d/%d sessions sent, %d failed in %s\n", done.Load(), count, failed.Load(), time.Since(start).Round(time.Millisecond))
			if firstErr != nil {
				return created, fmt.Errorf("%d sessions failed; first: %w", failed.Load(), firstErr)
			}
			return created, nil
		}
	}
}

// rotated plays a Persona scenario as Target.Run does, each event signed
// with two sets: persona.DevNextWebhookSecret's, then the configured one.
func rotated(ctx context.Context, t *simulator.Target, cfg *persona.Config, sc persona.Scenario, repeat int) (simulator.Session, error) {
	s, err := sc.Script(time.Now())
	if err != nil {
		return simulator.Session{}, err
	}
	steps := s.Steps
	s.Steps = nil // the API answer only; the events are posted here
	out, err := t.Play(ctx, s, 1)
	if err != nil {
		return out, err
	}
	for _, step := range steps {
		for _, b := range step {
			for range max(repeat, 1) {
				h, sealed, err := cfg.SealRotating(b, persona.DevNextWebhookSecret)
				if err != nil {
					return out, err
				}
				if code, answer, err := t.Post(ctx, persona.Name, h, sealed); err != nil || code != http.StatusOK {
					return out, fmt.Errorf("persona webhook answered %d: %s %v", code, answer, err)
				}
			}
		}
	}
	return out, nil
}

func numbered(user string, i, count int) string {
	if user == "" || count <= 1 {
		return user
	}
	return fmt.Sprintf("%s-%d", user, i+1)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
