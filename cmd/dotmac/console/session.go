package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// cookieName holds the signed-in user's bearer token: HttpOnly (no script reads it),
// SameSite=Strict (no other site's request carries it), Secure in production, scoped to the
// console's path.
const cookieName = "dotmac_console"

// maxTokenLen bounds a token pasted into the sign-in form, in bytes.
const maxTokenLen = 8 << 10

// pageFunc serves a page to a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view)

// plain serves a page that needs no session (sign in and out).
func (c *Console) plain(f func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		f(w, r)
	})
}

// session serves f to a user with a valid session cookie; it sends anyone else to the sign-in
// page (a GET) or answers 401 (a POST). A POST must come from the console itself: the same
// origin and the session's CSRF token in its form.
func (c *Console) session(f pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		v, ok := c.viewer(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Prefix+"/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, &view{c: c}, errSignedOut)
			return
		}
		if r.Method == http.MethodPost && !v.validPost(r) {
			c.fail(w, r, v, errForgedPost)
			return
		}
		f(w, r, v)
	})
}

// viewer reads and verifies the session cookie.
func (c *Console) viewer(r *http.Request) (*view, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return nil, false
	}
	p, err := c.cfg.Key.Verify(ck.Value)
	if err != nil {
		return nil, false
	}
	return &view{c: c, Principal: p, Operator: p.Operator, token: ck.Value, CSRF: csrfToken(ck.Value), Path: r.URL.Path}, true
}

// csrfToken is the session's CSRF token: a hash of the session token, which only a page of
// the console (rendered with it) knows, since the cookie itself is HttpOnly.
func csrfToken(session string) string {
	sum := sha256.Sum256([]byte("dotmac-console-csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validPost reports whether a POST comes from a console page: same origin and the CSRF token.
func (v *view) validPost(r *http.Request) bool {
	if !sameOrigin(r) {
		return false
	}
	got := r.PostFormValue("csrf")
	return subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) == 1
}

// sameOrigin rejects a request a browser marks as cross-site, or whose Origin names another
// host.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, &view{c: c, Path: r.URL.Path}, http.StatusOK, "sign-in", signInData{Next: safeNext(r.URL.Query().Get("next"))})
}

type signInData struct {
	Next, Error string
}

// signIn checks the pasted token and keeps it in the session cookie.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenLen+4096)
	v := &view{c: c, Path: r.URL.Path}
	if !sameOrigin(r) {
		c.fail(w, r, v, errForgedPost)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("token")), "Bearer "))
	p, err := c.cfg.Key.Verify(token)
	if token == "" || len(token) > maxTokenLen || err != nil {
		c.render(w, r, v, http.StatusUnauthorized, "sign-in", signInData{Next: next,
			Error: "That token is not valid here (expired, wrongly signed, or not a DotMac token)."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: Prefix, HttpOnly: true, Secure: c.cfg.Secure,
		SameSite: http.SameSiteStrictMode})
	if next == "" {
		next = Prefix
		if p.Operator {
			next = Prefix + "/ops"
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut forgets the session cookie. It needs no valid session (an expired one signs out
// too) but must come from the same origin.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		c.fail(w, r, &view{c: c}, errForgedPost)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: c.cfg.Secure,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
}

// safeNext keeps a redirect target inside the console.
func safeNext(next string) string {
	inside := next == Prefix || strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, Prefix+"?")
	if !inside || strings.Contains(next, "/../") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	return next
}

// tenantOnly serves tenant pages: an operator token has no tenant to read.
func (c *Console) tenantOnly(f pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		if v.Operator {
			c.fail(w, r, v, errTenantsOnly)
			return
		}
		f(w, r, v)
	}
}

// operatorOnly serves operator pages: a tenant token, whatever its permissions, gets 403.
func (c *Console) operatorOnly(f pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		if !v.Operator {
			c.fail(w, r, v, errOperatorsOnly)
			return
		}
		f(w, r, v)
	}
}

// securityHeaders forbid framing, sniffing and any script, style or image from elsewhere.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}
