package liveplugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// asset is one embedded file, served by Plugin.asset.
type asset struct {
	data []byte
	etag string
	mime string
}

// loadAssets reads the embedded assets once and gives each a content hash,
// used as ETag and as the version in the URLs the pages link to.
func loadAssets(fsys fs.FS) (map[string]asset, error) {
	out := make(map[string]asset)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		mime := "application/octet-stream"
		switch {
		case strings.HasSuffix(name, ".js"):
			mime = "text/javascript; charset=utf-8"
		case strings.HasSuffix(name, ".css"):
			mime = "text/css; charset=utf-8"
		case strings.HasSuffix(name, ".go"):
			return nil
		}
		out[name] = asset{data: data, etag: hex.EncodeToString(sum[:6]), mime: mime}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("liveplugin: assets: %w", err)
	}
	return out, nil
}

// asset serves the embedded JavaScript and CSS. Pages link to them with
// ?v=<hash>; such URLs are immutable and cached for a year.
func (p *Plugin) asset(c echo.Context) error {
	name := c.Param("*")
	a, ok := p.assets[name]
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	h := c.Response().Header()
	h.Set("ETag", `"`+a.etag+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if c.QueryParam("v") == a.etag {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := c.Request().Header.Get("If-None-Match"); match != "" && strings.Contains(match, `"`+a.etag+`"`) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.mime, a.data)
}
