package integration

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/server/temporaltest"

	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/workflows"
)

// The receiver starts sessions with TypedSearchAttributes and, "when the
// namespace lacks them", retries without. On a real server with SQL
// visibility (the embedded SQLite dev server, PostgreSQL in the production
// shape) an unregistered custom attribute is refused by the alias mapper,
// with "Namespace <ns> has no mapping defined for search attribute X", not
// "search attribute X is not defined": the fallback runs for that refusal
// too, and the webhook does not get the receiver's permanent 400 ("refused
// by the workflow engine as invalid").
//
// Here: a real server whose namespace has none of idvflow's attributes (no
// worker has registered them yet), and the receiver's own SignalWithStart.
func TestUndefinedSearchAttributesFallBackOnARealServer(t *testing.T) {
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	c := srv.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ev := workflows.Event{
		ID: "decision/a/approved/1", Provider: veriff.Name, SessionID: "0c0c0c0c-0000-4000-8000-0000000000a1",
		Type: "decision", Kind: workflows.KindDecision, Decision: "approved", ProviderStatus: "approved",
		UserID: "user-undefined-attributes", UserIDSource: "vendorData", ReceivedAt: time.Now().UTC(),
	}
	if err := receiver.SignalWithStart(ctx, c, "undefined-attributes", ev); err != nil {
		t.Fatalf("SignalWithStart on a namespace without idvflow's search attributes: %v\n"+
			"(the receiver would answer 400 and the provider drop the webhook; the fallback matches only \"search attribute X is not defined\")", err)
	}
}
