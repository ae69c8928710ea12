package admin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/receiver/webhook"
)

// OpsStore is the part of the user store the operators' actions use.
type OpsStore interface {
	QuarantineList(ctx context.Context, f userstore.QuarantineFilter) ([]userstore.Quarantined, error)
	QuarantineGet(ctx context.Context, id string) (userstore.Quarantined, error)
	QuarantineRedriven(ctx context.Context, id, outcome string, at time.Time) error
	RecordAction(ctx context.Context, a userstore.Action) error
	Actions(ctx context.Context, f userstore.ActionFilter) ([]userstore.Action, error)
}

// Opener decrypts a quarantined body (payloadcodec.Codec has it).
type Opener interface {
	Open(sealed []byte) ([]byte, error)
}

// Ops is what the operators' routes act with.
type Ops struct {
	Operator *operator.Operator
	Store    OpsStore
	// Opener is nil without payload keys: bodies were not kept.
	Opener Opener
	// Providers parse a re-driven body as the receiver does today.
	Providers providers.Registry
	// HandOwed hands again what the store owes a user's onboarding
	// (activities.Activities.HandOwed); nil: no onboarding retry.
	HandOwed func(ctx context.Context, userID string) (int, error)
}

// WithOps serves the operators' routes: quarantine, sessions that need
// attention, resync, retry, bulk operations and the audit trail.
func (s *Server) WithOps(o Ops) *Server {
	s.ops = &o
	return s
}

// WithOpener opens quarantined bodies with o (the payload keys); call it
// after WithOps.
func (s *Server) WithOpener(o Opener) *Server {
	if s.ops != nil {
		s.ops.Opener = o
	}
	return s
}

// jsonOnly refuses a POST that is not application/json: a web page can
// send a cross-origin form or text/plain POST without asking, but not this
// one, so without a token (loopback only) a page the operator opens still
// cannot act.
func jsonOnly(c *gin.Context) {
	if c.Request.Method == http.MethodPost && c.ContentType() != "application/json" {
		c.AbortWithStatusJSON(http.StatusUnsupportedMediaType, gin.H{"error": "send Content-Type: application/json"})
	}
}

func (s *Server) opsRoutes(v1 *gin.RouterGroup) {
	if s.ops == nil {
		return
	}
	v1.GET("/quarantine", s.quarantineList)
	v1.GET("/quarantine/:id", s.quarantineGet)
	v1.POST("/quarantine/:id/redrive", s.redrive)
	v1.GET("/sessions", s.sessions)
	v1.POST("/sessions/:provider/:sessionID/resync", s.act(operator.ActionResync))
	v1.POST("/sessions/:provider/:sessionID/retry", s.act(operator.ActionRetry))
	v1.POST("/sessions/:provider/:sessionID/restart", s.act(operator.ActionRestart))
	v1.POST("/operations", limitBody(64<<10), s.startOperation)
	v1.GET("/operations/:id", s.operation)
	v1.POST("/operations/:id/cancel", s.cancelOperation)
	v1.GET("/audit", s.audit)
	if s.ops.HandOwed != nil {
		v1.POST("/onboarding/:userID/retry", s.retryOnboarding)
	}
}

// OnboardingRetryView is the answer to an onboarding's retry.
type OnboardingRetryView struct {
	// Outcome is "handed" (Handed changes went to the onboarding again)
	// or "nothing_to_retry" (the store owes it nothing).
	Outcome string `json:"outcome"`
	Handed  int    `json:"handed"`
}

// retryOnboarding hands again what the store owes the user's onboarding:
// what a terminated run held, when no new hand-over started a run that
// took it in (docs/operations.md). Safe at any time, and twice: each change
// is taken once.
func (s *Server) retryOnboarding(c *gin.Context) {
	id, ok := s.onboardingID(c)
	if !ok {
		return
	}
	user := c.Param("userID")
	ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
	defer cancel()
	n, err := s.ops.HandOwed(ctx, user)
	if errors.Is(err, activities.ErrNoPlan) {
		c.JSON(http.StatusConflict, gin.H{"error": err.Error()})
		return
	}
	a := userstore.Action{Action: "onboarding-retry", Target: id, UserID: user, Outcome: "handed", Detail: fmt.Sprintf("changes handed again: %d", n)}
	if n == 0 && err == nil {
		a.Outcome, a.Detail = "nothing_to_retry", "the store owes the onboarding nothing"
	}
	if err != nil {
		a.Outcome, a.Detail = "failed", fmt.Sprintf("changes handed again before an error: %d", n)
		s.log.Warn("onboarding retry", "workflow_id", id, "error", err)
	}
	if s.record(c, a) {
		return
	}
	if err != nil {
		c.JSON(http.StatusBadGateway, gin.H{"error": "the onboarding's retry did not finish; run it again", "handed": n})
		return
	}
	c.JSON(http.StatusOK, OnboardingRetryView{Outcome: a.Outcome, Handed: n})
}

// QuarantineView is one quarantined webhook in the admin API.
type QuarantineView struct {
	ID             string              `json:"id"`
	Provider       string              `json:"provider"`
	SessionID      string              `json:"session_id,omitempty"`
	Integration    string              `json:"integration,omitempty"`
	Reason         string              `json:"reason"`
	Headers        map[string][]string `json:"headers"`
	FirstAt        time.Time           `json:"first_at"`
	LastAt         time.Time           `json:"last_at"`
	Deliveries     int                 `json:"deliveries"`
	Redrives       int                 `json:"redrives"`
	RedriveOutcome string              `json:"redrive_outcome,omitempty"`
	RedrivenAt     *time.Time          `json:"redriven_at,omitempty"`
	BodyKept       bool                `json:"body_kept"`
	// Body is the authentic body, in GET /v1/quarantine/{id} only.
	Body json.RawMessage `json:"body,omitempty"`
	// BodyBase64 is a body that is not JSON, in GET /v1/quarantine/{id}.
	BodyBase64 string `json:"body_base64,omitempty"`
}

func quarantineView(q userstore.Quarantined) QuarantineView {
	v := QuarantineView{
		ID: q.ID, Provider: q.Provider, SessionID: q.SessionID, Integration: q.Integration, Reason: q.Reason,
		Headers: q.Headers, FirstAt: q.FirstAt, LastAt: q.LastAt, Deliveries: q.Deliveries,
		Redrives: q.Redrives, RedriveOutcome: q.RedriveOutcome, BodyKept: q.HasBody,
	}
	if !q.RedrivenAt.IsZero() {
		t := q.RedrivenAt
		v.RedrivenAt = &t
	}
	return v
}

func (s *Server) quarantineList(c *gin.Context) {
	f := userstore.QuarantineFilter{Provider: c.Query("provider")}
	var ok bool
	if f.Since, ok = since(c); !ok {
		return
	}
	list, err := s.ops.Store.QuarantineList(c.Request.Context(), f)
	if err != nil {
		s.dbError(c, "list quarantine", err)
		return
	}
	out := make([]QuarantineView, 0, len(list))
	for _, q := range list {
		out = append(out, quarantineView(q))
	}
	c.JSON(http.StatusOK, gin.H{"quarantined": out})
}

// since reads ?since= (zero when absent); a bad one is answered 400.
func since(c *gin.Context) (time.Time, bool) {
	v := c.Query("since")
	if v == "" {
		return time.Time{}, true
	}
	t, err := sinceTime(v, time.Now())
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return t, false
	}
	return t, true
}

// sinceTime reads ?since= as RFC 3339 or as a duration back from now.
func sinceTime(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("since: want an RFC 3339 time or a duration such as 24h, got %q", v)
}

func (s *Server) quarantined(c *gin.Context) (userstore.Quarantined, bool) {
	q, err := s.ops.Store.QuarantineGet(c.Request.Context(), c.Param("id"))
	if errors.Is(err, userstore.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such quarantined webhook"})
		return q, false
	}
	if err != nil {
		s.dbError(c, "read quarantine", err)
		return q, false
	}
	return q, true
}

func (s *Server) quarantineGet(c *gin.Context) {
	q, ok := s.quarantined(c)
	if !ok {
		return
	}
	v := quarantineView(q)
	if body, err := s.openBody(q); err == nil {
		if json.Valid(body) {
			v.Body = body
		} else {
			v.BodyBase64 = base64.StdEncoding.EncodeToString(body) // what the parser could not read
		}
	}
	c.JSON(http.StatusOK, v)
}

var errNoBody = errors.New("the body was not kept (the receiver had no IDV_PAYLOAD_KEYS)")

func (s *Server) openBody(q userstore.Quarantined) ([]byte, error) {
	if len(q.Body) == 0 {
		return nil, errNoBody
	}
	if s.ops.Opener == nil {
		return nil, errors.New("this worker has no IDV_PAYLOAD_KEYS to open the body with")
	}
	return s.ops.Opener.Open(q.Body)
}

// RedriveView is the answer to a re-drive.
type RedriveView struct {
	ID      string `json:"id"`
	Outcome string `json:"outcome"` // accepted, refused, failed
	Detail  string `json:"detail,omitempty"`
	// WorkflowID is the session the webhook went to.
	WorkflowID string `json:"workflow_id,omitempty"`
	// Already is set when an earlier re-drive was accepted: the webhook
	// is not sent again.
	Already bool `json:"already,omitempty"`
}

// Re-drive outcomes.
const (
	redriveAccepted = "accepted"
	redriveRefused  = "refused"
	redriveFailed   = "failed"
)

// redrive runs a quarantined webhook through today's parser and the
// receiver's own SignalWithStart: accepted, the session takes it as any
// webhook (a repeat of one it has is ignored there); refused, it stays in
// the quarantine with the new reason.
func (s *Server) redrive(c *gin.Context) {
	q, ok := s.quarantined(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if q.Redrives > 0 && strings.HasPrefix(q.RedriveOutcome, redriveAccepted) {
		// Accepted before: the session has it; nothing is sent again.
		v := RedriveView{ID: q.ID, Outcome: redriveAccepted, Detail: "re-driven before, at " + q.RedrivenAt.Format(time.RFC3339), Already: true}
		if s.record(c, userstore.Action{Action: "redrive", Target: "quarantine:" + q.ID, Outcome: "already", Detail: v.Detail}) {
			return
		}
		c.JSON(http.StatusOK, v)
		return
	}
	v, userID := s.redriveOnce(ctx, q)
	at := time.Now().UTC()
	if err := s.ops.Store.QuarantineRedriven(ctx, q.ID, strings.TrimSpace(v.Outcome+": "+v.Detail), at); err != nil {
		s.dbError(c, "record re-drive", err)
		return
	}
	if s.record(c, userstore.Action{Action: "redrive", Target: "quarantine:" + q.ID, UserID: userID, Outcome: v.Outcome, Detail: v.Detail, At: at}) {
		return
	}
	status := http.StatusOK
	switch v.Outcome {
	case redriveRefused:
		status = http.StatusUnprocessableEntity
	case redriveFailed:
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, v)
}

func (s *Server) redriveOnce(ctx context.Context, q userstore.Quarantined) (RedriveView, string) {
	v := RedriveView{ID: q.ID}
	p, ok := s.ops.Providers.Get(q.Provider)
	if !ok {
		v.Outcome, v.Detail = redriveRefused, "unknown provider "+q.Provider
		return v, ""
	}
	body, err := s.openBody(q)
	if err != nil {
		// No body, or none this worker's keys open: that does not clear
		// by itself, so it is not a 503 to come back after.
		v.Outcome, v.Detail = redriveRefused, "cannot be re-driven: "+err.Error()
		return v, ""
	}
	d := receiver.Deliverer{Temporal: s.ops.Operator.Temporal, TaskQueue: s.ops.Operator.TaskQueue, UserRef: s.userRef, Timeout: 10 * time.Second}
	verdict := d.Deliver(ctx, p, receiver.Authentic{Body: body, Integration: q.Integration, FirstReceived: q.FirstAt})
	ev := verdict.Event
	if ev.SessionID != "" {
		v.WorkflowID = operator.Target{Provider: ev.Provider, SessionID: ev.SessionID}.WorkflowID()
	}
	switch verdict.Outcome {
	case receiver.OutcomeAccepted:
		v.Outcome, v.Detail = redriveAccepted, "signalled the "+ev.Type+" webhook to the session"
	case receiver.OutcomeUnavailable:
		// As for the provider's own delivery: try again later.
		v.Outcome, v.Detail = redriveFailed, "temporal unavailable: "+verdict.Err.Error()
	default:
		v.Outcome, v.Detail = redriveRefused, verdict.Reason
	}
	return v, ev.UserID
}

// sessionsFilter reads the listing's filter from the query string.
func sessionsFilter(c *gin.Context) (operator.Filter, error) {
	return filterOf(operator.State(c.Query("state")), c.Query("older_than"), c.Query("provider"), c.Query("query"))
}

// filterOf checks a selection of sessions, as the listing and a bulk
// operation take it.
func filterOf(state operator.State, olderThan, provider, query string) (operator.Filter, error) {
	f := operator.Filter{State: state, Provider: provider, Query: query}
	if !f.State.Known() {
		return f, fmt.Errorf("state: want waiting, polling, failed or stuck, got %q", f.State)
	}
	if olderThan != "" {
		d, err := parseAge(olderThan)
		if err != nil {
			return f, err
		}
		f.OlderThan = d
	}
	if f.Provider != "" && !providerName.MatchString(f.Provider) {
		return f, fmt.Errorf("provider: %q is not a provider name", f.Provider)
	}
	return f, nil
}

// maxAgeDays bounds older_than (ten years): beyond it a duration overflows.
const maxAgeDays = 3650

// parseAge reads a duration, with "d" for days as operators write them.
func parseAge(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= maxAgeDays {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("older_than: want a duration such as 24h or 2d, got %q", v)
	}
	return d, nil
}

func (s *Server) sessions(c *gin.Context) {
	f, err := sessionsFilter(c)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	list, truncated, err := s.ops.Operator.Sessions(c.Request.Context(), f)
	if s.listError(c, err) {
		return
	}
	if list == nil {
		list = []operator.Session{}
	}
	c.JSON(http.StatusOK, gin.H{"sessions": list, "count": len(list), "truncated": truncated})
}

// listError answers a listing's error, if there is one.
func (s *Server) listError(c *gin.Context, err error) bool {
	if err == nil {
		return false
	}
	var invalid *serviceerror.InvalidArgument
	if errors.As(err, &invalid) {
		c.JSON(http.StatusBadRequest, gin.H{"error": "visibility refused the query: " + invalid.Error()})
		return true
	}
	s.log.Warn("list sessions", "error", err)
	c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal unavailable"})
	return true
}

// act does action on the session the path names, now, and answers what
// it did; the audit trail records it.
func (s *Server) act(action operator.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		t := operator.Target{Provider: c.Param("provider"), SessionID: c.Param("sessionID")}
		if _, known := s.ops.Providers.Get(t.Provider); !known || webhook.CheckSessionID(t.SessionID) != nil {
			c.JSON(http.StatusNotFound, gin.H{"error": "no such session"})
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
		defer cancel()
		r, err := s.ops.Operator.Do(ctx, action, t, "")
		if err != nil {
			s.dbError(c, "record operator action", err)
			return
		}
		status := http.StatusOK
		if r.Outcome == operator.OutcomeFailed {
			status = http.StatusBadGateway
		}
		c.JSON(status, r)
	}
}

// OperationRequest is the body of POST /v1/operations.
type OperationRequest struct {
	Action operator.Action `json:"action"`
	State  operator.State  `json:"state"`
	// OlderThan is a duration ("24h", "2d").
	OlderThan string `json:"older_than,omitempty"`
	Provider  string `json:"provider,omitempty"`
	// Query narrows the selection with a visibility query.
	Query         string `json:"query,omitempty"`
	RatePerSecond int    `json:"rate_per_second,omitempty"`
	// DryRun lists what the operation would act on and the Confirm token
	// that starts it; without DryRun, Confirm must be that token.
	DryRun  bool   `json:"dry_run"`
	Confirm string `json:"confirm,omitempty"`
}

// DryRunView is the answer to a dry run.
type DryRunView struct {
	Action    operator.Action    `json:"action"`
	Count     int                `json:"count"`
	Truncated bool               `json:"truncated"`
	Sessions  []operator.Session `json:"sessions"`
	// Confirm starts this operation on exactly these sessions.
	Confirm string `json:"confirm"`
}

// OperationView is a bulk operation's state.
type OperationView struct {
	operator.Progress
	WorkflowID string `json:"workflow_id"`
}

const defaultRate, maxRate = 10, 100

func (s *Server) startOperation(c *gin.Context) {
	var req OperationRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "body must be JSON: {\"action\", \"state\", \"older_than\", \"provider\", \"query\", \"dry_run\", \"confirm\"}"})
		return
	}
	if !req.Action.Known() {
		c.JSON(http.StatusBadRequest, gin.H{"error": "action: want resync, retry or restart"})
		return
	}
	f, err := filterOf(req.State, req.OlderThan, req.Provider, req.Query)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	rate := req.RatePerSecond
	if rate == 0 {
		rate = defaultRate
	}
	if rate < 1 || rate > maxRate {
		c.JSON(http.StatusBadRequest, gin.H{"error": fmt.Sprintf("rate_per_second: 1 to %d", maxRate)})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 60*time.Second)
	defer cancel()
	if !req.DryRun && validToken(req.Confirm) && s.operationRunning(ctx, operationID(req.Action, req.Confirm)) {
		// The same confirmed request while its operation runs: its
		// progress, whatever the selection is now (the operation's own
		// work changes it).
		s.operationState(c, operationID(req.Action, req.Confirm))
		return
	}
	list, truncated, err := s.ops.Operator.Sessions(ctx, f)
	if s.listError(c, err) {
		return
	}
	targets := make([]operator.Target, len(list))
	for i, x := range list {
		targets[i] = operator.Target{Provider: x.Provider, SessionID: x.SessionID}
	}
	token := confirmToken(req.Action, targets)
	if req.DryRun {
		if list == nil {
			list = []operator.Session{}
		}
		c.JSON(http.StatusOK, DryRunView{Action: req.Action, Count: len(list), Truncated: truncated, Sessions: list, Confirm: token})
		return
	}
	if req.Confirm == "" {
		c.JSON(http.StatusBadRequest, gin.H{"error": "run a dry run first (\"dry_run\": true) and send its \"confirm\" token"})
		return
	}
	if req.Confirm != token {
		c.JSON(http.StatusConflict, gin.H{"error": fmt.Sprintf("the selection changed since the dry run (%d sessions now): run the dry run again", len(targets))})
		return
	}
	if len(targets) == 0 {
		c.JSON(http.StatusOK, gin.H{"status": "nothing to do: the selection is empty", "count": 0})
		return
	}
	// The token names the operation: the same confirmed request again is
	// the same operation, started once. It is recorded before it starts:
	// an operation the audit trail cannot name does not run.
	id := operationID(req.Action, token)
	if s.record(c, userstore.Action{Action: "bulk-" + string(req.Action), Target: "operation:" + id, Outcome: "started", Operation: id,
		Detail: fmt.Sprintf("%d sessions (state %s, older than %s, provider %q, query %q) at %d/s", len(targets), f.State, f.OlderThan, f.Provider, f.Query, rate)}) {
		return
	}
	run, err := s.ops.Operator.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: operator.WorkflowID(id), TaskQueue: s.ops.Operator.TaskQueue,
		// While it runs, the same confirmed request is the same operation;
		// once it has closed, the same request runs it again.
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            fmt.Sprintf("%s %d sessions (%s) at %d/s", req.Action, len(targets), f.State, rate),
	}, operator.WorkflowName, operator.Request{ID: id, Action: req.Action, Filter: f, Targets: targets, RatePerSecond: rate})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		// The same confirmed request while it runs: its progress, and no
		// second "started" in the audit trail.
		s.operationState(c, id)
		return
	}
	if err != nil {
		s.log.Warn("start operation", "error", err)
		// Best effort: the trail says it did not start after all.
		_ = s.ops.Store.RecordAction(c.Request.Context(), userstore.Action{Action: "bulk-" + string(req.Action), Target: "operation:" + id,
			Outcome: "not_started", Operation: id, Detail: "temporal unavailable", At: time.Now().UTC()})
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal unavailable"})
		return
	}
	c.JSON(http.StatusAccepted, OperationView{WorkflowID: run.GetID(), Progress: operator.Progress{
		ID: id, Action: req.Action, State: operator.OperationRunning, Total: len(targets), Outcomes: map[string]int{},
	}})
}

// operationID names the operation of action on the sessions token names.
func operationID(action operator.Action, token string) string { return string(action) + "-" + token }

// validToken reports whether t has the shape of a confirmToken.
func validToken(t string) bool {
	b, err := hex.DecodeString(t)
	return err == nil && len(b) == 8
}

// operationRunning reports whether operation id runs now.
func (s *Server) operationRunning(ctx context.Context, id string) bool {
	d, err := s.ops.Operator.Temporal.DescribeWorkflowExecution(ctx, operator.WorkflowID(id), "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// confirmToken names an action on a set of sessions.
func confirmToken(action operator.Action, targets []operator.Target) string {
	ids := make([]string, len(targets))
	for i, t := range targets {
		ids[i] = t.WorkflowID()
	}
	slices.Sort(ids)
	h := sha256.Sum256([]byte(string(action) + "\n" + strings.Join(ids, "\n")))
	return hex.EncodeToString(h[:8])
}

func (s *Server) operation(c *gin.Context) { s.operationState(c, c.Param("id")) }

// operationState answers operation id's progress: its query while it
// runs, its result once it has closed.
func (s *Server) operationState(c *gin.Context, id string) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	tc := s.ops.Operator.Temporal
	wid := operator.WorkflowID(id)
	d, err := tc.DescribeWorkflowExecution(ctx, wid, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such operation"})
		return
	}
	if err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal unavailable"})
		return
	}
	var p operator.Progress
	switch d.GetWorkflowExecutionInfo().GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		v, qerr := tc.QueryWorkflow(ctx, wid, "", operator.QueryProgress)
		if qerr == nil {
			qerr = v.Get(&p)
		}
		err = qerr
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		err = tc.GetWorkflow(ctx, wid, "").Get(ctx, &p)
	default:
		p = operator.Progress{ID: id, State: operator.StatusWord(d.GetWorkflowExecutionInfo().GetStatus())}
	}
	if err != nil {
		c.JSON(http.StatusConflict, gin.H{"error": "the operation cannot answer now: " + err.Error()})
		return
	}
	c.JSON(http.StatusOK, OperationView{WorkflowID: wid, Progress: p})
}

// cancelOperation stops operation id after the sessions in flight; the
// ones done stay done. Cancelling twice, or a closed one, changes nothing.
func (s *Server) cancelOperation(c *gin.Context) {
	id := c.Param("id")
	if !s.operationRunning(c.Request.Context(), id) {
		// A closed one answers its state (cancelling it changes nothing,
		// and nothing is recorded), an unknown one 404.
		s.operationState(c, id)
		return
	}
	err := s.ops.Operator.Temporal.CancelWorkflow(c.Request.Context(), operator.WorkflowID(id), "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		s.operationState(c, id)
		return
	case err != nil:
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal unavailable"})
		return
	}
	if s.record(c, userstore.Action{Action: "cancel", Target: "operation:" + id, Outcome: "requested", Operation: id}) {
		return
	}
	s.operationState(c, id)
}

// ActionView is one audit record.
type ActionView struct {
	At        time.Time `json:"at"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	UserID    string    `json:"user_id,omitempty"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail,omitempty"`
	Operation string    `json:"operation,omitempty"`
}

func actionViews(list []userstore.Action) []ActionView {
	out := make([]ActionView, 0, len(list))
	for _, a := range list {
		out = append(out, ActionView{At: a.At, Action: a.Action, Target: a.Target, UserID: a.UserID,
			Outcome: a.Outcome, Detail: a.Detail, Operation: a.Operation})
	}
	return out
}

func (s *Server) audit(c *gin.Context) {
	f := userstore.ActionFilter{UserID: c.Query("user"), Target: c.Query("target"), Operation: c.Query("operation")}
	var ok bool
	if f.Since, ok = since(c); !ok {
		return
	}
	list, err := s.ops.Store.Actions(c.Request.Context(), f)
	if err != nil {
		s.dbError(c, "list operator actions", err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"actions": actionViews(list)})
}

// record writes a to the audit trail; it answers and reports true when it
// could not.
func (s *Server) record(c *gin.Context, a userstore.Action) bool {
	if s.ops.Operator.Tel != nil {
		s.ops.Operator.Tel.OperatorActions.WithLabelValues(a.Action, a.Outcome).Inc()
	}
	if err := s.ops.Store.RecordAction(c.Request.Context(), a); err != nil {
		s.dbError(c, "record operator action", err)
		return true
	}
	return false
}

func (s *Server) dbError(c *gin.Context, what string, err error) {
	s.log.Error(what, "error", err)
	c.JSON(http.StatusServiceUnavailable, gin.H{"error": "database unavailable"})
}
