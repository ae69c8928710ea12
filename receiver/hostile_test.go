package receiver_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"

	"github.com/idvflow/idvflow/internal/testlog"
)

// hostile is one request an attacker, a broken sender or a confused
// operator might send, and the answer the ack contract gives it.
type hostile struct {
	name        string
	method      string
	path        string
	contentType string
	header      http.Header
	body        []byte
	// raw, when set, is written to the connection as is (for what an
	// http.Client will not send).
	raw    func(c net.Conn)
	status int // 0: the server closes the connection without an answer
	signal bool
}

func signedVeriff(body string) http.Header { return veriffHeaders(hmacHex(veriffSecret, body)) }

func encryptWith(key string, plain []byte) []byte {
	b, err := passbase.Encrypt(key, plain)
	if err != nil {
		panic(err)
	}
	return b
}

func hostileRequests(t *testing.T) []hostile {
	seed := testdata(t, "veriff/decision-approved.seed.json")
	enc := testdata(t, "passbase/verification-reviewed.enc.txt")
	raw, _ := base64.StdEncoding.DecodeString(string(enc))
	decision := func(id string) string { return `{"verification":{"id":"` + id + `","status":"approved"}}` }
	signed := func(name, body string, status int) hostile {
		return hostile{name: name, path: "veriff", contentType: "application/json", header: signedVeriff(body), body: []byte(body), status: status}
	}
	deep := strings.Repeat("[", 12000) + strings.Repeat("]", 12000) // deeper than encoding/json's 10,000

	return []hostile{
		{name: "wrong method GET", method: http.MethodGet, path: "veriff", status: 405},
		{name: "wrong method PUT", method: http.MethodPut, path: "passbase", body: enc, status: 405},
		{name: "unknown provider path", path: "jumio", contentType: "application/json", body: []byte(`{}`), status: 404},
		{name: "path traversal", path: "../admin", contentType: "application/json", body: []byte(`{}`), status: 404},
		{name: "missing content type, unsigned", path: "veriff", body: seed, status: 401},
		{name: "wrong content type, unsigned", path: "veriff", contentType: "application/x-www-form-urlencoded", body: []byte("a=b"), status: 401},
		{name: "empty body, unsigned", path: "veriff", contentType: "application/json", status: 401},
		{name: "empty body, signed", path: "veriff", contentType: "application/json", header: signedVeriff(""), status: 400},
		{name: "announced oversized body", path: "veriff", contentType: "application/json", header: signedVeriff("x"), status: 413,
			raw: func(c net.Conn) {
				fmt.Fprintf(c, "POST /webhooks/veriff HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 5<<20)
			}},
		{name: "actual oversized body (chunked)", path: "veriff", contentType: "application/json", body: bytes.Repeat([]byte("A"), 70<<10), status: 413},
		{name: "slow-drip body ended by the read timeout", status: 408, raw: func(c net.Conn) {
			fmt.Fprintf(c, "POST /webhooks/veriff HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
			for range 40 {
				if _, err := c.Write([]byte("{")); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}},
		signed("invalid UTF-8 in the session id", "{\"verification\":{\"id\":\"\xff\xfe\xfd\",\"status\":\"approved\"}}", 400),
		signed("deeply nested JSON", deep, 400),
		signed("not JSON at all", "approved!", 400),
		signed("JSON array", `[{"verification":{"id":"s","status":"approved"}}]`, 400),
		signed("JSON null: authentic, nothing to route", `null`, 200),
		signed("duplicate keys: the last wins and is checked", `{"verification":{"id":"good-id","id":"../bad","status":"approved"}}`, 400),
		signed("session id empty", decision(""), 400),
		signed("session id 10 KB", decision(strings.Repeat("a", 10<<10)), 400),
		signed("session id with /", decision("abc/def"), 400),
		signed("session id ..", decision(".."), 400),
		signed("session id with a control character", decision(`abc\u0000def`), 400),
		signed("session id with a newline", decision(`abc\ndef`), 400),
		signed("session id with a Unicode look-alike", decision("аbc-def"), 400), // Cyrillic а
		signed("decision without status", `{"verification":{"id":"s-1"}}`, 400),
		// docs/semantics.md R9: every provider string is bounded before Temporal
		signed("vendorData of 5,000 characters", `{"verification":{"id":"s-1","status":"approved","vendorData":"`+strings.Repeat("u", 5000)+`"}}`, 400),
		signed("vendorData with a NUL", `{"verification":{"id":"s-1","status":"approved","vendorData":"a\u0000b"}}`, 400),
		signed("status word of 100 characters", `{"verification":{"id":"s-1","status":"`+strings.Repeat("x", 100)+`"}}`, 400),
		signed("reason code of 100 characters", `{"verification":{"id":"s-1","status":"declined","reasonCode":"`+strings.Repeat("9", 100)+`"}}`, 400),
		signed("decision time in the year 2286", `{"verification":{"id":"s-1","status":"approved","decisionTime":"2286-11-20T17:46:40Z"}}`, 400),
		{name: "Passbase time in the year 2286, authentic", path: "passbase", contentType: "text/plain",
			body: encryptWith(passbaseSecret, []byte(`{"event":"VERIFICATION_REVIEWED","key":"k-1","status":"approved","updated":9999999999}`)), status: 400},
		{name: "uppercase-hex signature (valid)", path: "veriff", contentType: "application/json",
			header: veriffHeaders(strings.ToUpper(hmacHex(veriffSecret, decision("upper-1")))), body: []byte(decision("upper-1")), status: 200, signal: true},
		{name: "valid signature of another body", path: "veriff", contentType: "application/json", header: signedVeriff(decision("other")), body: []byte(decision("this")), status: 401},
		{name: "signature 128 hex digits", path: "veriff", contentType: "application/json",
			header: veriffHeaders(hmacHex(veriffSecret, decision("s")) + hmacHex(veriffSecret, decision("s"))), body: []byte(decision("s")), status: 401},
		{name: "signature with a space inside", path: "veriff", contentType: "application/json",
			header: veriffHeaders(hmacHex(veriffSecret, decision("s"))[:32] + " " + hmacHex(veriffSecret, decision("s"))[32:]), body: []byte(decision("s")), status: 401},
		{name: "client key empty", path: "veriff", contentType: "application/json",
			header: http.Header{"X-Auth-Client": {""}, "X-Hmac-Signature": {hmacHex(veriffSecret, decision("s"))}}, body: []byte(decision("s")), status: 401},
		{name: "valid Veriff body on the Passbase path", path: "passbase", contentType: "application/json", header: veriffHeaders(seedSig), body: seed, status: 401},
		{name: "Passbase ciphertext truncated", path: "passbase", contentType: "text/plain", body: enc[:len(enc)-7], status: 401},
		{name: "Passbase IV only", path: "passbase", contentType: "text/plain", body: []byte(base64.StdEncoding.EncodeToString(raw[:16])), status: 401},
		{name: "Passbase IV and one garbage block", path: "passbase", contentType: "text/plain",
			body: []byte(base64.StdEncoding.EncodeToString(append(append([]byte{}, raw[:16]...), bytes.Repeat([]byte{1}, 16)...))), status: 401},
		{name: "Passbase encrypted with a 16-byte key", path: "passbase", contentType: "text/plain",
			body: encryptWith("sixteen-byte-key", testdata(t, "passbase/verification-reviewed.json")), status: 401},
		{name: "Passbase base64url alphabet", path: "passbase", contentType: "text/plain",
			body: []byte(base64.URLEncoding.EncodeToString(raw)), status: 401},
		{name: "Passbase plain JSON (unencrypted off)", path: "passbase", contentType: "application/json",
			body: testdata(t, "passbase/verification-reviewed.json"), status: 401},
		{name: "Passbase huge number, authentic", path: "passbase", contentType: "text/plain",
			body: encryptWith(passbaseSecret, []byte(`{"event":"VERIFICATION_REVIEWED","key":"k-1","status":"approved","updated":1e400}`)), status: 400},
		{name: "oversized header", path: "veriff", contentType: "application/json",
			header: http.Header{"X-Padding": {strings.Repeat("p", 80<<10)}}, body: seed, status: 431},
	}
}

// TestHostileInput sends every hostile request to the receiver behind the
// production http.Server settings, and checks its documented answer, that no
// signal went to Temporal (but for the one valid request), that nothing
// panicked, and that no log line carries a body.
func TestHostileInput(t *testing.T) {
	cases := hostileRequests(t)
	if len(cases) < 30 {
		t.Fatalf("only %d hostile requests", len(cases))
	}
	var logs testlog.Buffer
	tc := &fakeTemporal{}
	pb, _ := passbase.NewWebhooks([]string{passbaseSecret}, false)
	cfg := receiver.Config{MaxBodyBytes: 64 << 10, SignalTimeout: time.Second, RetryAfter: 30 * time.Second, TaskQueue: "q"}
	h := receiver.New(cfg, tc, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil,
		veriff.NewWebhooks(veriffClient, []string{veriffSecret}), pb).Handler()
	srv := receiver.NewHTTPServer("127.0.0.1:0", 500*time.Millisecond, h)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	base := "http://" + l.Addr().String()
	enc := testdata(t, "passbase/verification-reviewed.enc.txt")

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := tc.count()
			var status int
			if c.raw != nil {
				status = rawRequest(t, l.Addr().String(), c.raw)
			} else {
				method := c.method
				if method == "" {
					method = http.MethodPost
				}
				var body io.Reader = bytes.NewReader(c.body)
				if strings.HasPrefix(c.name, "actual oversized") {
					body = io.MultiReader(bytes.NewReader(c.body)) // no length: chunked
				}
				req, _ := http.NewRequest(method, base+"/webhooks/"+c.path, body)
				for k, v := range c.header {
					req.Header[k] = v
				}
				if c.contentType != "" {
					req.Header.Set("Content-Type", c.contentType)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			}
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			if signalled := tc.count() > before; signalled != c.signal {
				t.Fatalf("signalled %v, want %v", signalled, c.signal)
			}
		})
	}
	out := logs.String()
	if strings.Contains(out, "panic") {
		t.Fatalf("a request panicked:\n%s", out)
	}
	// No body, nor any piece of one, reaches a log line.
	for _, fragment := range []string{`{"`, `[[[`, "MORGAN", "approved!", "aaaaaaaaaaaaaaaa", string(enc[20:40]), "a=b"} {
		if strings.Contains(out, fragment) {
			t.Fatalf("a log line contains %q:\n%s", fragment, out)
		}
	}
}

// rawRequest writes a request by hand and returns the answer's status, or 0
// when the server closed the connection without one.
func rawRequest(t *testing.T, addr string, write func(net.Conn)) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan struct{})
	go func() { write(c); close(done) }()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	<-done
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
