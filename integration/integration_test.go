package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

// The stack's credentials: each provider's dev ones.
const (
	veriffKey      = veriff.DevAPIKey
	veriffSecret   = veriff.DevSharedSecret
	passbaseSecret = passbase.DevWebhookSecret
	adminToken     = testkit.AdminToken
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

func startStack(t *testing.T, wf workflows.Config) *testkit.Stack {
	t.Helper()
	st, err := testkit.Start(context.Background(), testkit.Options{Workflow: wf, T: t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// delivery is one webhook as the provider posts it.
type delivery struct {
	path, contentType string
	header            http.Header
	body              []byte
}

// session is one simulated verification and what it must end in.
type session struct {
	provider, id, userID string
	want                 string
	decisions            int // distinct decisions the provider makes
	deliveries           []delivery
}

// providerAPI is where a session's answers for the provider's API go: the
// emulator in this process, or one behind its control routes.
type providerAPI interface {
	Put(provider, id string, obj json.RawMessage)
}

func veriffSession(t *testing.T, emu providerAPI, i int, r *rand.Rand) session {
	id, attempt := sim.NewUUID(), sim.NewUUID()
	s := session{provider: "veriff", id: id, userID: fmt.Sprintf("vf-user-%03d", i)}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	post := func(body []byte) {
		s.deliveries = append(s.deliveries, veriffDelivery(veriffKey, veriffSecret, body))
	}
	post(veriff.EventBody(id, attempt, s.userID, veriff.Started))
	post(veriff.EventBody(id, attempt, s.userID, veriff.Submitted))
	final := []string{"approved", "declined"}[r.IntN(2)]
	if r.IntN(4) == 0 {
		post(veriff.DecisionBody(id, attempt, s.userID, "resubmission_requested", t0))
		s.decisions++
	}
	post(veriff.DecisionBody(id, attempt, s.userID, final, t0.Add(10*time.Minute)))
	s.decisions++
	s.want = final
	v, _ := json.Marshal(veriff.Verification(id, attempt, s.userID, final, t0.Add(10*time.Minute)))
	emu.Put(veriff.Name, id, v)
	return s
}

func passbaseSession(t *testing.T, emu providerAPI, i int, r *rand.Rand) session {
	key := sim.NewUUID()
	s := session{provider: "passbase", id: key, userID: fmt.Sprintf("pb-user-%03d", i)}
	created := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	processed, decided := created.Add(time.Minute), created.Add(5*time.Minute)
	vocab := []string{passbase.VocabularyLegacy, passbase.VocabularyNew}[r.IntN(2)]
	final := []string{"approved", "declined"}[r.IntN(2)]
	post := func(plain []byte) {
		body, err := passbase.Encrypt(passbaseSecret, plain)
		if err != nil {
			t.Fatal(err)
		}
		s.deliveries = append(s.deliveries, delivery{"/webhooks/passbase", "text/plain", nil, body})
	}
	post(passbase.ProcessedBody(vocab, key, s.userID, "pending", created, processed))
	post(passbase.ReviewedBody(vocab, key, s.userID, final, created, decided))
	s.want, s.decisions = final, 1
	if vocab == passbase.VocabularyNew {
		// VERIFICATION_COMPLETED "pending" is a (non-final) decision too.
		s.decisions++
	}
	emu.Put(passbase.Name, key, passbase.IdentityObject(key, s.userID, final, created, decided))
	return s
}

func send(t *testing.T, url string, d delivery) int {
	code, err := post(http.DefaultClient, url, d)
	if err != nil {
		t.Errorf("post %s: %v", d.path, err)
	}
	return code
}

// TestSessionsEndToEnd: 200 sessions across both providers, their webhooks
// shuffled and about 30% delivered twice, end with one user row each, the
// right status, and one applied change per decision.
func TestSessionsEndToEnd(t *testing.T) {
	wf := workflows.DefaultConfig()
	wf.ProcessedGrace = 2 * time.Second
	wf.LateEventWindow = 3 * time.Second
	// A repeat that arrives after its run closed starts a new run; with a
	// short poll delay that run finds the decision at the emulator, changes
	// nothing, and closes, so the test can wait for every run to end.
	wf.DecisionPollAfter = 4 * time.Second
	wf.PollInterval = 2 * time.Second
	st := startStack(t, wf)

	r := rand.New(rand.NewPCG(1, 2))
	var sessions []session
	for i := range 100 {
		sessions = append(sessions, veriffSession(t, st.Emulator, i, r), passbaseSession(t, st.Emulator, i, r))
	}
	var all []delivery
	for _, s := range sessions {
		for _, d := range s.deliveries {
			all = append(all, d)
			if r.Float64() < 0.3 {
				all = append(all, d)
			}
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	t.Logf("%d sessions, %d deliveries", len(sessions), len(all))

	work := make(chan delivery)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				code := send(t, st.Receiver.URL, d)
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	for _, d := range all {
		work <- d
	}
	close(work)
	wg.Wait()
	if codes[http.StatusOK] != len(all) {
		t.Fatalf("answers %v, want %d x 200", codes, len(all))
	}

	waitAllClosed(t, st, sessions, 3*time.Minute)

	// Decisions arrive shuffled: a non-final one that arrives after the
	// final one is older and never applied. So at most one change per
	// decision, none twice, the last the final one; and exactly one for a
	// session with a single decision.
	checkUsers(t, st, sessions)
	for _, s := range sessions {
		u, _ := st.Users.Get(context.Background(), s.userID)
		if u.SessionID != s.id || u.Provider != s.provider || u.History[len(u.History)-1].Status != s.want {
			t.Errorf("%s user %s: %+v", s.provider, s.userID, u)
		}
		if s.decisions == 1 && len(u.History) != 1 {
			t.Errorf("%s user %s: %d changes for one decision", s.provider, s.userID, len(u.History))
		}
	}
}

// waitAllClosed waits until the newest run of every session's workflow has
// completed.
func waitAllClosed(t *testing.T, st *testkit.Stack, sessions []session, limit time.Duration) {
	t.Helper()
	waitClosed(t, st.Temporal.GetDefaultClient(), sessions, limit)
}

// waitClosed waits until every session's workflow completed; any other end
// fails the test.
func waitClosed(t *testing.T, c client.Client, sessions []session, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	pending := sessions
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still open after %s, e.g. %s", len(pending), limit, workflows.WorkflowID(pending[0].provider, pending[0].id))
		}
		var still []session
		for _, s := range pending {
			d, err := c.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(s.provider, s.id), "")
			if err != nil {
				t.Fatalf("describe %s: %v", s.id, err)
			}
			switch d.GetWorkflowExecutionInfo().GetStatus() {
			case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
				still = append(still, s)
			default:
				t.Fatalf("%s: workflow ended %s", s.id, d.GetWorkflowExecutionInfo().GetStatus())
			}
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
}
