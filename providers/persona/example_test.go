package persona_test

import (
	"fmt"
	"time"

	"github.com/idvflow/idvflow/providers/persona"
)

// A Persona-Signature is "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">";
// while a secret rotates, one such set per secret, space-separated.
func Example() {
	body := []byte(`{"data":{"type":"event","id":"evt_1"}}`)
	sent := time.Unix(1777885380, 0)
	header := persona.Header(sent, body, []byte("wbhsec_new-secret-0001"), []byte("wbhsec_old-secret-0001"))
	fmt.Println(header[:13])

	// A receiver that still has only the old secret accepts it, within
	// the tolerance of its clock.
	err := persona.Verify([][]byte{[]byte("wbhsec_old-secret-0001")}, header, body, sent.Add(30*time.Second), 5*time.Minute)
	fmt.Println(err)
	// Output:
	// t=1777885380,
	// <nil>
}
