package sumsub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idvflow/idvflow/receiver/webhook"
	"github.com/idvflow/idvflow/workflows"
)

// Webhooks checks Sumsub's digest and parses its events.
type Webhooks struct {
	secrets [][]byte
	algs    []Alg
}

// NewWebhooks returns a Webhooks that accepts a digest under any one of
// secrets (more than one while a secret rotates) made with one of algs.
// Neither may be empty: an empty list must never read as "no check".
func NewWebhooks(secrets []string, algs []Alg) (*Webhooks, error) {
	if len(secrets) == 0 {
		return nil, errors.New("SUMSUB_WEBHOOK_SECRETS is empty")
	}
	if len(algs) == 0 {
		return nil, errors.New("SUMSUB_DIGEST_ALGS is empty")
	}
	w := &Webhooks{algs: slices.Clone(algs)}
	for _, s := range secrets {
		w.secrets = append(w.secrets, []byte(s))
	}
	return w, nil
}

// Name implements webhook.Provider.
func (*Webhooks) Name() string { return Name }

// Types implements webhook.Provider: the event types idvflow models.
func (*Webhooks) Types() []string {
	return []string{"applicantCreated", "applicantPending", "applicantPrechecked", "applicantOnHold",
		"applicantReviewed", "applicantReset", "applicantLevelChanged", "applicantWorkflowCompleted"}
}

// Authenticate verifies X-Payload-Digest over the body exactly as
// received (Sumsub pretty-prints its bodies, so nothing re-encoded would
// check). Every failure is the same 401.
func (w *Webhooks) Authenticate(h http.Header, body []byte) ([]byte, error) {
	if err := Verify(w.secrets, w.algs, h.Get(DigestAlgHeader), h.Get(DigestHeader), body); err != nil {
		return nil, fmt.Errorf("%w: %v", webhook.ErrUnauthenticated, err)
	}
	return body, nil
}

// event holds the fields of a Sumsub webhook that idvflow reads. Sumsub
// sends no personal data in webhooks; the reviewers' comments
// (moderationComment, clientComment) are free text and deliberately
// never decoded.
type event struct {
	Type           string          `json:"type"`
	ApplicantID    string          `json:"applicantId"`
	InspectionID   string          `json:"inspectionId"`
	CorrelationID  string          `json:"correlationId"`
	ExternalUserID *string         `json:"externalUserId"`
	ReviewStatus   string          `json:"reviewStatus"`
	CreatedAtMs    json.RawMessage `json:"createdAtMs"`
	ReviewResult   *reviewResult   `json:"reviewResult"`
}

// reviewResult is Sumsub's verdict: reviewAnswer GREEN or RED, and for
// RED whether the applicant may try again (RETRY) or not (FINAL).
type reviewResult struct {
	ReviewAnswer     string   `json:"reviewAnswer"`
	ReviewRejectType string   `json:"reviewRejectType"`
	RejectLabels     []string `json:"rejectLabels"`
}

// userIDSource names the one field Sumsub names the app's user in.
const userIDSource = "externalUserId"

// Parse maps an authentic Sumsub webhook to the workflow's event
// (docs/providers.md, "Sumsub": the mapping and why).
func (w *Webhooks) Parse(body []byte) (workflows.Event, error) {
	var e event
	var malformed *webhook.MalformedError
	if err := webhook.Unmarshal(body, &e); errors.As(err, &malformed) {
		return workflows.Event{}, err
	} else if err != nil {
		return workflows.Event{}, webhook.Malformed("body is not a JSON object of a Sumsub webhook")
	}
	if e.Type == "" {
		return workflows.Event{}, webhook.Malformed("no type")
	}
	kind, modelled := kinds[e.Type]
	if !modelled {
		// applicantAction*, applicantPersonalInfoChanged, applicantDeleted,
		// applicantTagsChanged, videoIdent*, transaction and KYT types,
		// whatever Sumsub adds: an answer other than 2xx would make
		// Sumsub resend it for a day and then disable the webhook.
		return workflows.Event{}, webhook.ErrIgnored
	}
	if err := webhook.CheckSessionID(e.ApplicantID); err != nil {
		return workflows.Event{}, err
	}
	created, err := parseTime("createdAtMs", e.CreatedAtMs)
	if err != nil {
		return workflows.Event{}, err
	}
	if created.IsZero() {
		return workflows.Event{}, webhook.Malformed("no createdAtMs (Sumsub's order of events)")
	}
	ev := workflows.Event{
		Provider:       Name,
		SessionID:      e.ApplicantID,
		Type:           e.Type,
		Kind:           kind,
		ProviderStatus: e.ReviewStatus,
		OccurredAt:     created,
		// The webhook's own creation time, to the millisecond, and its type
		// name one event of one applicant: a resend is the same webhook,
		// so it carries both unchanged (correlationId is not documented as
		// kept by a resend, so it is not the identity).
		ID: e.Type + "/" + created.Format(time.RFC3339Nano),
	}
	if ev.ProviderStatus == "" {
		ev.ProviderStatus = e.Type
	}
	if e.ExternalUserID != nil && *e.ExternalUserID != "" {
		ev.UserID, ev.UserIDSource = *e.ExternalUserID, userIDSource
	}
	switch e.Type {
	case "applicantReviewed":
		d, reason, err := verdict(e.ReviewResult)
		if err != nil {
			return workflows.Event{}, err
		}
		ev.Decision, ev.ReasonCode = d, reason
		// Two reviews that say different things are two events, even of
		// one millisecond: the identity carries what the review says (its
		// verdict and its reject labels), as a resend repeats it.
		ev.ID += "/" + string(d) + "/" + reason
	case "applicantOnHold":
		ev.Decision = workflows.StatusReview
	}
	// What the receiver would refuse is refused here already.
	if err := ev.Validate(); err != nil {
		return workflows.Event{}, webhook.Malformed("%v", err)
	}
	return ev, nil
}

// kinds is what each modelled type means for the session. applicantReviewed
// and applicantOnHold are decisions (their status from verdict, and
// review); applicantPrechecked ("primary data processing is complete") is
// the processed milestone; the rest are progress: applicantReset and
// applicantLevelChanged start the applicant's verification over, which
// decides nothing about the person (the verdict stands until a newer one,
// R2), and applicantWorkflowCompleted is followed by applicantReviewed
// when the workflow decides.
var kinds = map[string]workflows.Kind{
	"applicantCreated":           workflows.KindProgress,
	"applicantPending":           workflows.KindProgress,
	"applicantReset":             workflows.KindProgress,
	"applicantLevelChanged":      workflows.KindProgress,
	"applicantWorkflowCompleted": workflows.KindProgress,
	"applicantPrechecked":        workflows.KindProcessed,
	"applicantOnHold":            workflows.KindDecision,
	"applicantReviewed":          workflows.KindDecision,
}

// verdict maps a reviewResult: GREEN is approved; RED with FINAL is
// declined, with RETRY resubmission_requested (the applicant may upload
// again, so the session stays open). Anything else is refused naming the
// field: guessing a verdict on a person is worse than a 400 that keeps the
// webhook for an operator (and the poll reads the same applicant).
// The reason code is the reject labels, sorted, as many as fit.
func verdict(r *reviewResult) (workflows.Status, string, error) {
	if r == nil {
		return "", "", webhook.Malformed("applicantReviewed without reviewResult")
	}
	switch r.ReviewAnswer {
	case "GREEN":
		return workflows.StatusApproved, "", nil
	case "RED":
		switch r.ReviewRejectType {
		case "FINAL":
			return workflows.StatusDeclined, reasonCode(r.RejectLabels), nil
		case "RETRY":
			return workflows.StatusResubmissionRequested, reasonCode(r.RejectLabels), nil
		}
		return "", "", webhook.Malformed("reviewResult.reviewRejectType is neither FINAL nor RETRY")
	}
	return "", "", webhook.Malformed("reviewResult.reviewAnswer is neither GREEN nor RED")
}

// maxReason is the record's bound on a reason code (R9).
const maxReason = 64

// reasonCode is Sumsub's reject labels (UNSATISFACTORY_PHOTOS, FORGERY, …)
// sorted and joined by commas, cut after the last label that fits in 64
// bytes; the webhook and the poll make it the same way from the same
// labels, so one decision has one reason however it arrives.
func reasonCode(labels []string) string {
	ls := slices.Clone(labels)
	slices.Sort(ls)
	out := ""
	for _, l := range slices.Compact(ls) {
		if l == "" {
			continue
		}
		next := l
		if out != "" {
			next = out + "," + l
		}
		if len(next) > maxReason {
			break
		}
		out = next
	}
	return out
}

// timeLayout is Sumsub's createdAtMs ("2021-05-14 16:00:25.032", UTC);
// the fraction is optional when parsing.
const timeLayout = "2006-01-02 15:04:05.999999999"

// parseTime reads createdAtMs: Sumsub's "yyyy-MM-dd HH:mm:ss.fff" in UTC,
// or milliseconds since the epoch should it ever come as a number. null
// or absent is zero; anything else is refused naming the field.
func parseTime(name string, raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, nil
	}
	if strings.HasPrefix(s, `"`) {
		var v string
		if err := json.Unmarshal(raw, &v); err == nil {
			if v == "" {
				return time.Time{}, nil
			}
			if t, err := time.ParseInLocation(timeLayout, v, time.UTC); err == nil {
				return t, nil
			}
		}
		return time.Time{}, webhook.Malformed("%s is not a time of the form yyyy-MM-dd HH:mm:ss.fff", name)
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 || ms > 1<<50 {
		return time.Time{}, webhook.Malformed("%s is not a time of the form yyyy-MM-dd HH:mm:ss.fff", name)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// FormatTime is t in createdAtMs's form.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000") }
