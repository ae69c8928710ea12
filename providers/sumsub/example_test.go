package sumsub_test

import (
	"fmt"

	"github.com/idvflow/idvflow/providers/sumsub"
)

// X-Payload-Digest is the hex HMAC of the raw body under the webhook's
// secret, with the hash X-Payload-Digest-Alg names; a receiver accepts
// only the algorithms it lists. This is Sumsub's published example.
func Example() {
	body := []byte("someText")
	digest := sumsub.Sign(sumsub.SHA1, []byte("SoMe_SeCrEt_KeY"), body)
	fmt.Println(digest)

	secrets := [][]byte{[]byte("SoMe_SeCrEt_KeY")}
	fmt.Println(sumsub.Verify(secrets, []sumsub.Alg{sumsub.SHA1}, "HMAC_SHA1_HEX", digest, body))
	fmt.Println(sumsub.Verify(secrets, sumsub.DefaultAlgs, "HMAC_SHA1_HEX", digest, body))
	// Output:
	// f6e92ffe371718694d46e28436f76589312df8db
	// <nil>
	// X-Payload-Digest-Alg is not one of SUMSUB_DIGEST_ALGS
}
