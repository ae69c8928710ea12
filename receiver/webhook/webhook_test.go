package webhook_test

import (
	"encoding/json"
	"testing"

	"github.com/idvflow/idvflow/receiver/webhook"
)

func TestScalar(t *testing.T) {
	for raw, want := range map[string]string{
		`102`: "102", `"102"`: "102", `true`: "true", `false`: "false", `null`: "", ``: "",
		` "u-1" `: "u-1", `{"id":1}`: "", `[1,2]`: "", `1e3`: "1e3",
		// JSON escapes that Go's strconv reads otherwise or not at all (R9)
		`"a\/b"`: "a/b", `"\ud83d\ude00"`: "😀", `"tab\tand\u00e9"`: "tab\tandé",
	} {
		if got := webhook.Scalar(json.RawMessage(raw)); got != want {
			t.Errorf("Scalar(%s) = %q, want %q", raw, got, want)
		}
	}
}

func TestCheckSessionID(t *testing.T) {
	for id, ok := range map[string]bool{
		"12df6045-3846-3e45-946a-14fa6136d78b": true, "a": true, "A.b_c-1": true,
		"": false, ".hidden": false, "..": false, "a/b": false, "a b": false, "аbc": false,
		string(make([]byte, 129)): false,
	} {
		if err := webhook.CheckSessionID(id); (err == nil) != ok {
			t.Errorf("CheckSessionID(%q): %v, want ok=%v", id, err, ok)
		}
	}
}
