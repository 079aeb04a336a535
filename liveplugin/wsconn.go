package liveplugin

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
)

// WebSocket plumbing shared by the upload and subscribe handlers.

// isWebSocket reports whether r asks for a WebSocket upgrade.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// accept validates the room (a plain HTTP error before the upgrade), then
// upgrades the connection. The caller must call done when its handler
// returns; conn is nil when the handler should just return nil.
func (p *Plugin) accept(c echo.Context, wg *sync.WaitGroup, publisher bool) (room string, conn *websocket.Conn, done func(), err error) {
	room = c.Param("id")
	if err := ValidRoom(room); err != nil {
		return "", nil, nil, toHTTPError(err)
	}
	if !isWebSocket(c.Request()) {
		return "", nil, nil, echo.NewHTTPError(http.StatusUpgradeRequired, "WebSocket upgrade required")
	}
	conn, err = websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{
		OriginPatterns: p.cfg.OriginPatterns,
	})
	if err != nil {
		// Accept has written the response (e.g. 403 for a foreign Origin).
		p.log.Debug("websocket refused", "room", room, "remote", p.clientIP(c), "err", err)
		return "", nil, nil, nil
	}
	done, ok := p.track(wg)
	if !ok {
		p.closeWith(conn, ErrClosed)
		return "", nil, nil, nil
	}
	ip := p.clientIP(c)
	if err := p.upgrades.allow(ip, publisher); err != nil {
		p.log.Warn("websocket refused", "room", room, "remote", ip, "err", err)
		p.emitLimit(room, roleName(publisher), err)
		p.closeWith(conn, err)
		done()
		return "", nil, nil, nil
	}
	return room, conn, done, nil
}

// closeWith closes conn with the code and reason for err (see
// errorClasses), and counts it in the metrics. Every close the server
// sends goes through it, but publisher.finish's.
func (p *Plugin) closeWith(conn *websocket.Conn, err error) {
	code, reason := closeStatus(err)
	p.metrics.closed(int(code), err)
	_ = conn.Close(code, reason)
}

// send writes an event of protocol.go as a JSON text message to conn,
// within timeout.
func send(ctx context.Context, conn *websocket.Conn, timeout time.Duration, event any) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, encodeEvent(event))
}
