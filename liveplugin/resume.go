package liveplugin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"sync"

	"github.com/coder/websocket"
)

// sessions holds the publisher of each live broadcast by room, so that an
// upload can resume a broadcast whose connection dropped. The zero value
// is ready to use.
type sessions struct {
	mu sync.Mutex
	m  map[string]*publisher
}

func (ss *sessions) add(room string, pub *publisher) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = make(map[string]*publisher)
	}
	ss.m[room] = pub
}

// remove forgets pub, if it is still room's publisher.
func (ss *sessions) remove(room string, pub *publisher) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m[room] == pub {
		delete(ss.m, room)
	}
}

// resume hands conn to the publisher of room's broadcast if token is its
// resume token. It reports false when there is none, the token does not
// match or the broadcast ends first; the caller then still owns conn.
func (ss *sessions) resume(room, token string, conn *websocket.Conn) bool {
	ss.mu.Lock()
	pub := ss.m[room]
	ss.mu.Unlock()
	if pub == nil || subtle.ConstantTimeCompare([]byte(token), []byte(pub.token)) != 1 {
		return false
	}
	select {
	case pub.takeover <- conn:
		return true
	case <-pub.ended:
		return false
	}
}

// newToken returns a random resume token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: see crypto/rand.Read
	return hex.EncodeToString(b[:])
}
