// Command idvctl is the operators' command line, built on the admin API:
// sessions that need attention, the quarantine, resync, retry, bulk
// operations (dry run first, progress bar, cancellable) and the audit
// trail. It reads the admin API's address from --admin or IDV_ADMIN_URL
// and its token from IDV_ADMIN_TOKEN (never a flag: flags end up in shell
// history and process lists).
//
//	idvctl sessions --state stuck
//	idvctl quarantine ls [--provider veriff] [--since 24h]
//	idvctl quarantine show ID
//	idvctl quarantine redrive ID
//	idvctl resync veriff SESSION_ID
//	idvctl retry passbase SESSION_ID
//	idvctl restart veriff SESSION_ID
//	idvctl bulk resync --state waiting --older-than 24h [--provider P] [--query Q] [--rate 10] [--yes]
//	idvctl operations show ID | cancel ID
//	idvctl audit [--user ID] [--target WORKFLOW_ID] [--operation ID]
package main

import (
	"bufio"
	"bytes"
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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/idvflow/idvflow/admin"
	"github.com/idvflow/idvflow/internal/version"
	"github.com/idvflow/idvflow/operator"
)

const usage = `idvctl: the operators' command line (admin API at --admin or IDV_ADMIN_URL; token in IDV_ADMIN_TOKEN)

  sessions --state waiting|polling|failed|stuck [--older-than 24h] [--provider P] [--query Q]
  quarantine ls [--provider P] [--since 24h]
  quarantine show ID
  quarantine redrive ID
  resync PROVIDER SESSION_ID
  retry PROVIDER SESSION_ID
  restart PROVIDER SESSION_ID
  onboarding retry USER_ID
  bulk resync|retry|restart --state S [--older-than D] [--provider P] [--query Q] [--rate N] [--yes]
  operations show ID
  operations cancel ID
  audit [--user ID] [--target WORKFLOW_ID] [--operation ID] [--since D]

Every command takes --json (the admin API's answer as it is).
`

func main() {
	version.ExitIfAsked("idvctl")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "idvctl:", err)
		os.Exit(1)
	}
}

// cli is one invocation: where the admin API is, and how to print.
type cli struct {
	base, token string
	json        bool
	out, errOut io.Writer
	in          *bufio.Reader
	hc          *http.Client
}

func run(ctx context.Context, args []string, out, errOut io.Writer, in io.Reader) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(out, usage)
		return nil
	}
	c := &cli{out: out, errOut: errOut, in: bufio.NewReader(in), hc: &http.Client{Timeout: 90 * time.Second},
		base: os.Getenv("IDV_ADMIN_URL"), token: os.Getenv("IDV_ADMIN_TOKEN")}
	if c.base == "" {
		c.base = "http://127.0.0.1:8081"
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "sessions":
		return c.sessions(ctx, rest)
	case "quarantine":
		return c.quarantine(ctx, rest)
	case "resync", "retry", "restart":
		return c.act(ctx, cmd, rest)
	case "bulk":
		return c.bulk(ctx, rest)
	case "operations":
		return c.operations(ctx, rest)
	case "audit":
		return c.audit(ctx, rest)
	case "onboarding":
		return c.onboarding(ctx, rest)
	}
	return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}

// flags returns a flag set with the common flags.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.errOut)
	fs.StringVar(&c.base, "admin", c.base, "admin API base URL")
	fs.BoolVar(&c.json, "json", false, "print the admin API's JSON")
	return fs
}

// parse parses args, flags anywhere among the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// apiError is an answer the admin API gave with its reason.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

// do calls the admin API; an answer with a status in ok is decoded into v
// (and kept raw for --json), any other is an error with its reason.
func (c *cli) do(ctx context.Context, method, path string, body any, v any, ok ...int) (json.RawMessage, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.base, "/")+path, r)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			if v != nil {
				if err := json.Unmarshal(raw, v); err != nil {
					return nil, fmt.Errorf("%s %s: %w", method, path, err)
				}
			}
			return raw, nil
		}
	}
	var e struct{ Error string }
	if json.Unmarshal(raw, &e) == nil && e.Error != "" {
		return raw, &apiError{resp.StatusCode, e.Error}
	}
	return raw, &apiError{resp.StatusCode, strings.TrimSpace(string(raw))}
}

func (c *cli) printJSON(raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		_, err = c.out.Write(raw)
		return err
	}
	b.WriteByte('\n')
	_, err := b.WriteTo(c.out)
	return err
}

func (c *cli) table(header string, rows [][]string) {
	w := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func (c *cli) sessions(ctx context.Context, args []string) error {
	fs := c.flags("sessions")
	state := fs.String("state", "", "waiting, polling, failed or stuck")
	older := fs.String("older-than", "", "only sessions that began longer ago (24h, 2d)")
	provider := fs.String("provider", "", "only this provider's sessions")
	query := fs.String("query", "", "a visibility query to narrow with")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	q := url.Values{"state": {*state}}
	for k, v := range map[string]string{"older_than": *older, "provider": *provider, "query": *query} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var ans struct {
		Sessions  []operator.Session
		Truncated bool
	}
	raw, err := c.do(ctx, http.MethodGet, "/v1/sessions?"+q.Encode(), nil, &ans)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	c.printSessions(ans.Sessions)
	if ans.Truncated {
		fmt.Fprintf(c.errOut, "(more sessions match: narrow with --older-than or --provider)\n")
	}
	return nil
}

func (c *cli) printSessions(list []operator.Session) {
	rows := make([][]string, 0, len(list))
	for _, s := range list {
		rows = append(rows, []string{s.Provider, s.SessionID, string(s.State), ago(s.StartedAt), s.Why})
	}
	c.table("PROVIDER\tSESSION\tSTATE\tSTARTED\tWHY", rows)
	fmt.Fprintf(c.out, "%d sessions\n", len(list))
}

func (c *cli) quarantine(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("quarantine: ls, show ID or redrive ID")
	}
	sub := args[0]
	fs := c.flags("quarantine " + sub)
	provider := fs.String("provider", "", "only this provider's webhooks")
	since := fs.String("since", "", "only webhooks last delivered since (24h, or an RFC 3339 time)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	switch sub {
	case "ls", "list":
		q := url.Values{}
		if *provider != "" {
			q.Set("provider", *provider)
		}
		if *since != "" {
			q.Set("since", *since)
		}
		var ans struct{ Quarantined []admin.QuarantineView }
		raw, err := c.do(ctx, http.MethodGet, "/v1/quarantine?"+q.Encode(), nil, &ans)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(raw)
		}
		rows := make([][]string, 0, len(ans.Quarantined))
		for _, x := range ans.Quarantined {
			redrive := "-"
			if x.Redrives > 0 {
				redrive = x.RedriveOutcome
			}
			rows = append(rows, []string{x.ID, x.Provider, or(x.SessionID, "-"), fmt.Sprint(x.Deliveries), ago(x.LastAt), x.Reason, redrive})
		}
		c.table("ID\tPROVIDER\tSESSION\tDELIVERIES\tLAST\tREASON\tRE-DRIVE", rows)
		fmt.Fprintf(c.out, "%d quarantined\n", len(rows))
		return nil
	case "show":
		if len(pos) != 1 {
			return errors.New("quarantine show ID")
		}
		raw, err := c.do(ctx, http.MethodGet, "/v1/quarantine/"+url.PathEscape(pos[0]), nil, nil)
		if err != nil {
			return err
		}
		return c.printJSON(raw)
	case "redrive":
		if len(pos) != 1 {
			return errors.New("quarantine redrive ID")
		}
		var v admin.RedriveView
		raw, err := c.do(ctx, http.MethodPost, "/v1/quarantine/"+url.PathEscape(pos[0])+"/redrive", nil, &v,
			http.StatusOK, http.StatusUnprocessableEntity)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(raw)
		}
		fmt.Fprintf(c.out, "%s: %s (%s)\n", v.ID, v.Outcome, v.Detail)
		if v.Outcome != "accepted" {
			return errors.New("not re-driven")
		}
		return nil
	}
	return fmt.Errorf("quarantine %s: want ls, show or redrive", sub)
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

func (c *cli) act(ctx context.Context, action string, args []string) error {
	fs := c.flags(action)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%s PROVIDER SESSION_ID", action)
	}
	var r operator.Result
	raw, err := c.do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(pos[0])+"/"+url.PathEscape(pos[1])+"/"+action, nil, &r,
		http.StatusOK, http.StatusBadGateway)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	fmt.Fprintf(c.out, "%s %s: %s: %s\n", action, r.WorkflowID(), r.Outcome, r.Detail)
	if r.Outcome == operator.OutcomeFailed {
		return errors.New(action + " failed")
	}
	return nil
}

// onboarding acts on a user's onboarding: retry hands again what the store
// owes it (what a terminated run held).
func (c *cli) onboarding(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "retry" {
		return errors.New("onboarding retry USER_ID")
	}
	pos, err := parse(c.flags("onboarding retry"), args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("onboarding retry USER_ID")
	}
	var r admin.OnboardingRetryView
	raw, err := c.do(ctx, http.MethodPost, "/v1/onboarding/"+url.PathEscape(pos[0])+"/retry", struct{}{}, &r)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	fmt.Fprintf(c.out, "onboarding retry: %s (changes handed again: %d)\n", r.Outcome, r.Handed)
	return nil
}

func (c *cli) bulk(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("bulk resync|retry|restart --state S …")
	}
	req := admin.OperationRequest{Action: operator.Action(args[0])}
	fs := c.flags("bulk " + args[0])
	fs.StringVar((*string)(&req.State), "state", "", "waiting, polling, failed or stuck")
	fs.StringVar(&req.OlderThan, "older-than", "", "only sessions that began longer ago (24h, 2d)")
	fs.StringVar(&req.Provider, "provider", "", "only this provider's sessions")
	fs.StringVar(&req.Query, "query", "", "a visibility query to narrow with")
	fs.IntVar(&req.RatePerSecond, "rate", 10, "sessions a second")
	yes := fs.Bool("yes", false, "start without asking, after printing the dry run")
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	// 1. The dry run: what the operation would act on.
	req.DryRun = true
	var dry admin.DryRunView
	raw, err := c.do(ctx, http.MethodPost, "/v1/operations", req, &dry)
	if err != nil {
		return err
	}
	if c.json && !*yes {
		return c.printJSON(raw)
	}
	if !c.json {
		c.printSessions(dry.Sessions)
	}
	if dry.Count == 0 {
		fmt.Fprintln(c.errOut, "nothing to do")
		return nil
	}
	if !*yes {
		fmt.Fprintf(c.errOut, "%s these %d sessions at %d/s? [y/N] ", req.Action, dry.Count, req.RatePerSecond)
		line, _ := c.in.ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return errors.New("not started")
		}
	}
	// 2. The operation, on exactly the sessions the dry run listed.
	req.DryRun, req.Confirm = false, dry.Confirm
	var op admin.OperationView
	if _, err := c.do(ctx, http.MethodPost, "/v1/operations", req, &op, http.StatusAccepted, http.StatusOK); err != nil {
		return err
	}
	fmt.Fprintf(c.errOut, "operation %s started (idvctl operations cancel %s to stop it)\n", op.ID, op.ID)
	return c.follow(ctx, op.ID)
}

// follow shows an operation's progress until it ends; Ctrl-C cancels it.
func (c *cli) follow(ctx context.Context, id string) error {
	var op admin.OperationView
	for {
		raw, err := c.do(context.WithoutCancel(ctx), http.MethodGet, "/v1/operations/"+url.PathEscape(id), nil, &op)
		if err != nil {
			return err
		}
		if !c.json {
			fmt.Fprintf(c.errOut, "\r%s", bar(op.Done, op.Total, 30))
		}
		if op.State != operator.OperationRunning {
			if !c.json {
				fmt.Fprintln(c.errOut)
			}
			if c.json {
				return c.printJSON(raw)
			}
			c.printOperation(op)
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(c.errOut, "\ncancelling %s…\n", id)
			if _, err := c.do(context.WithoutCancel(ctx), http.MethodPost, "/v1/operations/"+url.PathEscape(id)+"/cancel", nil, nil); err != nil {
				return err
			}
			ctx = context.WithoutCancel(ctx)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// bar is a text progress bar: [#####-----] 12/50.
func bar(done, total, width int) string {
	filled := 0
	if total > 0 {
		filled = done * width / total
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + fmt.Sprintf("] %d/%d", done, total)
}

func (c *cli) printOperation(op admin.OperationView) {
	fmt.Fprintf(c.out, "operation %s (%s): %s, %d of %d done\n", op.ID, op.Action, op.State, op.Done, op.Total)
	for k, n := range op.Outcomes {
		fmt.Fprintf(c.out, "  %-18s %d\n", k, n)
	}
	for _, f := range op.Failures {
		fmt.Fprintf(c.out, "  failed %s: %s\n", f.WorkflowID(), f.Detail)
	}
}

func (c *cli) operations(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("operations show ID | cancel ID")
	}
	sub := args[0]
	fs := c.flags("operations " + sub)
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("operations %s ID", sub)
	}
	path := "/v1/operations/" + url.PathEscape(pos[0])
	method := http.MethodGet
	switch sub {
	case "show":
	case "cancel":
		path, method = path+"/cancel", http.MethodPost
	default:
		return fmt.Errorf("operations %s: want show or cancel", sub)
	}
	var op admin.OperationView
	raw, err := c.do(ctx, method, path, nil, &op)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	c.printOperation(op)
	return nil
}

func (c *cli) audit(ctx context.Context, args []string) error {
	fs := c.flags("audit")
	q := url.Values{}
	user := fs.String("user", "", "actions on this user")
	target := fs.String("target", "", "actions on this target (a workflow id, quarantine:ID, operation:ID)")
	operation := fs.String("operation", "", "actions of this bulk operation")
	since := fs.String("since", "", "actions since (24h, or an RFC 3339 time)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	for k, v := range map[string]string{"user": *user, "target": *target, "operation": *operation, "since": *since} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var ans struct{ Actions []admin.ActionView }
	raw, err := c.do(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), nil, &ans)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, 0, len(ans.Actions))
	for _, a := range ans.Actions {
		rows = append(rows, []string{a.At.Format(time.RFC3339), a.Action, a.Target, or(a.UserID, "-"), a.Outcome, a.Detail})
	}
	c.table("AT\tACTION\tTARGET\tUSER\tOUTCOME\tDETAIL", rows)
	return nil
}
