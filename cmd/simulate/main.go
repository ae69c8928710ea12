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
//	go run ./cmd/simulate send --provider veriff|passbase FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idvflow/idvflow/internal/devcreds"
	"github.com/idvflow/idvflow/simulator"
)

const usage = `usage:
  simulate passbase --outcome approved|declined|pending [--user ID] [--legacy]
                    [--order processed-first|decision-first|together] [--repeat N] [--count N]
  simulate veriff   --outcome approved|declined|resubmission_requested|review|expired|abandoned
                    [--user ID] [--events] [--watchlist] [--repeat N] [--count N]
  simulate send --provider veriff|passbase FILE

Targets http://127.0.0.1:8080 (receiver), :8090 (emulator) and :8233 (Web UI)
unless --receiver, --emulator, --ui say otherwise. Secrets come from
VERIFF_API_KEY, VERIFF_SHARED_SECRETS, PASSBASE_WEBHOOK_SECRETS (the first of
each list), else the dev stack's.
`

func main() {
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
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	t := &simulator.Target{
		Namespace:      envOr("TEMPORAL_NAMESPACE", devcreds.Namespace),
		VeriffAPIKey:   envOr("VERIFF_API_KEY", devcreds.VeriffAPIKey),
		VeriffSecret:   firstOf(envOr("VERIFF_SHARED_SECRETS", devcreds.VeriffSharedSecret)),
		PassbaseSecret: firstOf(envOr("PASSBASE_WEBHOOK_SECRETS", devcreds.PassbaseWebhookSecret)),
	}
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
	provider := fs.String("provider", "", "send: veriff or passbase")
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	if err := fs.Parse(args); err != nil {
		return err
	}

	var one func(i int) (simulator.Session, error)
	switch cmd {
	case "passbase":
		one = func(i int) (simulator.Session, error) {
			return t.Passbase(ctx, simulator.PassbaseScenario{Outcome: *outcome, UserID: numbered(*user, i, *count),
				Legacy: *legacy, Order: *order, Repeat: *repeat})
		}
	case "veriff":
		one = func(i int) (simulator.Session, error) {
			return t.Veriff(ctx, simulator.VeriffScenario{Outcome: *outcome, UserID: numbered(*user, i, *count),
				Events: *events, Watchlist: *watchlist, Repeat: *repeat})
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
	return many(ctx, *count, one, out)
}

// many runs count sessions, eight at a time, with a progress line.
func many(ctx context.Context, count int, one func(int) (simulator.Session, error), out io.Writer) error {
	var done, failed atomic.Int64
	var firstErr error
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := one(i); err != nil {
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
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
				return fmt.Errorf("%d sessions failed; first: %w", failed.Load(), firstErr)
			}
			return nil
		}
	}
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

func firstOf(list string) string {
	return strings.TrimSpace(strings.Split(list, ",")[0])
}
