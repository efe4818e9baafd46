package main

// The token server, as the Docker registry token spec describes it (distribution's docs/spec/auth/token.md and
// oauth.md) and as Docker Hub and GHCR run it:
//
//	GET  /token?service=S&scope=repository:NAME:pull[,push][&scope=…][&offline_token=true]   (Basic auth optional)
//	POST /token   grant_type=password (username, password) | refresh_token (refresh_token), service, scope
//
// A token grants, per repository, the actions the caller may have: pull on a public repository for anyone; pull and
// push on any repository for a user with valid credentials. Wrong credentials are a 401, never an anonymous token.
// An anonymous request for a private repository is a 401 too, unless --deny-with-empty-token asks for Docker Hub's
// way (a token that grants nothing, so the registry answers 401 insufficient_scope).

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type grant struct {
	user    string
	access  []access
	expires time.Time
}

type authServer struct {
	service       string
	users         map[string]string
	publicPrefix  []string
	privatePrefix []string
	ttl           time.Duration
	denyWithEmpty bool
	mu            sync.Mutex
	tokens        map[string]grant
	refreshTokens map[string]string // refresh token → user
}

func randomToken(prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

func longestPrefix(name string, prefixes []string) int {
	best := -1
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) && len(p) > best {
			best = len(p)
		}
	}
	return best
}

// public: the longest matching prefix decides; with no match, public unless --public-prefix was given.
func (a *authServer) public(repo string) bool {
	pub, priv := longestPrefix(repo, a.publicPrefix), longestPrefix(repo, a.privatePrefix)
	if pub < 0 && priv < 0 {
		return len(a.publicPrefix) == 0
	}
	return pub > priv
}

// parseScopes splits scope parameters (repeatable, and space-separated within one) into type:name:actions.
func parseScopes(values []string) []access {
	var out []access
	for _, v := range values {
		for _, s := range strings.Fields(v) {
			// type:name:actions; repository names never contain ':', so the first and last ':' split it.
			first, last := strings.Index(s, ":"), strings.LastIndex(s, ":")
			if first < 0 || first == last {
				continue
			}
			out = append(out, access{Type: s[:first], Name: s[first+1 : last], Actions: strings.Split(s[last+1:], ",")})
		}
	}
	return out
}

// granted: what `user` ("" = anonymous) gets of what it asked for. denied reports that something private was asked
// anonymously.
func (a *authServer) granted(user string, asked []access) (out []access, denied bool) {
	for _, s := range asked {
		var ok []string
		switch s.Type {
		case "repository":
			for _, act := range s.Actions {
				switch {
				case user != "" && (act == "pull" || act == "push" || act == "delete" || act == "*"):
					ok = append(ok, act)
				case act == "pull" && a.public(s.Name):
					ok = append(ok, act)
				case act == "pull" && user == "":
					denied = true
				}
			}
		case "registry":
			if user != "" && s.Name == "catalog" {
				ok = append(ok, "*")
			}
		}
		if len(ok) > 0 {
			out = append(out, access{Type: s.Type, Name: s.Name, Actions: ok})
		}
	}
	return out, denied
}

func (a *authServer) issue(user string, acc []access) (string, time.Time) {
	tok := randomToken("tok_")
	exp := time.Now().Add(a.ttl)
	a.mu.Lock()
	a.tokens[tok] = grant{user: user, access: acc, expires: exp}
	a.mu.Unlock()
	return tok, exp
}

// allows: whether the bearer token is valid (known, unexpired) and grants `action` on repository `repo`.
func (a *authServer) allows(token, typ, name, action string) (valid, ok bool) {
	a.mu.Lock()
	g, found := a.tokens[token]
	a.mu.Unlock()
	if !found || time.Now().After(g.expires) {
		return false, false
	}
	for _, acc := range g.access {
		if acc.Type != typ || acc.Name != name {
			continue
		}
		for _, act := range acc.Actions {
			if act == action || act == "*" {
				return true, true
			}
		}
	}
	return true, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func registryError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"code": code, "message": message}}})
}

// token serves GET and POST /token. It tells `seen` the user it authenticated (or was asked for) before answering,
// for the log.
func (a *authServer) token(w http.ResponseWriter, r *http.Request, seen func(user string)) {
	var user string
	var scopes []string
	var service string
	var offline bool
	var refreshIn string
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		scopes, service, offline = q["scope"], q.Get("service"), q.Get("offline_token") == "true"
		if u, p, ok := r.BasicAuth(); ok {
			seen(u)
			if want, known := a.users[u]; !known || want != p {
				registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "incorrect username or password")
				return
			}
			user = u
		} else if r.Header.Get("Authorization") != "" {
			registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unsupported authorization scheme at the token endpoint")
			return
		}
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
			return
		}
		scopes, service = r.PostForm["scope"], r.PostForm.Get("service")
		switch r.PostForm.Get("grant_type") {
		case "password":
			u, p := r.PostForm.Get("username"), r.PostForm.Get("password")
			seen(u)
			if want, known := a.users[u]; !known || want != p {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_grant"})
				return
			}
			user, offline = u, r.PostForm.Get("access_type") == "offline"
		case "refresh_token":
			refreshIn = r.PostForm.Get("refresh_token")
			a.mu.Lock()
			u, ok := a.refreshTokens[refreshIn]
			a.mu.Unlock()
			if !ok {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_grant"})
				return
			}
			user = u
			seen(u)
		default:
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
			return
		}
	default:
		registryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "GET or POST")
		return
	}
	if service != a.service {
		registryError(w, http.StatusBadRequest, "DENIED", "unknown service "+service)
		return
	}
	acc, denied := a.granted(user, parseScopes(scopes))
	if denied && !a.denyWithEmpty {
		registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	sort.Slice(acc, func(i, j int) bool { return acc[i].Name < acc[j].Name })
	tok, exp := a.issue(user, acc)
	body := map[string]any{
		"token":        tok,
		"access_token": tok,
		"expires_in":   int(a.ttl.Seconds()),
		"issued_at":    exp.Add(-a.ttl).UTC().Format(time.RFC3339),
	}
	if offline && user != "" {
		rt := randomToken("ref_")
		a.mu.Lock()
		a.refreshTokens[rt] = user
		a.mu.Unlock()
		body["refresh_token"] = rt
	} else if refreshIn != "" {
		body["refresh_token"] = refreshIn
	}
	writeJSON(w, http.StatusOK, body)
}
