// Package admin serves the operators' API: a user's record, a session's
// live state, and health checks. It listens on loopback by default and
// requires a bearer token anywhere else.
package admin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/record"
	"github.com/idvflow/idvflow/workflows"
)

// Users reads user records.
type Users interface {
	Get(ctx context.Context, userID string) (userstore.User, error)
	Ping(ctx context.Context) error
}

// Temporal is the part of client.Client the admin API uses.
type Temporal interface {
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	CheckHealth(ctx context.Context, req *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// Server is the admin API.
type Server struct {
	users    Users
	temporal Temporal
	token    string
	log      *slog.Logger
	metrics  http.Handler
	codec    http.Handler
	origins  map[string]bool
	userRef  userref.Ref
	ops      *Ops // nil: no operators' routes (WithOps)
}

// New returns the admin API; token may be empty only on loopback (the
// caller checks the address).
func New(users Users, temporal Temporal, token string, log *slog.Logger) *Server {
	return &Server{users: users, temporal: temporal, token: token, log: log}
}

// WithMetrics serves h (Prometheus) at /metrics, behind the token when one
// is set.
func (s *Server) WithMetrics(h http.Handler) *Server {
	s.metrics = h
	return s
}

// WithUserRef says how user ids appear in visibility, for the user's
// sessions query (IDV_USER_ID_ATTRIBUTE).
func (s *Server) WithUserRef(r userref.Ref) *Server {
	s.userRef = r
	return s
}

// WithCodec serves Temporal's remote codec protocol (POST /codec/encode and
// /codec/decode) for codec, so the Web UI shows decrypted payloads while
// Temporal stores ciphertext. Browsers from origins may call it (CORS).
func (s *Server) WithCodec(codec converter.PayloadCodec, origins []string) *Server {
	s.codec = http.StripPrefix("/codec", converter.NewPayloadCodecHTTPHandler(codec))
	s.origins = map[string]bool{}
	for _, o := range origins {
		s.origins[strings.TrimRight(o, "/")] = true
	}
	return s
}

// cors answers the Web UI's preflight and marks answers to allowed origins.
func (s *Server) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin != "" && s.origins[origin] {
		c.Header("Access-Control-Allow-Origin", origin)
		c.Header("Access-Control-Allow-Credentials", "true")
		c.Header("Access-Control-Allow-Methods", "POST, OPTIONS")
		c.Header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
		c.Header("Vary", "Origin")
	}
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
	}
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	g := gin.New()
	// Route on the escaped path: a user id may hold "/" (sent as %2F),
	// and the parameter is unescaped after matching.
	g.UseRawPath, g.UnescapePathValues = true, true
	g.Use(gin.Recovery(), s.checkHost)
	g.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	g.GET("/readyz", s.ready)
	if s.metrics != nil {
		g.GET("/metrics", s.authorize, gin.WrapH(s.metrics))
	}
	if s.codec != nil {
		codec := g.Group("/codec", s.cors, s.authorize, noStore, limitBody(maxCodecBody))
		codec.OPTIONS("/*path", func(*gin.Context) {})
		codec.POST("/encode", gin.WrapH(s.codec))
		codec.POST("/decode", gin.WrapH(s.codec))
	}
	// Every POST is JSON only (jsonOnly): the review's as every operator's.
	v1 := g.Group("/v1", s.authorize, noStore, jsonOnly)
	v1.GET("/users/:userID", s.user)
	v1.GET("/sessions/:provider/:sessionID", s.session)
	v1.GET("/onboarding/:userID", s.onboarding)
	v1.POST("/onboarding/:userID/review", limitBody(4<<10), s.review)
	s.opsRoutes(v1)
	return g
}

// maxCodecBody bounds a codec request: Temporal's payloads are at most
// 2 MiB, and a batch of them as JSON with base64 stays under this.
const maxCodecBody = 8 << 20

// noStore keeps answers that carry personal data (user records, decoded
// payloads) out of every cache.
func noStore(c *gin.Context) { c.Header("Cache-Control", "no-store") }

func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body too large"})
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
	}
}

// checkHost refuses, when the API has no token, a request whose Host is not
// this machine's loopback: a web page the operator opens could otherwise
// rebind its own name to 127.0.0.1 and read /v1/users from the browser.
func (s *Server) checkHost(c *gin.Context) {
	if s.token != "" {
		return
	}
	host := c.Request.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if a, err := netip.ParseAddr(host); (err == nil && a.IsLoopback()) || strings.EqualFold(host, "localhost") {
		return
	}
	c.AbortWithStatusJSON(http.StatusMisdirectedRequest, gin.H{"error": "without IDV_ADMIN_TOKEN the admin API answers only to localhost or a loopback address"})
}

func (s *Server) authorize(c *gin.Context) {
	if s.token == "" {
		return
	}
	got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="idvflow-admin"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthenticated"})
	}
}

func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{"database": "ok", "temporal": "ok"}
	status := http.StatusOK
	if err := s.users.Ping(ctx); err != nil {
		checks["database"], status = "unreachable", http.StatusServiceUnavailable
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], status = "unreachable", http.StatusServiceUnavailable
	}
	c.JSON(status, checks)
}

// UserView is the JSON of GET /v1/users/{id}.
type UserView struct {
	UserID          string    `json:"user_id"`
	Status          string    `json:"status"`
	Provider        string    `json:"provider"`
	SessionID       string    `json:"session_id"`
	UserIDSource    string    `json:"user_id_source"`
	DecidedAt       time.Time `json:"decided_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	ReasonCode      string    `json:"reason_code,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	ScreeningStatus string    `json:"screening_status,omitempty"`
	// StatusKind is "verdict" (approved, declined) or "session_outcome":
	// once a user has a verdict, Status is their newest verdict
	// (docs/semantics.md R2).
	StatusKind string `json:"status_kind"`
	// LatestSession is the newest decision of any kind, of any session:
	// a later session's outcome shows here beside the verdict.
	LatestSession SessionView `json:"latest_session"`
	// SessionsQuery finds the user's sessions in the Web UI's filter (or
	// any visibility query), whether ids are shown plain or hashed.
	SessionsQuery string        `json:"sessions_query"`
	History       []HistoryView `json:"history"`
	// OperatorActions are the operators' actions that named this user
	// (resync, re-drive), oldest first: the audit trail's part of her history.
	OperatorActions []ActionView `json:"operator_actions,omitempty"`
}

// SessionView is one session's decision on the record.
type SessionView struct {
	Provider   string    `json:"provider"`
	SessionID  string    `json:"session_id"`
	Status     string    `json:"status"`
	DecidedAt  time.Time `json:"decided_at"`
	ReasonCode string    `json:"reason_code,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// statusKind names what a status is (docs/semantics.md R1).
func statusKind(status string) string {
	if record.Verdict(status) {
		return "verdict"
	}
	return "session_outcome"
}

// HistoryView is one applied change.
type HistoryView struct {
	Kind       string    `json:"kind"`
	Status     string    `json:"status"`
	Provider   string    `json:"provider"`
	SessionID  string    `json:"session_id"`
	DecidedAt  time.Time `json:"decided_at"`
	ReasonCode string    `json:"reason_code,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	AppliedAt  time.Time `json:"applied_at"`
}

func (s *Server) user(c *gin.Context) {
	u, err := s.users.Get(c.Request.Context(), c.Param("userID"))
	if errors.Is(err, userstore.ErrNotFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such user"})
		return
	}
	if err != nil {
		s.log.Error("read user", "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "database unavailable"})
		return
	}
	v := UserView{
		UserID: u.UserID, Status: u.Status, Provider: u.Provider, SessionID: u.SessionID,
		UserIDSource: u.UserIDSource, DecidedAt: u.DecidedAt, UpdatedAt: u.UpdatedAt,
		ReasonCode: u.ReasonCode, Reason: u.Reason, ScreeningStatus: u.ScreeningStatus,
		StatusKind: statusKind(u.Status), LatestSession: SessionView(u.LatestSession),
		SessionsQuery: fmt.Sprintf("%s = %q", workflows.AttrUserID.GetName(), s.userRef.Value(u.UserID)),
		History:       make([]HistoryView, 0, len(u.History)),
	}
	for _, h := range u.History {
		v.History = append(v.History, HistoryView(h))
	}
	if s.ops != nil {
		acts, err := s.ops.Store.Actions(c.Request.Context(), userstore.ActionFilter{UserID: u.UserID})
		if err != nil {
			s.dbError(c, "list operator actions", err)
			return
		}
		v.OperatorActions = actionViews(acts)
	}
	c.JSON(http.StatusOK, v)
}

// providerName is the shape of a provider's name (providers.Provider).
var providerName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func (s *Server) session(c *gin.Context) {
	provider, sessionID := c.Param("provider"), c.Param("sessionID")
	// Any provider name may be asked for: an unknown one has no workflow,
	// so Temporal answers not found. The check keeps workflow ids clean.
	if !providerName.MatchString(provider) {
		c.JSON(http.StatusNotFound, gin.H{"error": "unknown provider"})
		return
	}
	if webhook.CheckSessionID(sessionID) != nil {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such session"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	val, err := s.temporal.QueryWorkflow(ctx, workflows.WorkflowID(provider, sessionID), "", workflows.QueryState)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such session"})
		return
	}
	var queryFailed *serviceerror.QueryFailed
	var precondition *serviceerror.FailedPrecondition
	if errors.As(err, &queryFailed) || errors.As(err, &precondition) {
		// Temporal answered: the session itself cannot (its workflow task
		// is failing, for example on a worker configured unlike the others).
		s.log.Warn("session cannot answer its state query", "workflow_id", workflows.WorkflowID(provider, sessionID), "error", err)
		c.JSON(http.StatusConflict, gin.H{"error": "the session cannot answer now: " + err.Error()})
		return
	}
	if err != nil {
		s.log.Warn("query session state", "workflow_id", workflows.WorkflowID(provider, sessionID), "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal unavailable"})
		return
	}
	var st workflows.SessionState
	if err := val.Get(&st); err != nil {
		c.JSON(http.StatusInternalServerError, gin.H{"error": "cannot decode session state"})
		return
	}
	c.JSON(http.StatusOK, st)
}

// onboarding answers the user's onboarding state: the change whose steps
// run, the step, the gate it waits at, the queue and the last outcomes.
func (s *Server) onboarding(c *gin.Context) {
	id, ok := s.onboardingID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	val, err := s.temporal.QueryWorkflow(ctx, id, "", onboarding.QueryState)
	if s.temporalError(c, id, err) {
		return
	}
	var st onboarding.State
	if err := val.Get(&st); err != nil {
		c.JSON(http.StatusInternalServerError, gin.H{"error": "cannot decode onboarding state"})
		return
	}
	c.JSON(http.StatusOK, st)
}

// review completes the review gate of the change the body names, with the
// onboarding's review Update; it answers when the onboarding took it.
func (s *Server) review(c *gin.Context) {
	var rv onboarding.Review
	if err := c.ShouldBindJSON(&rv); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": "body must be JSON: {\"change_id\", \"outcome\", \"reviewer\"}"})
		return
	}
	if err := rv.Check(); err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	id, ok := s.onboardingID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: onboarding.UpdateReview, Args: []any{rv},
		// The change id and reviewer name the answer: a retried request
		// is the same Update, taken once.
		UpdateID:     "review/" + rv.ChangeID + "/" + rv.Outcome + "/" + rv.Reviewer,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var st onboarding.State
	if err == nil {
		err = h.Get(ctx, &st)
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		// The onboarding refused it (no such change at the gate).
		c.JSON(http.StatusConflict, gin.H{"error": appErr.Message()})
		return
	}
	if s.temporalError(c, id, err) {
		return
	}
	s.log.Info("review gate answered", "workflow_id", id, "change", rv.ChangeID, "outcome", rv.Outcome, "reviewer", rv.Reviewer)
	c.JSON(http.StatusOK, st)
}

// onboardingID is the workflow id of the onboarding of the user the path
// names; a user id no record can hold (R9) is answered 404 here, before
// Temporal is asked.
func (s *Server) onboardingID(c *gin.Context) (string, bool) {
	user := c.Param("userID")
	if record.CheckString("user id", user, record.MaxUserID) != nil || user == "" {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such user"})
		return "", false
	}
	return onboarding.WorkflowID(s.userRef.Value(user)), true
}

// temporalError answers err, if there is one, and reports whether it did.
func (s *Server) temporalError(c *gin.Context, id string, err error) bool {
	var notFound *serviceerror.NotFound
	var queryFailed *serviceerror.QueryFailed
	var precondition *serviceerror.FailedPrecondition
	var invalid *serviceerror.InvalidArgument
	switch {
	case err == nil:
		return false
	case errors.As(err, &notFound):
		c.JSON(http.StatusNotFound, gin.H{"error": "no onboarding open for this user"})
	case errors.As(err, &queryFailed) || errors.As(err, &precondition):
		// Temporal answered: the onboarding itself cannot (its workflow
		// task is failing).
		s.log.Warn("onboarding cannot answer", "workflow_id", id, "error", err)
		c.JSON(http.StatusConflict, gin.H{"error": "the onboarding cannot answer now: " + err.Error()})
	case errors.As(err, &invalid):
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
	default:
		s.log.Warn("onboarding call", "workflow_id", id, "error", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "temporal unavailable"})
	}
	return true
}
