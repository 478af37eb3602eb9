package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/audit"
)

// TestPrintVerifySaysWhatWasNotChecked: without --deep the summary counts money events only
// and lists what was not checked, never "0 accounts".
func TestPrintVerifySaysWhatWasNotChecked(t *testing.T) {
	r := &audit.Report{OK: true, Events: 10, Streams: 3, MoneyEvents: 4, Checks: []string{"hash chains"},
		NotChecked: []audit.NotChecked{{Check: "account folds", RunBy: "--deep"}}}
	var b strings.Builder
	printVerify(&b, r)
	out := b.String()
	assert.Contains(t, out, "(4 money events)")
	assert.NotContains(t, out, "accounts")
	assert.Contains(t, out, "not checked: account folds (--deep)")

	n := 2
	r.Accounts, r.NotChecked = &n, nil
	b.Reset()
	printVerify(&b, r)
	assert.Contains(t, b.String(), "(4 money events, 2 accounts folded)")
	assert.NotContains(t, b.String(), "not checked")
}
