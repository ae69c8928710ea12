package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// idvctl against a real stack: a session whose decision webhook was lost
// is listed, resynced in bulk after the printed dry run, with a progress
// bar, and the audit shows it.
func TestIdvctlAgainstAStack(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.LateEventWindow, wf.ProcessedGrace = time.Second, time.Second
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: wf, T: t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	t.Setenv("IDV_ADMIN_URL", st.Admin.URL)
	t.Setenv("IDV_ADMIN_TOKEN", testkit.AdminToken)

	id, attempt, user := sim.NewUUID(), sim.NewUUID(), "ctl-user"
	v, _ := json.Marshal(veriff.Verification(id, attempt, user, "approved", time.Now().Add(-time.Minute)))
	st.Emulator.Put(veriff.Name, id, v)
	code, _, err := st.Target.Send(context.Background(), veriff.Name, veriff.EventBody(id, attempt, user, veriff.Started))
	if err != nil || code != http.StatusOK {
		t.Fatalf("event: %d %v", code, err)
	}

	ctl := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut, strings.NewReader(""))
		return out.String() + errOut.String(), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := ctl("sessions", "--state", "waiting")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, id) && strings.Contains(out, "no decision since") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session not listed:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Without --yes and no answer on stdin, nothing starts.
	if out, err := ctl("bulk", "resync", "--state", "waiting"); err == nil || !strings.Contains(out, id) {
		t.Fatalf("bulk without confirmation: %v\n%s", err, out)
	}
	out, err := ctl("bulk", "resync", "--state", "waiting", "--yes")
	if err != nil {
		t.Fatalf("bulk resync: %v\n%s", err, out)
	}
	if !strings.Contains(out, "completed, 1 of 1 done") || !strings.Contains(out, "signalled") || !strings.Contains(out, "[##############################] 1/1") {
		t.Fatalf("bulk resync output:\n%s", out)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		if u, err := st.Users.Get(context.Background(), user); err == nil && u.Status == "approved" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("user not approved after the resync")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The onboarding's retry, once the approval's steps ran: nothing owed.
	deadline = time.Now().Add(30 * time.Second)
	for {
		owed, _, err := st.Users.Owed(context.Background(), user, 10, 1<<20)
		if err == nil && len(owed) == 0 && len(st.Notifications(user)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the approval's onboarding steps did not finish")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := ctl("onboarding", "retry", user); err != nil || !strings.Contains(out, "onboarding retry: nothing_to_retry") {
		t.Fatalf("onboarding retry: %v\n%s", err, out)
	}
	out, err = ctl("audit", "--user", user)
	if err != nil || !strings.Contains(out, "resync") || !strings.Contains(out, "signalled") || !strings.Contains(out, "onboarding-retry") {
		t.Fatalf("audit: %v\n%s", err, out)
	}
	out, err = ctl("quarantine", "ls", "--json")
	if err != nil || !strings.Contains(out, `"quarantined"`) {
		t.Fatalf("quarantine ls --json: %v\n%s", err, out)
	}
}
