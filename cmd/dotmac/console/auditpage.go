package console

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/dotmac/ledger/audit"
)

// auditData is the tenant's audit page's.
type auditData struct {
	Period   string
	Manifest *audit.Manifest
	Verified bool
	Report   *audit.Report
}

var periodPattern = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])$`)

// auditPage runs the tenant's verification (?verify=1) and shows an export's manifest
// (?period=YYYY-MM) with a link to download the export.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := auditData{Period: q.Get("period")}
	if d.Period == "" {
		d.Period = monthOf(c.cfg.Now().AddDate(0, -1, 0))
	}
	if q.Get("verify") != "" {
		rep, err := c.verifyTenant(r, v)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Verified, d.Report = true, rep
	}
	if q.Has("period") {
		m, err := c.manifest(r, v, d.Period)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Manifest = m
	}
	c.render(w, r, v, http.StatusOK, "audit", d)
}

// verifyTenant calls GET /v1/audit/verify: a 409 carries a failed report, not an error.
func (c *Console) verifyTenant(r *http.Request, v *view) (*audit.Report, error) {
	rec, err := v.do(r, c.cfg.Query, http.MethodGet, "/v1/audit/verify", nil)
	if err != nil && (rec == nil || rec.status != http.StatusConflict) {
		return nil, err
	}
	var rep audit.Report
	if err := json.Unmarshal(rec.body.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("decode verify report: %w", err)
	}
	return &rep, nil
}

// exportOf fetches the period's export zip.
func (c *Console) exportOf(r *http.Request, v *view, period string) ([]byte, error) {
	if !periodPattern.MatchString(period) {
		return nil, &apiError{Status: http.StatusBadRequest, Title: "Invalid period", Detail: "period wants a month like 2026-01."}
	}
	rec, err := v.do(r, c.cfg.Query, http.MethodGet, "/v1/audit/export?period="+period, nil)
	if err != nil {
		return nil, err
	}
	return rec.body.Bytes(), nil
}

// manifest reads the manifest out of the period's export.
func (c *Console) manifest(r *http.Request, v *view, period string) (*audit.Manifest, error) {
	z, err := c.exportOf(r, v, period)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		return nil, fmt.Errorf("read export zip: %w", err)
	}
	f, err := zr.Open(audit.ManifestName)
	if err != nil {
		return nil, fmt.Errorf("export without a manifest: %w", err)
	}
	defer f.Close()
	var m audit.Manifest
	if err := json.NewDecoder(io.LimitReader(f, maxAPIBody)).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	return &m, nil
}

// exportZip sends the period's export (the CSV and JSON Lines files and the manifest).
func (c *Console) exportZip(w http.ResponseWriter, r *http.Request, v *view) {
	period := r.URL.Query().Get("period")
	z, err := c.exportOf(r, v, period)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="export-%s-%s.zip"`, v.Principal.Tenant, period))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(z)
}
