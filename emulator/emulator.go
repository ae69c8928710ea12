// Package emulator is a local stand-in for the providers' APIs, which cannot
// be reached from development machines or tests: Passbase
// GET /verification/v2/identities/{id} and Veriff
// GET /v1/sessions/{id}/decision, with their authentication and their error
// answers (400, 401, 404, 429 with Retry-After, 5xx).
//
// Tests and the simulator load it with identities and decisions, directly or
// through its control routes under /_emulator/, and can make the next calls
// for a session fail.
package emulator

import (
	"crypto/subtle"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	veriffp "github.com/idvflow/idvflow/providers/veriff"
)

// Config holds the credentials the emulated APIs accept.
type Config struct {
	PassbaseAPIKey string
	VeriffAPIKey   string
	VeriffSecret   string
	// VeriffMore are further Veriff integrations: API key -> secret.
	VeriffMore map[string]string
	// StateFile, if set, keeps identities and decisions across restarts.
	StateFile string
	// FaultRate (0..1) makes that share of API calls fail at random: 500,
	// 429 with Retry-After, or an answer slower than FaultDelay.
	FaultRate  float64
	FaultDelay time.Duration
}

// APIEnv is what a worker's environment must say to call the emulator
// served at baseURL with c's credentials (the default integration's).
func (c Config) APIEnv(baseURL string) map[string]string {
	return map[string]string{
		"VERIFF_API_KEY": c.VeriffAPIKey, "VERIFF_SHARED_SECRETS": c.VeriffSecret, "VERIFF_BASE_URL": baseURL,
		"PASSBASE_API_KEY": c.PassbaseAPIKey, "PASSBASE_BASE_URL": baseURL + "/verification/v2",
	}
}

// Emulator serves the emulated APIs. It is safe for concurrent use.
type Emulator struct {
	cfg Config

	mu         sync.Mutex
	identities map[string]json.RawMessage
	decisions  map[string]json.RawMessage // session id -> verification object
	faults     map[string][]Fault
	calls      map[string]int
	answers    map[string][]int  // id -> statuses served, in order
	clients    map[string]string // Veriff session id -> last API key that read it
}

// Fault is one planned failure: an HTTP status (with Retry-After for 429 and
// 503), or a delay before answering.
type Fault struct {
	Status int           `json:"status"`
	Delay  time.Duration `json:"delay"`
}

// New returns an emulator, loaded from cfg.StateFile when it exists.
func New(cfg Config) *Emulator {
	e := &Emulator{
		cfg:        cfg,
		identities: map[string]json.RawMessage{},
		decisions:  map[string]json.RawMessage{},
		faults:     map[string][]Fault{},
		calls:      map[string]int{},
		answers:    map[string][]int{},
		clients:    map[string]string{},
	}
	if cfg.StateFile != "" {
		if b, err := os.ReadFile(cfg.StateFile); err == nil {
			var st state
			if json.Unmarshal(b, &st) == nil {
				maps.Copy(e.identities, st.Identities)
				maps.Copy(e.decisions, st.Decisions)
			}
		}
	}
	return e
}

// state is what StateFile holds.
type state struct {
	Identities map[string]json.RawMessage `json:"identities"`
	Decisions  map[string]json.RawMessage `json:"decisions"`
}

// save writes the state file; the caller holds e.mu. It writes a temporary
// file and renames it, so a crash never leaves half a file.
func (e *Emulator) save() {
	if e.cfg.StateFile == "" {
		return
	}
	b, err := json.Marshal(state{Identities: e.identities, Decisions: e.decisions})
	if err != nil {
		return
	}
	tmp := e.cfg.StateFile + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		_ = os.Rename(tmp, e.cfg.StateFile)
	}
}

// PutIdentity stores the Passbase identity returned for its "id".
func (e *Emulator) PutIdentity(id string, identity json.RawMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.identities[id] = identity
	e.save()
}

// PutDecision stores the Veriff verification object returned for a session;
// nil means "no decision yet".
func (e *Emulator) PutDecision(sessionID string, verification json.RawMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.decisions[sessionID] = verification
	e.save()
}

// FailNext makes the next calls for id answer with faults, in order.
func (e *Emulator) FailNext(id string, faults ...Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults[id] = append(e.faults[id], faults...)
}

// Calls returns how many API calls were made for id.
func (e *Emulator) Calls(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[id]
}

// Answers returns the HTTP statuses served for id's API calls, in order (0
// for a call its caller abandoned), so a test can tell a retried transient
// fault from a repeated permanent one.
func (e *Emulator) Answers(id string) []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.answers[id]...)
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Handler returns the emulated APIs and the control routes.
func (e *Emulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /verification/v2/identities/{id}", e.logAnswer(e.passbaseIdentity))
	mux.HandleFunc("GET /v1/sessions/{id}/decision", e.logAnswer(e.veriffDecision))
	mux.HandleFunc("PUT /_emulator/passbase/identities/{id}", e.controlPut(e.PutIdentity))
	mux.HandleFunc("PUT /_emulator/veriff/sessions/{id}/decision", e.controlPut(e.PutDecision))
	mux.HandleFunc("POST /_emulator/faults/{id}", e.controlFaults)
	return mux
}

func (e *Emulator) passbaseIdentity(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !e.countAndFault(w, id) {
		return
	}
	if e.cfg.PassbaseAPIKey == "" || !equal(r.Header.Get("X-API-KEY"), e.cfg.PassbaseAPIKey) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "your api_key is invalid"})
		return
	}
	if !uuidPattern.MatchString(id) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "bad input parameter: id must be a UUID"})
		return
	}
	e.mu.Lock()
	ident, ok := e.identities[id]
	e.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "identity not found with the given ID"})
		return
	}
	writeRaw(w, http.StatusOK, ident)
}

func (e *Emulator) veriffDecision(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !e.countAndFault(w, id) {
		return
	}
	client := r.Header.Get("X-AUTH-CLIENT")
	secret, known := e.veriffSecret(client)
	if !known {
		writeJSON(w, http.StatusUnauthorized, veriffFail("Mandatory X-AUTH-CLIENT header containing the API key is missing or invalid"))
		return
	}
	if !veriffp.Verify([][]byte{[]byte(secret)}, []byte(id), r.Header.Get("X-HMAC-SIGNATURE")) {
		writeJSON(w, http.StatusUnauthorized, veriffFail("Signature does not match the session id signed with the shared secret"))
		return
	}
	e.mu.Lock()
	v, ok := e.decisions[id]
	e.clients[id] = client
	e.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, veriffFail("Session not found"))
		return
	}
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	writeRaw(w, http.StatusOK, []byte(`{"status":"success","verification":`+string(v)+`}`))
}

// logAnswer records the status each API call for {id} was answered with.
func (e *Emulator) logAnswer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		if r.Context().Err() != nil {
			sw.status = 0 // the caller gave up (a slow answer past its timeout)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.answers[r.PathValue("id")] = append(e.answers[r.PathValue("id")], sw.status)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// veriffSecret is the shared secret of the integration whose API key is key.
func (e *Emulator) veriffSecret(key string) (string, bool) {
	ins := []veriffp.Integration{{APIKey: e.cfg.VeriffAPIKey, SharedSecrets: []string{e.cfg.VeriffSecret}}}
	for k, s := range e.cfg.VeriffMore {
		ins = append(ins, veriffp.Integration{APIKey: k, SharedSecrets: []string{s}})
	}
	in, ok := veriffp.Find(ins, key)
	if !ok {
		return "", false
	}
	return in.SharedSecrets[0], true
}

// VeriffClient returns the API key (X-AUTH-CLIENT) of the last authentic
// decision read for a Veriff session, so a test can tell which integration
// polled it.
func (e *Emulator) VeriffClient(sessionID string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clients[sessionID]
}

func veriffFail(msg string) map[string]string {
	return map[string]string{"status": "fail", "message": msg}
}

// countAndFault counts the call and answers the next planned fault, if any;
// it returns false when it answered.
func (e *Emulator) countAndFault(w http.ResponseWriter, id string) bool {
	e.mu.Lock()
	e.calls[id]++
	var f *Fault
	if q := e.faults[id]; len(q) > 0 {
		f, e.faults[id] = &q[0], q[1:]
	} else if e.cfg.FaultRate > 0 && rand.Float64() < e.cfg.FaultRate {
		random := []Fault{{Status: 500}, {Status: 429}, {Status: 503}, {Delay: e.cfg.FaultDelay}}[rand.IntN(4)]
		f = &random
	}
	e.mu.Unlock()
	if f == nil {
		return true
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.Status == 0 {
		return true
	}
	if f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, f.Status, map[string]string{"message": http.StatusText(f.Status)})
	return false
}

func (e *Emulator) controlPut(put func(string, json.RawMessage)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body json.RawMessage
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "body must be JSON"})
			return
		}
		if string(body) == "null" {
			body = nil
		}
		put(r.PathValue("id"), body)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (e *Emulator) controlFaults(w http.ResponseWriter, r *http.Request) {
	var faults []Fault
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&faults); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": `body must be [{"status":500}, …]`})
		return
	}
	e.FailNext(r.PathValue("id"), faults...)
	w.WriteHeader(http.StatusNoContent)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client went away
}
