package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo-contrib/echoprometheus"
	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/amlive/amlive/liveplugin"
	"github.com/amlive/amlive/liveplugin/natscluster"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// viewsFS is the plugin's Config.Views: views/layout.html replaces the
// plugin's "amlive-layout" with the site's, and templates/header.html
// brings the header and footer the site's own pages share.
//
//go:embed views/*.html templates/header.html
var viewsFS embed.FS

// siteData is the plugin's Config.ViewData: what the site's header needs
// in the plugin's pages, as pageData gives it to the site's own.
type siteData struct {
	User string // the signed-in user, or ""
	CSRF string // the token of the sign-out form
}

// options configures a server. The zero value of each field but DataDir
// means its default.
type options struct {
	DataDir       string           // required: users.json, session.key, recordings/
	Logger        *slog.Logger     // default: slog.Default()
	SessionMaxAge time.Duration    // default: 7 days
	BcryptCost    int              // default: bcrypt.DefaultCost
	LoginBurst    int              // sign-in and sign-up attempts per client before the rate limit; default 10
	IdleTimeout   time.Duration    // the plugin's Config.IdleTimeout; default: the plugin's
	Now           func() time.Time // default: time.Now

	// The HTTP server's bounds (see httpServer). ReadHeaderTimeout and
	// ReadTimeout bound reading the headers and the whole request (10 s,
	// 30 s); WriteStallTimeout is how long a response may wait for the
	// client to take more of it (60 s); KeepAliveTimeout closes a
	// connection idle between requests (2 min); MaxHeaderBytes bounds
	// the request headers (64 KiB).
	ReadHeaderTimeout, ReadTimeout, WriteStallTimeout, KeepAliveTimeout time.Duration
	MaxHeaderBytes                                                      int

	// RecordingsDir is the plugin's Config.Dir; default: DataDir/recordings.
	// Clustered nodes may share it.
	RecordingsDir string
	// Cluster, if set, is the plugin's Config.Cluster: the node shares
	// its rooms with the other nodes over NATS. Default: none, one node.
	Cluster *natscluster.Cluster
	// Accounts, if set, are the users and session key to use instead of
	// those kept in DataDir: nodes in one process share them, so that a
	// user signed in on one node is signed in on every node (cookies do
	// not depend on the port). Default: opened from DataDir.
	Accounts *accounts

	// OnLive and OnEnd, if set, are called when a broadcast goes live and
	// when it has ended and its recording is finished (the plugin's
	// Config.OnLive and OnEnd; a real site would notify followers). They
	// must not block.
	OnLive, OnEnd func(liveplugin.BroadcastInfo)
}

// accounts are a site's users and the key that signs its session
// cookies.
type accounts struct {
	users *userStore
	key   []byte
}

// openAccounts opens the users (users.json) and the session key
// (session.key) kept in dir, creating dir if need be.
func openAccounts(dir string, bcryptCost int) (*accounts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if bcryptCost == 0 {
		bcryptCost = bcrypt.DefaultCost
	}
	users, err := openUsers(filepath.Join(dir, "users.json"), bcryptCost)
	if err != nil {
		return nil, err
	}
	key, err := loadSessionKey(filepath.Join(dir, "session.key"))
	if err != nil {
		return nil, err
	}
	return &accounts{users: users, key: key}, nil
}

// server is the demo site: an Echo app with accounts, sessions, its own
// pages, and the live plugin mounted at /live.
type server struct {
	opts     options
	log      *slog.Logger
	echo     *echo.Echo
	plugin   *liveplugin.Plugin
	users    *userStore
	sessions *sessions.CookieStore
	pages    map[string]*template.Template
}

// maxBodyBytes bounds a request body: the site's forms hold a user name, a
// password and a token; the plugin takes no request bodies (its uploads
// come over a WebSocket). Larger bodies get 413.
const maxBodyBytes = 64 << 10

// limitBody refuses a request body over maxBodyBytes with 413. Without
// it, parsing a form reads a multipart body into up to 32 MB of memory and
// the rest into temporary files, for as long as ReadTimeout lets the
// client send. A body of unknown length (chunked) is read here, up to the
// bound, because the form parser swallows the error a limited reader would
// give, and the request would fail for another reason.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		tooLarge := echo.NewHTTPError(http.StatusRequestEntityTooLarge, "This request is too large.")
		switch {
		case req.ContentLength > maxBodyBytes:
			return tooLarge
		case req.ContentLength < 0: // chunked
			data, err := io.ReadAll(io.LimitReader(req.Body, maxBodyBytes+1))
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "The request could not be read.").SetInternal(err)
			}
			if len(data) > maxBodyBytes {
				return tooLarge
			}
			req.Body = io.NopCloser(bytes.NewReader(data))
		}
		return next(c)
	}
}

// The demo's pages, each a file in templates/ rendered inside layout.html.
var pageNames = []string{"home", "profile", "signup", "login", "embedtest", "error"}

// newServer opens the data directory and builds the site. The caller
// serves s.httpServer(), and closes s.plugin when done.
func newServer(opts options) (*server, error) {
	if opts.DataDir == "" {
		return nil, errors.New("no data directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SessionMaxAge == 0 {
		opts.SessionMaxAge = 7 * 24 * time.Hour
	}
	if opts.BcryptCost == 0 {
		opts.BcryptCost = bcrypt.DefaultCost
	}
	if opts.LoginBurst == 0 {
		opts.LoginBurst = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ReadHeaderTimeout", &opts.ReadHeaderTimeout, defaultReadHeaderTimeout},
		{"ReadTimeout", &opts.ReadTimeout, defaultReadTimeout},
		{"WriteStallTimeout", &opts.WriteStallTimeout, defaultWriteStallTimeout},
		{"KeepAliveTimeout", &opts.KeepAliveTimeout, defaultKeepAliveTimeout},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("%s must be > 0, got %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if opts.MaxHeaderBytes < 0 {
		return nil, fmt.Errorf("MaxHeaderBytes must be > 0, got %d", opts.MaxHeaderBytes)
	}
	if opts.MaxHeaderBytes == 0 {
		opts.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if opts.RecordingsDir == "" {
		opts.RecordingsDir = filepath.Join(opts.DataDir, "recordings")
	}
	acc := opts.Accounts
	if acc == nil {
		var err error
		if acc, err = openAccounts(opts.DataDir, opts.BcryptCost); err != nil {
			return nil, err
		}
	}
	s := &server{
		opts:     opts,
		log:      opts.Logger,
		users:    acc.users,
		sessions: newCookieStore(acc.key, opts.SessionMaxAge),
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	// The client's address is the connection's: the demo trusts no proxy
	// header. Behind a reverse proxy use echo.ExtractIPFromXFFHeader.
	e.IPExtractor = echo.ExtractIPDirect()
	// One registry holds the HTTP metrics, the plugin's and the cluster's,
	// served at /metrics (see metrics).
	reg := prometheus.NewRegistry()
	httpMetrics, err := echoprometheus.MiddlewareConfig{
		Registerer: reg,
		// Bounded labels: unknown paths share one, and the Host header,
		// which any client sets, is left out.
		DoNotUseRequestPathFor404: true,
		LabelFuncs:                map[string]echoprometheus.LabelValueFunc{"host": func(echo.Context, error) string { return "" }},
	}.ToMiddleware()
	if err != nil {
		return nil, err
	}
	if opts.Cluster != nil {
		if err := reg.Register(opts.Cluster.Collector()); err != nil {
			return nil, err
		}
	}
	e.Use(
		middleware.Recover(),
		httpMetrics,
		middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			LogMethod: true, LogURIPath: true, LogStatus: true, LogLatency: true, LogError: true,
			LogValuesFunc: s.logRequest,
		}),
		limitBody, // before anything reads a form
		session.Middleware(s.sessions),
		middleware.CSRFWithConfig(middleware.CSRFConfig{
			// The plugin's routes are left alone: its WebSockets are
			// protected by their Origin check and Authorize, its DELETE
			// API by the SameSite=Lax session cookie and CORS (a
			// cross-site DELETE needs a preflight nobody answers).
			// The plugin's HTML pages get a token, for the sign-out form
			// of the site's header they carry (see viewsFS).
			Skipper:        func(c echo.Context) bool { return isPluginPath(c.Request().URL.Path) && !isPluginPage(c.Request()) },
			TokenLookup:    "form:_csrf",
			CookieName:     "_csrf",
			CookiePath:     "/",
			CookieHTTPOnly: true,
			CookieSameSite: http.SameSiteLaxMode,
			ErrorHandler: func(err error, _ echo.Context) error {
				return echo.NewHTTPError(http.StatusForbidden, "This form has expired or came from another site. Reload the page and try again.").SetInternal(err)
			},
		}),
	)

	cfg := liveplugin.Config{
		Dir:       opts.RecordingsDir,
		Authorize: s.authorize,
		SignInURL: "/login", // the plugin's pages send visitors who must sign in here
		// The plugin's pages in the site's layout, with its header and
		// sign-in: the templates override the plugin's "amlive-layout",
		// and ViewData gives them the signed-in user.
		Views: viewsFS,
		ViewData: func(c echo.Context) any {
			token, _ := c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
			return siteData{User: s.currentUser(c), CSRF: token}
		},
		Logger:      opts.Logger,
		IdleTimeout: opts.IdleTimeout,
		Metrics:     reg,
	}
	if opts.Cluster != nil {
		cfg.Cluster = opts.Cluster
	}
	if f := opts.OnLive; f != nil {
		cfg.OnLive = func(_ echo.Context, b liveplugin.BroadcastInfo) { f(b) }
	}
	if f := opts.OnEnd; f != nil {
		cfg.OnEnd = func(_ echo.Context, b liveplugin.BroadcastInfo) { f(b) }
	}
	s.plugin, err = liveplugin.Register(e.Group("/live"), cfg)
	if err != nil {
		return nil, err
	}
	if s.pages, err = parsePages(s.plugin.FuncMap()); err != nil {
		return nil, errors.Join(err, s.plugin.Close(context.Background()))
	}

	limit := middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate:      10.0 / 60, // per second: ten a minute, after the burst
			Burst:     opts.LoginBurst,
			ExpiresIn: 10 * time.Minute,
		}),
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			return echo.NewHTTPError(http.StatusTooManyRequests, "Too many attempts. Wait a minute, then try again.")
		},
	})
	e.GET("/", s.home)
	e.GET("/signup", s.signupForm)
	e.POST("/signup", s.signup, limit)
	e.GET("/login", s.loginForm)
	e.POST("/login", s.login, limit)
	e.POST("/logout", s.logout)
	e.GET("/u/:name", s.profile)
	e.GET("/embed-test", s.embedTest)
	// The metrics are public here; a real site serves them on another
	// port or behind authentication.
	e.GET("/metrics", echoprometheus.NewHandlerWithConfig(echoprometheus.HandlerConfig{Gatherer: reg}))
	e.StaticFS("/static", echo.MustSubFS(staticFS, "static"))
	s.echo = e
	return s, nil
}

// isPluginPage reports whether r asks for one of the plugin's HTML pages:
// a GET for HTML, as a browser navigating there sends.
func isPluginPage(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// isPluginPath reports whether path is one of the plugin's routes.
func isPluginPath(path string) bool {
	return path == "/live" || strings.HasPrefix(path, "/live/")
}

// authorize is the plugin's Config.Authorize: it is where an app maps its
// users to rooms. Here each user owns one room, named after them, so:
//
//	anyone may View any room (live, recordings, status);
//	Publish (go live) and Manage (delete recordings) need the signed-in
//	user whose name is the room: not signed in is ErrSignInRequired (HTTP
//	401, WebSocket close 4401), anyone else is ErrForbidden (403, 4403).
//
// An app with teams, moderators or private rooms looks its rules up here
// instead. It must be quick: it runs on every request of the plugin.
func (s *server) authorize(c echo.Context, room string, a liveplugin.Action) error {
	if a == liveplugin.View {
		return nil
	}
	switch name := s.currentUser(c); name {
	case "":
		return liveplugin.ErrSignInRequired
	case room:
		return nil
	}
	return liveplugin.ErrForbidden
}

func (s *server) now() time.Time { return s.opts.Now() }

// logRequest logs failed requests at Info or Error, others at Debug: the
// home page polls /live/rooms every few seconds.
func (s *server) logRequest(c echo.Context, v middleware.RequestLoggerValues) error {
	level := slog.LevelDebug
	switch {
	case v.Status >= 500:
		level = slog.LevelError
	case v.Status >= 400:
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{
		slog.String("method", v.Method), slog.String("path", v.URIPath),
		slog.Int("status", v.Status), slog.Duration("latency", v.Latency),
	}
	if v.Error != nil {
		attrs = append(attrs, slog.String("err", v.Error.Error()))
	}
	s.log.LogAttrs(c.Request().Context(), level, "request", attrs...)
	return nil
}

// pageData is the data of every page template; each page fills its part.
type pageData struct {
	Title string
	User  string // the signed-in user, or ""
	CSRF  string // the token of the page's forms

	// home
	Live   []liveplugin.BroadcastInfo
	Recent []liveplugin.Recording

	// profile and embed-test
	Room         string
	Owner        bool // the signed-in user owns Room
	IsLive       bool
	Viewers      int
	Recordings   []liveplugin.Recording
	Playing      *liveplugin.Recording // the recording chosen with ?b=
	ProfileURL   string                // absolute
	EmbedURL     string                // root-relative
	EmbedSnippet string

	// forms
	Form form

	// error
	Status  int
	Message string
}

// form is the state of a sign-up or sign-in form.
type form struct {
	Username string
	Next     string // where to go after signing in
	Error    string
}

// parsePages parses each page with the layout; funcs are the plugin's
// template helpers ({{amliveHead}}, {{amlivePlayer}}, {{amliveDuration}}, …)
// plus the demo's.
func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	fm := template.FuncMap{
		"ago":     ago,
		"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	}
	for k, v := range funcs {
		fm[k] = v
	}
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(fm).ParseFS(templateFS, "templates/layout.html", "templates/header.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name with status code. It renders into a buffer
// first, so that a template error is a clean 500.
func (s *server) render(c echo.Context, code int, name string, d pageData) error {
	d.User = s.currentUser(c)
	d.CSRF, _ = c.Get(middleware.DefaultCSRFConfig.ContextKey).(string)
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		return echo.NewHTTPError(http.StatusInternalServerError, "internal error").SetInternal(err)
	}
	h := c.Response().Header()
	host := c.Request().Host
	h.Set("Content-Security-Policy", "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; "+
		"connect-src 'self' ws://"+host+" wss://"+host+"; frame-ancestors 'self'; base-uri 'self'; form-action 'self'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store") // pages hold the user's name and a CSRF token
	return c.HTMLBlob(code, buf.Bytes())
}

// origin returns the scheme and host the request was made to, for links
// that are copied elsewhere.
func origin(c echo.Context) string { return c.Scheme() + "://" + c.Request().Host }

// home lists the rooms live now and the latest recordings of every user.
// The plugin lists recordings per room, so this reads every user's
// recordings folder: fine at a demo's scale, where a real site would keep
// an index (fed by Config.OnEnd) in its database.
func (s *server) home(c echo.Context) error {
	d := pageData{Title: "amlive demo", Live: s.plugin.Live()}
	for _, name := range s.users.names() {
		recs, err := s.plugin.Recordings(name)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if !r.Live {
				d.Recent = append(d.Recent, r)
			}
		}
	}
	slices.SortFunc(d.Recent, func(a, b liveplugin.Recording) int { return b.Start.Compare(a.Start) })
	d.Recent = d.Recent[:min(len(d.Recent), 10)]
	return s.render(c, http.StatusOK, "home", d)
}

// profile is a user's page: the "Go live" panel for its owner, the player
// for everyone else, and the user's past broadcasts.
func (s *server) profile(c echo.Context) error {
	u, ok := s.users.lookup(c.Param("name"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "No such user.")
	}
	if u.Name != c.Param("name") {
		return c.Redirect(http.StatusMovedPermanently, "/u/"+u.Name)
	}
	recs, err := s.plugin.Recordings(u.Name)
	if err != nil {
		return err
	}
	d := pageData{
		Title:      u.Name,
		Room:       u.Name,
		Owner:      s.currentUser(c) == u.Name,
		Recordings: recs,
		ProfileURL: origin(c) + "/u/" + u.Name,
		EmbedURL:   s.plugin.EmbedURL(u.Name),
	}
	d.EmbedSnippet = iframeSnippet(origin(c) + d.EmbedURL)
	if b := c.QueryParam("b"); b != "" {
		i := slices.IndexFunc(recs, func(r liveplugin.Recording) bool { return r.ID == b })
		if i < 0 {
			return echo.NewHTTPError(http.StatusNotFound, "No such broadcast.")
		}
		d.Playing = &recs[i]
	}
	for _, b := range s.plugin.Live() {
		if b.Room == u.Name {
			d.IsLive, d.Viewers = true, b.Viewers
		}
	}
	return s.render(c, http.StatusOK, "profile", d)
}

// iframeSnippet is the HTML that embeds the player at src in another site.
func iframeSnippet(src string) string {
	return fmt.Sprintf(`<iframe src="%s" width="640" height="360" allow="autoplay; fullscreen" allowfullscreen style="border:0"></iframe>`,
		template.HTMLEscapeString(src))
}

// embedTest shows a room's embed page in an <iframe> of this site:
// /embed-test?room=alice. Without ?room it picks a live room, else the
// first user.
func (s *server) embedTest(c echo.Context) error {
	room := c.QueryParam("room")
	if room == "" {
		if live := s.plugin.Live(); len(live) > 0 {
			room = live[0].Room
		} else if names := s.users.names(); len(names) > 0 {
			room = names[0]
		}
	}
	d := pageData{Title: "Embed test", Room: room}
	if room != "" {
		if err := liveplugin.ValidRoom(room); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "Not a valid room name.")
		}
		d.EmbedURL = s.plugin.EmbedURL(room)
		d.EmbedSnippet = iframeSnippet(origin(c) + d.EmbedURL)
	}
	return s.render(c, http.StatusOK, "embedtest", d)
}

func (s *server) signupForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "signup", pageData{Title: "Sign up"})
}

// signup creates an account, signs it in and shows its profile.
func (s *server) signup(c echo.Context) error {
	name, password := strings.TrimSpace(c.FormValue("username")), c.FormValue("password")
	u, err := s.users.create(name, password, s.now())
	if err != nil {
		code := http.StatusUnprocessableEntity
		switch {
		case errors.Is(err, errNameTaken):
			code = http.StatusConflict
		case !isFormError(err):
			return err
		}
		return s.render(c, code, "signup", pageData{Title: "Sign up", Form: form{Username: name, Error: sentence(err)}})
	}
	s.log.Info("user signed up", "user", u.Name)
	if err := s.signIn(c, u.Name); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/u/"+u.Name)
}

// isFormError reports whether err is a mistake in the form, as opposed to
// a failure of the server.
func isFormError(err error) bool {
	for _, e := range []error{
		errInvalidName, errReservedName, errNameTaken, errBadLogin,
		errBlankPassword, errShortPassword, errLongPassword, errNamePassword, errCommonPassword, errRepeatPassword,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// sentence capitalises an error's text for the page.
func sentence(err error) string {
	msg := err.Error()
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

func (s *server) loginForm(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", pageData{Title: "Sign in", Form: form{Next: localRedirect(c.QueryParam("next"))}})
}

// login signs a user in and goes to ?next, or to the user's profile.
func (s *server) login(c echo.Context) error {
	name, password := strings.TrimSpace(c.FormValue("username")), c.FormValue("password")
	next := localRedirect(c.FormValue("next"))
	canonical, err := s.users.authenticate(name, password)
	if err != nil {
		s.log.Info("sign-in refused", "user", name, "remote", c.RealIP())
		return s.render(c, http.StatusUnauthorized, "login", pageData{Title: "Sign in", Form: form{Username: name, Next: next, Error: sentence(err)}})
	}
	if err := s.signIn(c, canonical); err != nil {
		return err
	}
	if next == "" {
		next = "/u/" + canonical
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// logout ends the session and goes home.
func (s *server) logout(c echo.Context) error {
	if err := s.signOut(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/")
}

// handleError is the app's echo.HTTPErrorHandler. The plugin's JSON
// endpoints keep echo's JSON errors; pages get an HTML error page, and a
// page that needs a signed-in user (such as the plugin's broadcaster page)
// sends the browser to the sign-in form.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		he = echo.NewHTTPError(http.StatusInternalServerError, "Internal error.").SetInternal(err)
	}
	if he.Code >= 500 {
		s.log.Error("request failed", "path", c.Request().URL.Path, "err", err)
	}
	req := c.Request()
	if isPluginPath(req.URL.Path) && !strings.Contains(req.Header.Get("Accept"), "text/html") {
		c.Echo().DefaultHTTPErrorHandler(err, c)
		return
	}
	if he.Code == http.StatusUnauthorized && req.Method == http.MethodGet {
		if err := c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(req.URL.RequestURI())); err != nil {
			s.log.Error("error page", "err", err)
		}
		return
	}
	msg, ok := he.Message.(string)
	if !ok || he.Code >= 500 {
		msg = http.StatusText(he.Code)
	}
	d := pageData{Title: http.StatusText(he.Code), Status: he.Code, Message: msg}
	if err := s.render(c, he.Code, "error", d); err != nil {
		s.log.Error("error page", "err", err)
		_ = c.String(he.Code, msg)
	}
}

// ago says how long ago t was, roughly.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return t.Local().Format("2 Jan 2006, 15:04")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
