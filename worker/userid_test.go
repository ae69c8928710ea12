package worker_test

import (
	"testing"

	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/worker"
)

// The worker's workflows write IdvUserId in the worker's own form, and a
// form that differs is warned of once per form the process meets, not
// once per webhook.
func TestWorkflowsTakeTheWorkersUserIDForm(t *testing.T) {
	key := "k9Jq2LmZ0xVb7RtYc4WnE1sPaHuD6fGo"
	cfg := worker.Config{UserIDs: userref.Config{Mode: "hmac", Key: key}}
	form := cfg.WorkflowConfig().UserIDs
	if form == nil || form.Mode() != "hmac" || form.Value("ann") != (userref.Config{Mode: "hmac", Key: key}).New().Value("ann") {
		t.Fatalf("workflow config's user id form: %v", form)
	}
	for _, c := range []struct {
		from  string
		first bool
	}{{"plain", true}, {"plain", false}, {"hmac-other-key", true}, {"plain", false}, {"hmac-other-key", false}} {
		if got := form.FirstMismatch(c.from); got != c.first {
			t.Fatalf("FirstMismatch(%s) = %v, want %v", c.from, got, c.first)
		}
	}
}
