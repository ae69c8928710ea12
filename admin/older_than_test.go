package admin

import "testing"

// older_than of more days than a Duration holds is refused, not wrapped
// around: 106752d read as a negative age would be taken by the listing as
// "no age bound" (every session).
func TestOlderThanBeyondADurationIsRefused(t *testing.T) {
	for _, v := range []string{"106752d", "213504d", "9223372036854775807d"} {
		d, err := parseAge(v)
		if err == nil {
			t.Errorf("parseAge(%q) = %v, nil; want an error (or a huge positive age)", v, d)
		}
	}
}
