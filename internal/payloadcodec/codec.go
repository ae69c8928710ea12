// Package payloadcodec encrypts every Temporal payload idvflow writes
// (workflow inputs, signals, activity inputs and results, query answers)
// with AES-256-GCM, so Temporal's database and anyone reading it see
// ciphertext. The Web UI decodes through the admin API's codec endpoint.
package payloadcodec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/idvflow/idvflow/internal/secrets"
)

// MetadataEncoding marks an encrypted payload; MetadataKeyID names its key.
const (
	MetadataEncoding = "binary/encrypted"
	MetadataKeyID    = "encryption-key-id"
)

// Codec encrypts with the current key and decrypts with any known one.
type Codec struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ParseKeys reads IDV_PAYLOAD_KEYS: "id:base64key,id:base64key", 32-byte
// keys, the first one current (new payloads), the rest for reading payloads
// written before a rotation.
func ParseKeys(spec string) (*Codec, error) {
	c := &Codec{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("IDV_PAYLOAD_KEYS entry %d: want id:base64key", i+1)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("IDV_PAYLOAD_KEYS entry %d (%s): the key must be 32 bytes, base64", i+1, id)
		}
		if err := secrets.CheckKey(fmt.Sprintf("IDV_PAYLOAD_KEYS entry %d (%s)", i+1, id), key); err != nil {
			return nil, err
		}
		block, _ := aes.NewCipher(key)
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("IDV_PAYLOAD_KEYS entry %d: %w", i+1, err)
		}
		if _, dup := c.aeads[id]; dup {
			return nil, fmt.Errorf("IDV_PAYLOAD_KEYS: key id %q appears twice", id)
		}
		c.aeads[id] = aead
		if i == 0 {
			c.current = id
		}
	}
	return c, nil
}

// NewKey returns a fresh "id:base64key" entry for IDV_PAYLOAD_KEYS.
func NewKey(id string) string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return id + ":" + base64.StdEncoding.EncodeToString(key)
}

// Encode implements converter.PayloadCodec.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := p.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(MetadataEncoding),
				MetadataKeyID:              []byte(c.current),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.current)),
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec; payloads it did not encrypt
// pass through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != MetadataEncoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("decode payload: no key %q in IDV_PAYLOAD_KEYS", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, fmt.Errorf("decode payload: too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decode payload with key %q: %w", id, err)
		}
		var decoded commonpb.Payload
		if err := decoded.Unmarshal(plain); err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}

// DataConverter is the SDK's default converter with c around it.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Seal encrypts data at rest outside Temporal (a quarantined webhook's
// body) the way Encode encrypts a payload, so one scheme, one key ring
// and one rotation cover both: the result is an encrypted payload's bytes.
func (c *Codec) Seal(data []byte) ([]byte, error) {
	out, err := c.Encode([]*commonpb.Payload{{Data: data}})
	if err != nil {
		return nil, err
	}
	return out[0].Marshal()
}

// Open decrypts what Seal returned, with any key in the ring.
func (c *Codec) Open(sealed []byte) ([]byte, error) {
	var p commonpb.Payload
	if err := p.Unmarshal(sealed); err != nil {
		return nil, fmt.Errorf("open sealed data: %w", err)
	}
	if string(p.GetMetadata()[converter.MetadataEncoding]) != MetadataEncoding {
		return nil, fmt.Errorf("open sealed data: not sealed")
	}
	out, err := c.Decode([]*commonpb.Payload{&p})
	if err != nil {
		return nil, err
	}
	return out[0].GetData(), nil
}
