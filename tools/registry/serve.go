package main

// serve: go-containerregistry's in-memory registry behind the token-auth front. Every request to /v2/… needs a bearer
// token from /token whose scope covers it (or, with --auth basic, a user's Basic credentials on the request itself,
// as a registry with htpasswd wants them); without one the answer is 401 with the challenge Docker Hub sends:
//
//	WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",service="SERVICE",scope="repository:NAME:pull"
//
// Manifest GET/HEAD also honour Accept as distribution does: a manifest whose media type the request did not accept
// (no Accept at all accepts only the Docker v2 manifest) is answered 404 MANIFEST_UNKNOWN, so a client that forgets
// the index media types finds out here and not on Docker Hub.
//
// Every request is logged as one JSON line to --log before its response is sent, so a test that got an answer can
// read the line at once: {"time","method","path","status","token":bool,"auth":"bearer|basic|none","ua",…}.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

type logEntry struct {
	Time   string   `json:"time"`
	Method string   `json:"method"`
	Path   string   `json:"path"`
	Status int      `json:"status"`
	Token  bool     `json:"token"`
	Auth   string   `json:"auth"`
	UA     string   `json:"ua,omitempty"`
	Accept string   `json:"accept,omitempty"`
	Scope  []string `json:"scope,omitempty"`
	User   string   `json:"user,omitempty"`
	Digest string   `json:"digest,omitempty"`
}

type requestLog struct {
	mu sync.Mutex
	f  *os.File
}

func (l *requestLog) write(e logEntry) {
	b, _ := json.Marshal(e)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(append(b, '\n'))
}

// logWriter writes the log line when the status is decided, which is before any byte of the response leaves.
type logWriter struct {
	http.ResponseWriter
	log    *requestLog
	entry  *logEntry
	logged bool
}

func (w *logWriter) WriteHeader(code int) {
	if !w.logged {
		w.logged = true
		w.entry.Status = code
		w.entry.Time = time.Now().UTC().Format(time.RFC3339Nano)
		if code < 300 && w.entry.Digest == "" {
			w.entry.Digest = w.Header().Get("Docker-Content-Digest")
		}
		w.log.write(*w.entry)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logWriter) Write(b []byte) (int, error) {
	if !w.logged {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

type front struct {
	auth     *authServer
	basic    bool // --auth basic: Basic credentials on every request, no tokens
	realm    string
	registry http.Handler
	log      *requestLog
}

var (
	reUpload = regexp.MustCompile(`^/v2/(.+)/blobs/uploads/`)
	reRepo   = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs|tags|referrers)/[^/]+$`)
)

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	entry := &logEntry{Method: r.Method, Path: r.URL.Path, Auth: "none", UA: r.Header.Get("User-Agent")}
	if h := r.Header.Get("Authorization"); h != "" {
		entry.Auth = strings.ToLower(strings.SplitN(h, " ", 2)[0])
	}
	entry.Token = bearer(r) != ""
	lw := &logWriter{ResponseWriter: w, log: f.log, entry: entry}
	defer func() {
		if !lw.logged {
			lw.WriteHeader(http.StatusOK)
		}
	}()
	switch {
	case r.URL.Path == "/token":
		if r.Method == http.MethodGet {
			entry.Scope = r.URL.Query()["scope"]
		} else if r.ParseForm() == nil {
			entry.Scope = r.PostForm["scope"]
		}
		f.auth.token(lw, r, func(user string) { entry.User = user })
	case r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/"):
		f.v2(lw, r, entry)
	default:
		registryError(lw, http.StatusNotFound, "NOT_FOUND", "no such endpoint")
	}
}

func (f *front) challenge(w http.ResponseWriter, scope, errCode string) {
	c := fmt.Sprintf("Bearer realm=%q,service=%q", f.realm, f.auth.service)
	if scope != "" {
		c += fmt.Sprintf(",scope=%q", scope)
	}
	if errCode != "" {
		c += fmt.Sprintf(",error=%q", errCode)
	}
	w.Header().Set("WWW-Authenticate", c)
	registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

func (f *front) v2(w http.ResponseWriter, r *http.Request, entry *logEntry) {
	typ, name := "repository", ""
	switch {
	case r.URL.Path == "/v2" || r.URL.Path == "/v2/":
		typ = ""
	case r.URL.Path == "/v2/_catalog":
		typ, name = "registry", "catalog"
	default:
		if m := reUpload.FindStringSubmatch(r.URL.Path); m != nil {
			name = m[1]
		} else if m := reRepo.FindStringSubmatch(r.URL.Path); m != nil {
			name = m[1]
		} else {
			registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "no repository in this path")
			return
		}
	}
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	action, scopeActions := "pull", "pull"
	switch {
	case typ == "registry":
		action, scopeActions = "*", "*"
	case r.Method == http.MethodDelete:
		action, scopeActions = "delete", "delete"
	case !read:
		action, scopeActions = "push", "pull,push"
	}
	scope := ""
	if typ != "" {
		scope = typ + ":" + name + ":" + scopeActions
	}
	if !f.allowed(w, r, typ, name, action, scope) {
		return
	}
	if read && strings.Contains(r.URL.Path, "/manifests/") {
		f.manifest(w, r, entry)
		return
	}
	f.registry.ServeHTTP(w, r)
}

// allowed checks the request's credentials for `action` on typ:name (typ "" is the /v2/ ping: any valid credential)
// and answers the challenge when they fall short.
func (f *front) allowed(w http.ResponseWriter, r *http.Request, typ, name, action, scope string) bool {
	if f.basic {
		u, p, ok := r.BasicAuth()
		if ok {
			if want, known := f.auth.users[u]; known && want == p {
				return true
			}
		} else if typ == "repository" && action == "pull" && f.auth.public(name) {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="preview-registry"`)
		registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return false
	}
	tok := bearer(r)
	if tok == "" {
		f.challenge(w, scope, "")
		return false
	}
	valid, ok := f.auth.allows(tok, typ, name, action)
	if !valid {
		f.challenge(w, scope, "invalid_token")
		return false
	}
	if typ != "" && !ok {
		f.challenge(w, scope, "insufficient_scope")
		return false
	}
	// A cross-repository mount reads the source repository: without pull there, upload normally instead.
	if from := r.URL.Query().Get("from"); from != "" {
		if _, canPull := f.auth.allows(tok, "repository", from, "pull"); !canPull {
			q := r.URL.Query()
			q.Del("from")
			q.Del("mount")
			r.URL.RawQuery = q.Encode()
		}
	}
	return true
}

const dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

func accepts(r *http.Request, mediaType string) bool {
	values := r.Header.Values("Accept")
	if len(values) == 0 {
		return mediaType == dockerManifest
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			t := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
			if t == mediaType || t == "*/*" {
				return true
			}
		}
	}
	return false
}

func (f *front) manifest(w http.ResponseWriter, r *http.Request, entry *logEntry) {
	entry.Accept = strings.Join(r.Header.Values("Accept"), ", ")
	rec := httptest.NewRecorder()
	f.registry.ServeHTTP(rec, r)
	ct := rec.Header().Get("Content-Type")
	if rec.Code == http.StatusOK && !accepts(r, ct) {
		registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", ct+" found, but the Accept header does not include it")
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	logFile := fs.String("log", "", "file to append one JSON line per request to (required)")
	users := fs.String("users", "", "comma-separated user:password pairs that may pull and push anything")
	public := fs.String("public-prefix", "", "comma-separated repository prefixes anyone may pull")
	private := fs.String("private-prefix", "", "comma-separated repository prefixes only users may pull")
	service := fs.String("service", "preview-registry", "the token service name")
	ttl := fs.Duration("token-ttl", 300*time.Second, "lifetime of issued tokens")
	authMode := fs.String("auth", "token", "token (Docker token auth) or basic (Basic credentials on every request, as a registry with htpasswd)")
	denyEmpty := fs.Bool("deny-with-empty-token", false, "answer anonymous requests for private scopes with a token granting nothing (Docker Hub's way) instead of 401")
	_ = fs.Parse(args)
	if *logFile == "" {
		return fmt.Errorf("--log is required")
	}
	if *authMode != "token" && *authMode != "basic" {
		return fmt.Errorf("--auth: %q is not token or basic", *authMode)
	}
	a := &authServer{
		service: *service, users: map[string]string{}, publicPrefix: splitList(*public),
		privatePrefix: splitList(*private), ttl: *ttl, denyWithEmpty: *denyEmpty,
		tokens: map[string]grant{}, refreshTokens: map[string]string{},
	}
	for _, up := range splitList(*users) {
		u, p, ok := strings.Cut(up, ":")
		if !ok || u == "" {
			return fmt.Errorf("--users: %q is not user:password", u)
		}
		a.users[u] = p
	}
	lf, err := os.OpenFile(*logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer lf.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	f := &front{
		auth:     a,
		basic:    *authMode == "basic",
		realm:    fmt.Sprintf("http://%s/token", net.JoinHostPort(host, fmt.Sprint(addr.Port))),
		registry: registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		log:      &requestLog{f: lf},
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	line, _ := json.Marshal(map[string]any{"port": addr.Port, "version": ggcrVersion()})
	fmt.Println(string(line))
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}
