package receiver

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/semaphore"
)

// Why bytes and not requests: a body is read before the webhook can be
// authenticated, so whatever a request holds while its body arrives can
// be held by anyone, no secret needed. A slot per request let 256
// connections that drip their bodies take every slot for the whole read
// timeout, and every provider's genuine webhooks got 503. Here a request
// holds, while its body arrives, only the bytes it has sent (its buffer,
// which is the memory it costs), so a dripper holds almost nothing; a
// body that stops arriving at the minimum rate is ended with 408; and each
// provider reads from its own share of the budget, so one route filled
// with real bytes does not starve another. The count of webhooks in
// flight (IDV_MAX_IN_FLIGHT) is taken only once a body is in, for its
// authentication and delivery.

// Refusal reasons, the reason label of idv_webhooks_refused_total.
const (
	refusedBodyBudget = "body_budget" // the provider's share of IDV_MAX_IN_FLIGHT_BYTES is in use
	refusedInFlight   = "in_flight"   // IDV_MAX_IN_FLIGHT webhooks are being authenticated or delivered
	refusedTooSlow    = "too_slow"    // the body came slower than IDV_MIN_BODY_RATE, or not within IDV_HTTP_READ_TIMEOUT
)

// firstChunk is the most a request holds of the budget before it has sent
// anything: a genuine webhook of a few KB fits in it.
const firstChunk = 4 << 10

// errBodyBudget is readBody's answer when the provider's share cannot
// hold the body read so far.
var errBodyBudget = errors.New("body budget in use")

// shares splits Config.MaxInFlightBytes evenly among the providers; none
// when it is 0 (no bound).
func shares(total int64, providers []string) map[string]*semaphore.Weighted {
	if total <= 0 || len(providers) == 0 {
		return nil
	}
	out := map[string]*semaphore.Weighted{}
	for _, p := range providers {
		out[p] = semaphore.NewWeighted(total / int64(len(providers)))
	}
	return out
}

// heldBody is a body read under a provider's share; release gives its
// bytes back once the webhook is answered.
type heldBody struct {
	data  []byte
	held  int64
	share *semaphore.Weighted
}

func (b *heldBody) release(r *Receiver, provider string) {
	if b.share != nil && b.held > 0 {
		b.share.Release(b.held)
		if r.tel != nil {
			r.tel.BodyBytes.WithLabelValues(provider).Sub(float64(b.held))
		}
	}
	b.held = 0
}

// grow makes room to read more of the body, taking what the buffer grows
// by from the provider's share first; false when the share cannot give it.
func (b *heldBody) grow(r *Receiver, provider string, contentLength int64) bool {
	size := int64(firstChunk)
	if contentLength >= 0 && contentLength < size {
		size = contentLength + 1 // room to see the end of the body
	}
	if c := int64(cap(b.data)); c > 0 {
		size = min(2*c, r.cfg.MaxBodyBytes+1)
	}
	more := size - int64(cap(b.data))
	if more <= 0 {
		return false
	}
	if b.share != nil {
		if !b.share.TryAcquire(more) {
			return false
		}
		b.held += more
		if r.tel != nil {
			r.tel.BodyBytes.WithLabelValues(provider).Add(float64(more))
		}
	}
	data := make([]byte, len(b.data), size)
	copy(data, b.data)
	b.data = data
	return true
}

// readBody reads the whole body once, refusing more than MaxBodyBytes (an
// announced Content-Length over it before reading), holding its bytes in
// the provider's share, and ending with a timeout a body that arrives
// slower than MinBodyRate once BodyGrace has passed. The caller releases
// what the body holds once the webhook is answered.
func (r *Receiver) readBody(c *gin.Context, provider string) (*heldBody, error) {
	b := &heldBody{share: r.shares[provider]}
	req := c.Request
	if req.ContentLength > r.cfg.MaxBodyBytes {
		return b, &http.MaxBytesError{Limit: r.cfg.MaxBodyBytes}
	}
	if r.tel != nil {
		reading := r.tel.BodiesReading.WithLabelValues(provider)
		reading.Inc()
		defer reading.Dec()
	}
	src := http.MaxBytesReader(c.Writer, req.Body, r.cfg.MaxBodyBytes)
	rc := http.NewResponseController(c.Writer)
	start := time.Now()
	for {
		if len(b.data) == cap(b.data) && !b.grow(r, provider, req.ContentLength) {
			return b, errBodyBudget
		}
		if r.cfg.MinBodyRate > 0 {
			// Each byte received earns the sender 1/MinBodyRate more
			// seconds, after the grace; never past the server's own read
			// timeout, which this deadline replaces on the connection.
			earned := time.Duration(float64(len(b.data)) / float64(r.cfg.MinBodyRate) * float64(time.Second))
			deadline := start.Add(r.cfg.BodyGrace + earned)
			if limit := start.Add(r.cfg.ReadTimeout); r.cfg.ReadTimeout > 0 && deadline.After(limit) {
				deadline = limit
			}
			// Not every ResponseWriter supports it; the server's read
			// timeout still ends the body then.
			_ = rc.SetReadDeadline(deadline)
		}
		n, err := src.Read(b.data[len(b.data):cap(b.data)])
		b.data = b.data[:len(b.data)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// refused counts a webhook refused before it was authenticated, by reason.
func (r *Receiver) refused(provider, reason string) {
	if r.tel != nil {
		r.tel.Refused.WithLabelValues(provider, reason).Inc()
	}
}
