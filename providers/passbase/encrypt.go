package passbase

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// Encrypt is the body Passbase sends for plain: base64(IV ||
// AES-256-CBC(PKCS#7)) under the 32-byte webhook secret, with a random IV.
// It is Webhooks.Decrypt's inverse: the simulator and the tests build
// Passbase bodies with it, and no other copy exists.
func Encrypt(secret string, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher([]byte(secret))
	if err != nil {
		return nil, fmt.Errorf("passbase webhook secret: %w", err)
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	buf := make([]byte, aes.BlockSize+len(plain)+n)
	iv := buf[:aes.BlockSize]
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	copy(buf[aes.BlockSize:], plain)
	for i := len(buf) - n; i < len(buf); i++ {
		buf[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf[aes.BlockSize:], buf[aes.BlockSize:])
	return []byte(base64.StdEncoding.EncodeToString(buf)), nil
}
