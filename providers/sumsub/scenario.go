package sumsub

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/workflows"
)

// This file builds Sumsub's side of simulated applicants, byte for byte as
// Sumsub sends it (pretty-printed, its fields in Sumsub's order): the
// simulator, the tests and the tools take their webhooks from here.

// Outcomes are the decisions a Scenario can end in.
var Outcomes = []string{"approved", "declined", "resubmission_requested", "review"}

// Result is a review's result as Sumsub gives it.
type Result struct {
	Answer     string   // GREEN or RED
	RejectType string   // FINAL or RETRY, for RED
	Labels     []string // rejectLabels, for RED
}

// results are Sumsub's review results for idvflow's decisions.
var results = map[string]*Result{
	"approved":               {Answer: "GREEN"},
	"declined":               {Answer: "RED", RejectType: "FINAL", Labels: []string{"FORGERY", "DOCUMENT_TEMPLATE"}},
	"resubmission_requested": {Answer: "RED", RejectType: "RETRY", Labels: []string{"UNSATISFACTORY_PHOTOS"}},
}

// NewID is a Sumsub-style id: 24 lowercase hex digits.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *Result) object() sim.Object {
	o := sim.Object{}
	if r.Answer == "RED" {
		labels := make([]any, len(r.Labels))
		for i, l := range r.Labels {
			labels[i] = l
		}
		o = append(o,
			sim.Field{Key: "moderationComment", Value: "We could not verify your document. " + sim.FirstName + ", please try again."},
			sim.Field{Key: "clientComment", Value: "Document number " + sim.DocumentNumber + " did not check."},
			sim.Field{Key: "reviewAnswer", Value: r.Answer},
			sim.Field{Key: "rejectLabels", Value: labels},
			sim.Field{Key: "reviewRejectType", Value: r.RejectType})
		return o
	}
	return append(o, sim.Field{Key: "reviewAnswer", Value: r.Answer})
}

// Subject names a simulated applicant: its ids and the app's user.
type Subject struct{ ID, InspectionID, UserID string }

// WebhookBody is a webhook of type typ about applicant a, created at
// created, in reviewStatus status, with result (applicantReviewed only),
// pretty-printed as Sumsub sends it.
func WebhookBody(a Subject, typ string, created time.Time, status string, result *Result) []byte {
	o := sim.Object{
		{Key: "applicantId", Value: a.ID},
		{Key: "inspectionId", Value: a.InspectionID},
		{Key: "applicantType", Value: "individual"},
		{Key: "correlationId", Value: "req-" + sim.NewUUID()},
		{Key: "levelName", Value: "basic-kyc-level"},
		{Key: "sandboxMode", Value: true},
		{Key: "externalUserId", Value: a.UserID},
		{Key: "type", Value: typ},
	}
	if result != nil {
		o = append(o, sim.Field{Key: "reviewResult", Value: result.object()})
	}
	o = append(o,
		sim.Field{Key: "reviewStatus", Value: status},
		sim.Field{Key: "createdAt", Value: created.UTC().Format("2006-01-02 15:04:05")},
		sim.Field{Key: "createdAtMs", Value: FormatTime(created)},
		sim.Field{Key: "clientId", Value: "idvflow-dev"})
	return Pretty(o)
}

// ApplicantObject is the applicant as GET /resources/applicants/{id}/one
// answers it (compact), with made-up personal data in the fields idvflow
// must never read; reviewed is the review's time (zero: none yet).
func ApplicantObject(a Subject, created time.Time, status string, result *Result, reviewed time.Time) []byte {
	rv := sim.Object{
		{Key: "reviewId", Value: "rvwIdvfl"},
		{Key: "attemptId", Value: "attIdvfl"},
		{Key: "attemptCnt", Value: 1},
		{Key: "levelName", Value: "basic-kyc-level"},
		{Key: "createDate", Value: created.UTC().Format("2006-01-02 15:04:05-0700")},
	}
	if !reviewed.IsZero() {
		// Whole seconds as Sumsub gives them; a fraction only if the time has one.
		rv = append(rv, sim.Field{Key: "reviewDate", Value: reviewed.UTC().Format("2006-01-02 15:04:05.999-0700")})
	}
	if result != nil {
		rv = append(rv, sim.Field{Key: "reviewResult", Value: result.object()})
	}
	rv = append(rv, sim.Field{Key: "reviewStatus", Value: status}, sim.Field{Key: "priority", Value: 0})
	return sim.JSON(sim.Object{
		{Key: "id", Value: a.ID},
		{Key: "createdAt", Value: created.UTC().Format("2006-01-02 15:04:05")},
		{Key: "key", Value: "IDVFLOWKEY"},
		{Key: "clientId", Value: "idvflow-dev"},
		{Key: "inspectionId", Value: a.InspectionID},
		{Key: "externalUserId", Value: a.UserID},
		{Key: "info", Value: sim.Object{
			{Key: "firstName", Value: sim.FirstName},
			{Key: "lastName", Value: sim.LastName},
			{Key: "dob", Value: sim.DateOfBirth},
			{Key: "idDocs", Value: []any{sim.Object{{Key: "idDocType", Value: "PASSPORT"}, {Key: "number", Value: sim.DocumentNumber}}}},
		}},
		{Key: "email", Value: sim.Email},
		{Key: "applicantPlatform", Value: "Web"},
		{Key: "review", Value: rv},
		{Key: "lang", Value: "en"},
		{Key: "type", Value: "individual"},
	})
}

// Scenario is a Sumsub applicant for the simulator (`simulate sumsub`).
type Scenario struct {
	Outcome string // one of Outcomes
	UserID  string // default: one per applicant
}

// Script implements sim.Scenario: the applicant the API answers, then the
// webhooks an applicant sends on its way to the outcome, one step each.
func (sc Scenario) Script(now time.Time) (sim.Script, error) {
	if err := sim.OneOf("sumsub outcome", sc.Outcome, Outcomes); err != nil {
		return sim.Script{}, err
	}
	a := Subject{ID: NewID(), InspectionID: NewID(), UserID: sc.UserID}
	if a.UserID == "" {
		a.UserID = "user-" + a.ID[:8]
	}
	// Whole seconds, so the webhook's createdAtMs and the API's reviewDate
	// name one time.
	now = now.UTC().Truncate(time.Second)
	created, pending, prechecked, decided := now.Add(-4*time.Minute), now.Add(-3*time.Minute), now.Add(-2*time.Minute), now.Add(-time.Minute)
	result := results[sc.Outcome]
	s := sim.Script{Provider: Name, SessionID: a.ID, UserID: a.UserID, Want: sc.Outcome}
	step := func(b []byte) { s.Steps = append(s.Steps, [][]byte{b}) }
	step(WebhookBody(a, "applicantCreated", created, "init", nil))
	step(WebhookBody(a, "applicantPending", pending, "pending", nil))
	step(WebhookBody(a, "applicantPrechecked", prechecked, "prechecked", nil))
	if sc.Outcome == "review" {
		s.API = ApplicantObject(a, created, "onHold", nil, time.Time{})
		step(WebhookBody(a, "applicantOnHold", decided, "onHold", nil))
		return s, nil
	}
	s.API = ApplicantObject(a, created, "completed", result, decided)
	step(WebhookBody(a, "applicantReviewed", decided, "completed", result))
	return s, nil
}

// Generator implements sim.Generated.
func (Provider) Generator() sim.Generator { return generator{} }

// generator makes Sumsub's webhooks of generated schedules: every webhook
// names the user in externalUserId and has its createdAtMs; a resend is
// the same webhook. onHold (review) is not drawn: the API's answer for it
// has no time of its own, which a generated API answer must have.
type generator struct{}

func (generator) Draws() sim.Draws {
	return sim.Draws{
		Statuses:    []string{"approved", "declined", "resubmission_requested"},
		ReasonCodes: []string{"", "", "UNSATISFACTORY_PHOTOS", "DOCUMENT_TEMPLATE,FORGERY"},
	}
}

func genResult(ev sim.Event) *Result {
	r := *results[ev.Status]
	r.Labels = nil
	if r.Answer == "RED" && ev.ReasonCode != "" {
		r.Labels = strings.Split(ev.ReasonCode, ",")
	}
	return &r
}

func genApplicant(ev sim.Event) Subject {
	return Subject{ID: ev.SessionID, InspectionID: "insp" + ev.SessionID, UserID: ev.UserID}
}

func (generator) Body(ev sim.Event) []byte {
	a := genApplicant(ev)
	switch ev.Kind {
	case workflows.KindProgress:
		return WebhookBody(a, "applicantPending", ev.Began, "pending", nil)
	case workflows.KindProcessed:
		return WebhookBody(a, "applicantPrechecked", ev.Began, "prechecked", nil)
	case workflows.KindDecision:
		return WebhookBody(a, "applicantReviewed", ev.At, "completed", genResult(ev))
	case workflows.KindOther: // a type idvflow does not model: acknowledged, not signalled
		return WebhookBody(a, "applicantActionPending", ev.Began.Add(time.Duration(ev.N)*time.Millisecond), "pending", nil)
	}
	return nil
}

func (generator) API(sessionID, userID string, start time.Time, latest *sim.Event) []byte {
	a := Subject{ID: sessionID, InspectionID: "insp" + sessionID, UserID: userID}
	if latest == nil {
		return ApplicantObject(a, start, "pending", nil, time.Time{})
	}
	return ApplicantObject(a, start, "completed", genResult(*latest), latest.At)
}
