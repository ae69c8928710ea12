package webhook_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/idvflow/idvflow/receiver/webhook"
)

type inner struct {
	VendorData *string `json:"vendorData"`
}

type outer struct {
	Verification *inner          `json:"verification"`
	Items        []inner         `json:"items"`
	Raw          json.RawMessage `json:"raw"`
	Plain        string
	Skipped      string `json:"-"`
}

func TestUnmarshalNamesAreExact(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		malformed  bool
	}{
		{"exact names", `{"verification":{"vendorData":"u"},"items":[{"vendorData":"v"}],"raw":{"Any":"x","any":"y"},"Plain":"p","other":1}`, false},
		{"unknown names pass", `{"somethingNew":{"VendorData":1}}`, false},
		{"another case at the top", `{"Verification":{"vendorData":"u"}}`, true},
		{"another case inside", `{"verification":{"vendordata":"u"}}`, true},
		{"another case in an array", `{"items":[{"vendorData":"v"},{"VENDORDATA":"w"}]}`, true},
		{"a field twice", `{"verification":{"vendorData":"u","vendorData":"v"}}`, true},
		{"a Go field name in another case", `{"plain":"p"}`, true},
		{"a skipped field's Go name", `{"Skipped":"x"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v outer
			err := webhook.Unmarshal([]byte(tc.body), &v)
			var m *webhook.MalformedError
			if got := errors.As(err, &m); got != tc.malformed || (!tc.malformed && err != nil) {
				t.Fatalf("Unmarshal: %v, want malformed %v", err, tc.malformed)
			}
		})
	}
	var v outer
	if err := webhook.Unmarshal([]byte(`{"verification":{"vendorData":"u"}}`), &v); err != nil || *v.Verification.VendorData != "u" {
		t.Fatalf("decoded %+v, %v", v, err)
	}
	var syntax *json.SyntaxError
	if err := webhook.Unmarshal([]byte(`{"verification":`), &v); err == nil {
		t.Fatal("a cut body decoded")
	} else if err := webhook.Unmarshal([]byte(`{nope}`), &v); !errors.As(err, &syntax) {
		t.Fatalf("not JSON: %v, want a *json.SyntaxError", err)
	}
}
