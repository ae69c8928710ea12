// Package devcreds holds the credentials of the local dev stack, shared by
// cmd/dev and cmd/simulate. The Veriff pair is the Veriff seed guide's mock,
// so the guide's curl example works unchanged; the Passbase secret is the one
// of the test vectors. They are public: never use them outside development.
package devcreds

const (
	VeriffAPIKey          = "8e4f7cd8-7a19-4d7d-971f-a076407ee03c"
	VeriffSharedSecret    = "abcdef12-abcd-abcd-abcd-abcdef012345"
	PassbaseWebhookSecret = "passbase-demo-webhook-secret-32b"
	PassbaseAPIKey        = "dev-passbase-secret-api-key"
	Namespace             = "default"
)
