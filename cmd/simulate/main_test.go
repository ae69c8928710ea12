package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idvflow/idvflow/emulator"
)

func TestHelpExitsCleanly(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"veriff", "-h"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if args[0] != "veriff" && !strings.Contains(out.String(), "usage:") {
			t.Fatalf("%v printed %q", args, out.String())
		}
	}
}

// --count lists every user it created and whether each reached the status
// its scenario leads to.
func TestCountReportsEveryUser(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"accepted"}`))
	}))
	defer ok.Close()
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "-2") { // one user is not there yet
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"approved"}`))
	}))
	defer admin.Close()
	emu := httptest.NewServer(emulator.New(emulator.Config{}).Handler())
	defer emu.Close()
	var out bytes.Buffer
	err := run(context.Background(), []string{"veriff", "--count", "3", "--user", "sim", "--receiver", ok.URL,
		"--emulator", emu.URL, "--admin", admin.URL, "--wait", "100ms"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sim-1", "sim-2", "sim-3", "approved (reached)", "- (waiting)", "2 of 3 users reached"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
