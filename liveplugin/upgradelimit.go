package liveplugin

import (
	"time"

	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: Burst connections at once, refilled at
// PerMinute a minute. A client that has used its bucket up waits for it to
// refill; one that connects no faster than PerMinute is never refused.
type RateLimit struct {
	// PerMinute is the sustained rate, in connections per minute.
	PerMinute int
	// Burst is how many connections may be opened at once, after a
	// quiet period. It is at least 1.
	Burst int
}

func (l RateLimit) valid() bool { return l.PerMinute > 0 && l.Burst > 0 }

// Defaults of the per-IP upgrade limits.
//
// A thousand viewers behind one address (a company's NAT joining an
// all-hands) get in at once, and ten more a second after that: joining is
// cheap, and MaxViewers and MaxTotalViewers bound what viewers hold.
// Uploads are rare and costly (each may claim a room, a recording and
// MaxBitrate of bandwidth): twenty at once covers a publisher's resume
// attempts after a few network drops, then one every three seconds.
var (
	defaultViewerUpgrades    = RateLimit{PerMinute: 600, Burst: 1000}
	defaultPublisherUpgrades = RateLimit{PerMinute: 20, Burst: 20}
)

// upgradeLimiter holds one token bucket per client IP and role. It starts
// no goroutine: buckets unused for two minutes are dropped lazily by the
// store on use.
type upgradeLimiter struct {
	viewers, publishers     *middleware.RateLimiterMemoryStore
	viewerCfg, publisherCfg RateLimit
}

func newUpgradeLimiter(viewers, publishers RateLimit) *upgradeLimiter {
	store := func(l RateLimit) *middleware.RateLimiterMemoryStore {
		return middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate:      rate.Limit(float64(l.PerMinute) / 60),
			Burst:     l.Burst,
			ExpiresIn: max(2*time.Minute, time.Duration(float64(l.Burst)/float64(l.PerMinute)*float64(time.Minute))),
		})
	}
	return &upgradeLimiter{
		viewers:      store(viewers),
		publishers:   store(publishers),
		viewerCfg:    viewers,
		publisherCfg: publishers,
	}
}

// allow takes a token from ip's bucket for the role, or returns the
// LimitError that refuses the connection.
func (l *upgradeLimiter) allow(ip string, publisher bool) error {
	store, name, cfg := l.viewers, "ViewerUpgrades", l.viewerCfg
	if publisher {
		store, name, cfg = l.publishers, "PublisherUpgrades", l.publisherCfg
	}
	if ok, _ := store.Allow(ip); !ok {
		return &limitError{Name: name, Max: int64(cfg.PerMinute)}
	}
	return nil
}
