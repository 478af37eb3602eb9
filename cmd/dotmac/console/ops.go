package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/projections"
)

// opsData is the projections page's.
type opsData struct {
	Projections []projections.Status
	Copies      []projections.Copy
	Error       string
}

// ops lists the projections with their state, lag, errors and stalled tenants, and the as-of
// copies.
func (c *Console) ops(w http.ResponseWriter, r *http.Request, v *view) {
	var d opsData
	var list struct {
		Projections []projections.Status `json:"projections"`
	}
	if err := v.call(r, c.cfg.Admin, http.MethodGet, "/v1/projections", nil, &list); err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.Projections = list.Projections
	copies, err := c.copies(r, v)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.Copies = copies
	c.render(w, r, v, http.StatusOK, "ops", d)
}

// projectionData is one projection's page.
type projectionData struct {
	Status projections.Status
	Build  string
	Done   progressView
}

// progressView is a build's progress as the page and its poller show it.
type progressView struct {
	Build    string  `json:"build"`
	Phase    string  `json:"phase"`
	Percent  float64 `json:"percent"`
	Position uint64  `json:"position"`
	Target   uint64  `json:"target"`
	Rate     float64 `json:"events_per_second"`
	ETA      float64 `json:"eta_seconds"`
	Done     bool    `json:"done"`
	Error    string  `json:"error,omitempty"`
	Text     string  `json:"text"`
}

// projection is one projection's status; with ?build= it follows that build's progress (the
// page's script polls .../progress until it is done).
func (c *Console) projection(w http.ResponseWriter, r *http.Request, v *view) {
	st, err := c.status(r, v)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := projectionData{Status: st, Build: r.URL.Query().Get("build")}
	if d.Build != "" {
		copies, err := c.copies(r, v)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Done = progressOf(st, copies, d.Build)
	}
	v.Title = "Projection " + st.Name
	c.render(w, r, v, http.StatusOK, "projection", d)
}

// copies lists the as-of copies.
func (c *Console) copies(r *http.Request, v *view) ([]projections.Copy, error) {
	var out struct {
		Copies []projections.Copy `json:"copies"`
	}
	err := v.call(r, c.cfg.Admin, http.MethodGet, "/v1/projection-copies", nil, &out)
	return out.Copies, err
}

func (c *Console) status(r *http.Request, v *view) (projections.Status, error) {
	var st projections.Status
	err := v.call(r, c.cfg.Admin, http.MethodGet, "/v1/projections/"+url.PathEscape(mux.Vars(r)["name"]), nil, &st)
	return st, err
}

// progress answers the page's poller with the build's progress as JSON.
func (c *Console) progress(w http.ResponseWriter, r *http.Request, v *view) {
	st, err := c.status(r, v)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	copies, err := c.copies(r, v)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(progressOf(st, copies, r.URL.Query().Get("build")))
}

// progressOf finds build among the projection's running builds. A build no longer running
// has finished: done (100 %) when it is the live build (a rebuild that swapped) or a copy
// whose status is done; failed otherwise, with what is known.
func progressOf(st projections.Status, copies []projections.Copy, build string) progressView {
	for _, p := range st.Building {
		if p.Build != build {
			continue
		}
		pv := progressView{Build: build, Phase: p.Phase, Position: uint64(p.Position), Target: uint64(p.Target),
			Rate: p.EventsPerSecond, ETA: p.ETASeconds, Error: p.Error}
		if p.Target > 0 {
			pv.Percent = min(99, 100*float64(p.Position)/float64(p.Target))
		}
		pv.Text = fmt.Sprintf("%.0f %% — %s, position %d of %d, %.0f events/s", pv.Percent, p.Phase, p.Position, p.Target, p.EventsPerSecond)
		return pv
	}
	done := progressView{Build: build, Phase: projections.PhaseDone, Percent: 100, Done: true}
	if st.LiveBuild == build {
		done.Position, done.Target = uint64(st.Position), uint64(st.Position)
		done.Text = fmt.Sprintf("100 %% — done: %s is the live build, at position %d", build, st.Position)
		return done
	}
	for _, c := range copies {
		if c.Name != build {
			continue
		}
		if c.Status == "done" {
			done.Position, done.Target = uint64(c.Target), uint64(c.Target)
			done.Text = fmt.Sprintf("100 %% — done: as-of copy %s of %s as of %s (position %d), %d rows", c.Name, c.Projection, c.AsOf, c.Target, c.Rows)
			return done
		}
		return progressView{Build: build, Phase: c.Status, Done: true, Error: "the copy's status is " + c.Status, Text: "the copy's status is " + c.Status}
	}
	msg := "the build is no longer running and is neither the live build nor a copy: it failed or was replaced"
	if st.Error != "" {
		msg += "; the projection reports: " + st.Error
	}
	return progressView{Build: build, Phase: projections.PhaseFailed, Done: true, Error: msg, Text: msg}
}

// rebuild starts a rebuild (or, with as_of, an as-of copy) and opens its progress.
func (c *Console) rebuild(w http.ResponseWriter, r *http.Request, v *view) {
	name := mux.Vars(r)["name"]
	body := map[string]string{}
	if s := strings.TrimSpace(r.PostFormValue("as_of")); s != "" {
		body["as_of"] = s
		if into := strings.TrimSpace(r.PostFormValue("into")); into != "" {
			body["into"] = into
		}
	}
	var acc struct {
		Build string `json:"build"`
	}
	if err := v.call(r, c.cfg.Admin, http.MethodPost, "/v1/projections/"+url.PathEscape(name)+"/rebuild", body, &acc); err != nil {
		c.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, Prefix+"/ops/projections/"+url.PathEscape(name)+"?build="+url.QueryEscape(acc.Build), http.StatusSeeOther)
}

// verifyData is the operator's verification page's.
type verifyData struct {
	Ran    bool
	Deep   bool
	Report *audit.Report
}

// verifyAll runs the feed-wide verification (every tenant) when asked (?run=1).
func (c *Console) verifyAll(w http.ResponseWriter, r *http.Request, v *view) {
	d := verifyData{Deep: r.URL.Query().Get("deep") == "true"}
	if r.URL.Query().Get("run") != "" {
		rep, err := c.cfg.Verify(r, audit.VerifyOptions{Deep: d.Deep})
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Ran, d.Report = true, rep
	}
	c.render(w, r, v, http.StatusOK, "verify", d)
}
