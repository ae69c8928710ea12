package onfido

import (
	"time"

	"github.com/idvflow/idvflow/providers/sim"
)

// Outcomes are the decisions a Scenario can end in (Onfido's run statuses).
var Outcomes = []string{"approved", "declined", "review", "abandoned"}

// timestamp is Onfido's form of a time.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// WebhookBody is a webhook about object id of resource (workflow_run,
// check) as Onfido sends it: compact, under payload.
func WebhookBody(resource, action, id, status string, completed time.Time) []byte {
	path := map[string]string{"workflow_run": "/v3.6/workflow_runs/", "check": "/v3.6/checks/"}[resource]
	return sim.JSON(sim.Object{{Key: "payload", Value: sim.Object{
		{Key: "resource_type", Value: resource},
		{Key: "action", Value: action},
		{Key: "object", Value: sim.Object{
			{Key: "id", Value: id},
			{Key: "status", Value: status},
			{Key: "completed_at_iso8601", Value: timestamp(completed)},
			{Key: "href", Value: "https://api.eu.onfido.com" + path + id},
		}},
	}}})
}

// RunObject is a workflow run as GET /v3.6/workflow_runs/{id} answers it,
// with made-up personal data in its output, which idvflow never reads.
func RunObject(id, userID, status string, created, updated time.Time) []byte {
	return sim.JSON(sim.Object{
		{Key: "id", Value: id},
		{Key: "applicant_id", Value: "0b7e0a5c-2d8e-4a4f-9f1e-idvflowdev01"},
		{Key: "workflow_id", Value: "5b7f1e3a-idvflow-dev-workflow"},
		{Key: "workflow_version_id", Value: 3},
		{Key: "status", Value: status},
		{Key: "dashboard_url", Value: "https://dashboard.onfido.com/results/" + id},
		{Key: "output", Value: sim.Object{{Key: "first_name", Value: sim.FirstName}, {Key: "last_name", Value: sim.LastName},
			{Key: "dob", Value: sim.DateOfBirth}, {Key: "document_number", Value: sim.DocumentNumber}}},
		{Key: "reasons", Value: []any{}},
		{Key: "error", Value: nil},
		{Key: "created_at", Value: timestamp(created)},
		{Key: "updated_at", Value: timestamp(updated)},
		{Key: "customer_user_id", Value: userID},
		{Key: "link", Value: sim.Object{{Key: "url", Value: "https://eu.onfido.app/l/idvflow"}, {Key: "completed_redirect_url", Value: nil}}},
	})
}

// CheckObject is a classic check as GET /v3.6/checks/{id} answers it.
func CheckObject(id, applicantID, status, result string, created time.Time) []byte {
	return sim.JSON(sim.Object{
		{Key: "id", Value: id}, {Key: "created_at", Value: timestamp(created)}, {Key: "status", Value: status},
		{Key: "result", Value: result}, {Key: "applicant_id", Value: applicantID},
		{Key: "report_ids", Value: []any{"report-1"}}, {Key: "href", Value: "/v3.6/checks/" + id},
	})
}

// Scenario is an Onfido Studio workflow run for the simulator.
type Scenario struct {
	Outcome string // one of Outcomes
	UserID  string // default: one per run
}

// Script implements sim.Scenario: the run the API answers, and its
// workflow_run.completed webhook (Onfido sends the run's tasks as
// workflow_task.* events, which idvflow acknowledges and ignores; one
// is sent first).
func (sc Scenario) Script(now time.Time) (sim.Script, error) {
	if err := sim.OneOf("onfido outcome", sc.Outcome, Outcomes); err != nil {
		return sim.Script{}, err
	}
	id := sim.NewUUID()
	user := sc.UserID
	if user == "" {
		user = "user-" + id[:8]
	}
	now = now.UTC().Truncate(time.Millisecond)
	created, done := now.Add(-3*time.Minute), now.Add(-time.Minute)
	s := sim.Script{Provider: Name, SessionID: id, UserID: user, Want: sc.Outcome,
		API: RunObject(id, user, sc.Outcome, created, done)}
	s.Steps = [][][]byte{
		{WebhookBody("workflow_task", "workflow_task.completed", sim.NewUUID(), "completed", created.Add(time.Minute))},
		{WebhookBody("workflow_run", "workflow_run.completed", id, sc.Outcome, done)},
	}
	return s, nil
}
