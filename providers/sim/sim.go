// Package sim is what the providers' scenario builders share: a simulated
// session (Script), made-up personal data, JSON objects whose fields keep
// their order, and provider-style ids. Each provider package builds its
// own webhooks with these, byte for byte as the provider sends them; the
// simulator, the tests and the tools take them from there.
//
// The personal data is made up; it is there so tests can prove it never
// reaches Temporal or the logs.
package sim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Made-up personal data carried by simulated payloads.
const (
	FirstName      = "SIMONA"
	LastName       = "TESTPERSON"
	DateOfBirth    = "1981-02-03"
	DocumentNumber = "SIMDOC4711X"
	Email          = "simona.testperson@example.com"
)

// Script is one simulated verification session, as its provider would run
// it: what the provider's API answers for it and the webhooks it sends.
type Script struct {
	Provider  string
	SessionID string
	UserID    string
	// Want is the user status the session should leave.
	Want string
	// API is the object the provider's API answers for the session (the
	// emulator serves it); nil for none.
	API []byte
	// Steps are the webhook bodies in the order they are sent; the bodies
	// of one step are sent together.
	Steps [][][]byte
}

// Scenario is a provider's kind of session (veriff.Scenario,
// passbase.Scenario), made into a Script at now.
type Scenario interface {
	Script(now time.Time) (Script, error)
}

// Object is a JSON object whose fields marshal in order, as the providers
// send them.
type Object []Field

// Field is one field of an Object.
type Field struct {
	Key   string
	Value any
}

// MarshalJSON implements json.Marshaler.
func (o Object) MarshalJSON() ([]byte, error) {
	out := []byte{'{'}
	for i, f := range o {
		if i > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(f.Key)
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}'), nil
}

// JSON marshals v, compact as the providers send it. Builders pass plain
// values only, so a failure is a bug in the builder.
func JSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal: %v", err))
	}
	return b
}

// NewUUID returns a random (version 4) UUID, the form of the providers' ids.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// OneOf returns an error unless v is one of allowed.
func OneOf(what, v string, allowed []string) error {
	for _, a := range allowed {
		if a == v {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want one of %s", what, v, strings.Join(allowed, ", "))
}
