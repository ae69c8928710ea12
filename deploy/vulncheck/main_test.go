package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A govulncheck -format json stream cut down to one vulnerability at each
// level: called (a function in the trace), imported (a package), required (a
// module only), plus one called vulnerability reported at all three levels,
// as govulncheck does.
const stream = `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","go_version":"go1.27.3","db":"file:///db","scan_level":"symbol"}}
{"progress":{"message":"Scanning your code and 412 packages across 230 dependent modules for known vulnerabilities..."}}
{"osv":{"id":"GO-2026-0001","summary":"Panic on two-block frames"}}
{"osv":{"id":"GO-2026-0002","summary":"Open redirect"}}
{"osv":{"id":"GO-2026-0003","summary":"openpgp"}}
{"osv":{"id":"GO-2026-0004","summary":"Rate limiter bypass"}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.20.2","trace":[{"module":"github.com/klauspost/compress","version":"v1.18.7"}]}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.20.2","trace":[{"module":"github.com/klauspost/compress","version":"v1.18.7","package":"github.com/klauspost/compress/zstd"}]}}
{"finding":{"osv":"GO-2026-0001","fixed_version":"v1.20.2","trace":[{"module":"github.com/klauspost/compress","version":"v1.18.7","package":"github.com/klauspost/compress/zstd","function":"Decode","receiver":"*Decoder"},{"module":"github.com/idvflow/idvflow","package":"github.com/idvflow/idvflow/receiver","function":"Run"}]}}
{"finding":{"osv":"GO-2026-0002","fixed_version":"v4.16.0","trace":[{"module":"github.com/labstack/echo/v4","version":"v4.15.4","package":"github.com/labstack/echo/v4"}]}}
{"finding":{"osv":"GO-2026-0003","fixed_version":"v0.59.0","trace":[{"module":"golang.org/x/crypto","version":"v0.58.0"}]}}
{"finding":{"osv":"GO-2026-0004","trace":[{"module":"github.com/labstack/echo/v4","version":"v4.16.6","package":"github.com/labstack/echo/v4","function":"New"}]}}
`

func TestParseStreamTakesEachVulnerabilityAtItsMostPreciseLevel(t *testing.T) {
	res, err := parseStream(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if res.GoVersion != "go1.27.3" {
		t.Errorf("go version %q, want go1.27.3", res.GoVersion)
	}
	want := map[string]vuln{
		"GO-2026-0001": {ID: "GO-2026-0001", Summary: "Panic on two-block frames", Module: "github.com/klauspost/compress@v1.18.7", Fixed: "v1.20.2", Level: called},
		"GO-2026-0002": {ID: "GO-2026-0002", Summary: "Open redirect", Module: "github.com/labstack/echo/v4@v4.15.4", Fixed: "v4.16.0", Level: imported},
		"GO-2026-0003": {ID: "GO-2026-0003", Summary: "openpgp", Module: "golang.org/x/crypto@v0.58.0", Fixed: "v0.59.0", Level: required},
		"GO-2026-0004": {ID: "GO-2026-0004", Summary: "Rate limiter bypass", Module: "github.com/labstack/echo/v4@v4.16.6", Level: called},
	}
	if len(res.Vulns) != len(want) {
		t.Fatalf("%d vulnerabilities, want %d", len(res.Vulns), len(want))
	}
	for id, w := range want {
		if got := res.Vulns[id]; got == nil || *got != w {
			t.Errorf("%s: got %+v, want %+v", id, got, w)
		}
	}
}

func TestJudge(t *testing.T) {
	res, err := parseStream(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	reason := "no RateLimiter is installed anywhere in the build"
	tests := []struct {
		name        string
		exceptions  map[string]exception
		ok          bool
		unexcepted  []string
		excepted    []string
		stale       []string
		notCalledOK int
	}{
		{name: "no exceptions: both called vulnerabilities fail", exceptions: nil, ok: false,
			unexcepted: []string{"GO-2026-0001", "GO-2026-0004"}, notCalledOK: 2},
		{name: "the unfixable one excepted, the fixable one still fails",
			exceptions: map[string]exception{"GO-2026-0004": {ID: "GO-2026-0004", Reason: reason}}, ok: false,
			unexcepted: []string{"GO-2026-0001"}, excepted: []string{"GO-2026-0004"}, notCalledOK: 2},
		{name: "both excepted passes",
			exceptions: map[string]exception{"GO-2026-0001": {Reason: reason}, "GO-2026-0004": {Reason: reason}}, ok: true,
			excepted: []string{"GO-2026-0001", "GO-2026-0004"}, notCalledOK: 2},
		{name: "an exception for a vulnerability no longer called is stale and fails",
			exceptions: map[string]exception{"GO-2026-0001": {Reason: reason}, "GO-2026-0004": {Reason: reason}, "GO-2026-0003": {Reason: reason}}, ok: false,
			excepted: []string{"GO-2026-0001", "GO-2026-0004"}, stale: []string{"GO-2026-0003"}, notCalledOK: 2},
	}
	ids := func(vs []*vuln) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.ID)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judge(res, tt.exceptions)
			if v.ok() != tt.ok {
				t.Errorf("ok = %v, want %v", v.ok(), tt.ok)
			}
			if got := strings.Join(ids(v.Unexcepted), ","); got != strings.Join(tt.unexcepted, ",") {
				t.Errorf("unexcepted %q, want %q", got, tt.unexcepted)
			}
			if got := strings.Join(ids(v.Excepted), ","); got != strings.Join(tt.excepted, ",") {
				t.Errorf("excepted %q, want %q", got, tt.excepted)
			}
			if got := strings.Join(v.Stale, ","); got != strings.Join(tt.stale, ",") {
				t.Errorf("stale %q, want %q", got, tt.stale)
			}
			if v.NotCalled != tt.notCalledOK {
				t.Errorf("not called %d, want %d", v.NotCalled, tt.notCalledOK)
			}
		})
	}
}

func TestParseExceptions(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    map[string]string
		wantErr string
	}{
		{name: "entries with continued reasons and comments",
			text: "# header\n\nGO-2026-6872: echo's RateLimiter is installed by\n  nobody in this build\nGO-2026-6875: echo's Proxy middleware is used by nobody here\n",
			want: map[string]string{
				"GO-2026-6872": "echo's RateLimiter is installed by nobody in this build",
				"GO-2026-6875": "echo's Proxy middleware is used by nobody here",
			}},
		{name: "an id without a reason", text: "GO-2026-6872\n", wantErr: "want \"GO-YYYY-NNNN: reason\""},
		{name: "a reason too short to say anything", text: "GO-2026-6872: n/a\n", wantErr: "the reason must say why"},
		{name: "a listed id twice", text: "GO-2026-6872: no rate limiter installed anywhere\nGO-2026-6872: no rate limiter installed anywhere\n", wantErr: "listed twice"},
		{name: "a continuation before any entry", text: "  orphan text\n", wantErr: "continuation"},
		{name: "not a Go vulnerability id", text: "CVE-2026-1: something long enough to be a reason\n", wantErr: "want \"GO-YYYY-NNNN: reason\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseExceptions(strings.NewReader(tt.text))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries, want %d", len(got), len(tt.want))
			}
			for id, reason := range tt.want {
				if got[id].Reason != reason {
					t.Errorf("%s: reason %q, want %q", id, got[id].Reason, reason)
				}
			}
		})
	}
}

// The committed files are what CI reads: they must parse.
func TestCommittedPinAndExceptionsParse(t *testing.T) {
	if _, err := readPin("vulndb.version"); err != nil {
		t.Fatal(err)
	}
	ex, err := readExceptionsFile("exceptions.txt")
	if err != nil {
		t.Fatal(err)
	}
	for id := range ex {
		if !strings.HasPrefix(id, "GO-") {
			t.Errorf("exception %q is not a Go vulnerability id", id)
		}
	}
	if tc, err := shippedToolchain(filepath.Join("..", "..", "go.mod")); err != nil || !strings.HasPrefix(tc, "go1.") {
		t.Errorf("go.mod's toolchain line: %q, %v", tc, err)
	}
}

// The exceptions file's reasons rest on this: echo (the Web UI server's
// router) is linked into the dev stack and the load tool only, never into the
// binaries that face providers.
func TestShippedBinariesDoNotLinkEcho(t *testing.T) {
	for _, cmd := range []string{"receiver", "worker"} {
		out, err := exec.Command("go", "list", "-deps", "../../cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps ./cmd/%s: %v\n%s", cmd, err, out)
		}
		for _, pkg := range strings.Fields(string(out)) {
			if strings.HasPrefix(pkg, "github.com/labstack/echo") || strings.HasPrefix(pkg, "github.com/temporalio/ui-server") {
				t.Errorf("cmd/%s links %s", cmd, pkg)
			}
		}
	}
}

func TestChangedEntriesNamesNewAndChangedEntriesOfRequiredModules(t *testing.T) {
	oldDir, newDir := t.TempDir(), t.TempDir()
	write := func(dir, id, pkg, summary string) {
		body := `{"id":"` + id + `","summary":"` + summary + `","affected":[{"package":{"name":"` + pkg + `"}}]}`
		if err := os.WriteFile(filepath.Join(dir, id+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(oldDir, "GO-1", "stdlib", "unchanged")
	write(newDir, "GO-1", "stdlib", "unchanged")
	write(oldDir, "GO-2", "github.com/labstack/echo/v4", "before")
	write(newDir, "GO-2", "github.com/labstack/echo/v4", "after")
	write(newDir, "GO-3", "stdlib", "added")
	write(newDir, "GO-4", "example.com/not/required", "added elsewhere")
	got, err := changedEntries(oldDir, newDir, map[string]bool{"stdlib": true, "github.com/labstack/echo/v4": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"changed GO-2 (github.com/labstack/echo/v4): after",
		"new GO-3 (stdlib): added",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
