package passbase

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// The receiver's Passbase path (decrypt + parse) next to its floor on the
// same bytes: base64 + AES-256-CBC decryption alone, plus encoding/json
// decoding into the same struct. go test -bench . -benchmem ./providers/passbase
// Target: DecryptParse ≤ 1.2 × (FloorDecrypt + FloorDecode).

const benchSecret = "passbase-demo-webhook-secret-32b"

var benchVectors = []string{"authentication-processed", "authentication-review-status-changed", "verification-completed", "verification-reviewed"}

func bodies(b *testing.B, ext string) [][]byte {
	var out [][]byte
	for _, v := range benchVectors {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "passbase", v+ext))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, bytes.TrimSpace(body))
	}
	return out
}

func BenchmarkDecryptParse(b *testing.B) {
	enc := bodies(b, ".enc.txt")
	p, _ := NewWebhooks([]string{benchSecret}, false)
	h := http.Header{"Content-Type": {"text/plain"}}
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range enc {
			plain, err := p.Authenticate(h, body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Parse(plain); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkFloorDecrypt(b *testing.B) {
	enc := bodies(b, ".enc.txt")
	block, _ := aes.NewCipher([]byte(benchSecret))
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range enc {
			raw, err := base64.StdEncoding.DecodeString(string(body))
			if err != nil {
				b.Fatal(err)
			}
			ct := raw[aes.BlockSize:]
			cipher.NewCBCDecrypter(block, raw[:aes.BlockSize]).CryptBlocks(ct, ct)
		}
	}
}

func BenchmarkFloorDecode(b *testing.B) {
	plain := bodies(b, ".json")
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range plain {
			var pl payload
			if err := json.Unmarshal(body, &pl); err != nil {
				b.Fatal(err)
			}
		}
	}
}
