package liveplugin

import (
	"github.com/labstack/echo/v4"
)

// clientIP returns the address a request comes from, for the per-IP
// limits and the logs: Config.ClientIP if set; else the app's Echo
// IPExtractor if it chose one; else the connection's own address. Echo's
// RealIP without an IPExtractor trusts any client's X-Forwarded-For and
// X-Real-IP, which would let a client pick a new address for every
// connection and escape the per-IP limits, so the plugin never uses that.
func (p *Plugin) clientIP(c echo.Context) string {
	if p.cfg.ClientIP != nil {
		return p.cfg.ClientIP(c.Request())
	}
	if c.Echo().IPExtractor != nil {
		return c.RealIP()
	}
	return echo.ExtractIPDirect()(c.Request())
}
