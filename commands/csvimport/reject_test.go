package csvimport_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/csvimport"
)

const (
	customersHeader = "external_id,name,email,billing_address,currency"
	servicesHeader  = "external_id,customer_external_id,plan_code,start_date,activated_on,install_address,last_day,static_ip"
	openingHeader   = "customer_external_id,amount,currency,as_of"
)

// TestRejectedRows: every kind of bad row is rejected with its file, line and column, the
// other rows are imported, and a dry run gives the same rejections.
func TestRejectedRows(t *testing.T) {
	t.Parallel()
	files := func() csvimport.Files {
		return csvimport.Files{
			Plans: text("plans.csv",
				"code,name,monthly_price,currency,tax_rate",
				"home_50,Home 50,39.90,USD,0",
				"Bad Code,Bad,1.00,USD,0",
				"cheap,Cheap,1.999,USD,0",
				"dup,Dup,1.00,USD,0",
				"dup,Dup,1.00,USD,0",
				"eur_100,EUR 100,10.00,EUR,0"),
			Customers: text("customers.csv", customersHeader,
				"C-1,Ada,ada@example.com,1 Way,USD",
				"C-2,Bob,not-an-email,1 Way,USD",
				"C-3,,c3@example.com,1 Way,USD",
				"C-4,Dee,d@example.com,1 Way,XXX",
				"C-5,Eve,e@example.com,1 Way,USD",
				"C-5,Eve again,e@example.com,1 Way,USD",
				"C-6,Fay,f@example.com,1 Way,USD,extra",
				"C-7,Gus\xff,g@example.com,1 Way,USD",
				"C-8,Hal,h@example.com,1 Way,USD",
				"C-10,Ida,i@example.com,1 Way,USD",
				"C-11,Jo,j@example.com,1 Way,USD",
				"C-12,Kit,k@example.com,1 Way,USD"),
			Services: text("services.csv", servicesHeader,
				"S-1,C-1,home_50,2026-05-01,2026-05-01,1 Way,,",
				"S-2,C-1,fibre_1g,2026-05-01,,1 Way,,",
				"S-3,C-9,home_50,2026-05-01,,1 Way,,",
				"S-4,C-2,home_50,2026-05-01,,1 Way,,",
				"S-5,C-1,home_50,2026-05-01,2026-04-30,1 Way,,",
				"S-6,C-1,home_50,2026-05-01,2026-05-01,1 Way,2026-04-01,",
				"S-7,C-1,home_50,2026-13-01,,1 Way,,",
				"S-8,C-1,eur_100,2026-05-01,,1 Way,,",
				"S-9,C-1,home_50,2026-05-01,,1 Way,,10.0.0.0.1",
				"S-10,C-1,dup,2026-05-01,,1 Way,,",
				"S-11,C-1,home_50,2026-05-01,,,,"),
			OpeningBalances: text("opening-balances.csv", openingHeader,
				"C-1,10.00,USD,2026-05-31",
				"C-8,10.00,USD,2026-05-31",
				"C-9,10.00,USD,2026-05-31",
				"C-4,1.00,USD,2026-05-31",
				"C-1,2.00,USD,2026-05-31",
				"C-10,5.00,EUR,2026-05-31",
				"C-11,5.00,USD,2026-07-01",
				"C-12,-5.001,USD,2026-05-31"),
		}
	}
	want := []string{
		"plans.csv line 3, column code: invalid plan code \"Bad Code\": want 1-64 characters of a-z 0-9 _, starting with a letter or digit",
		"plans.csv line 4, column monthly_price: invalid amount \"1.999\": more than 2 decimal places",
		"plans.csv line 5, column code: plan dup is on more than one row",
		"plans.csv line 6, column code: plan dup is on more than one row",
		"customers.csv line 3, column email: invalid email \"not-an-email\": want an address like name@example.com",
		"customers.csv line 4, column name: missing",
		"customers.csv line 5, column currency: invalid currency \"XXX\": not a supported ISO 4217 code",
		"customers.csv line 6, column external_id: external id C-5 is on more than one row",
		"customers.csv line 7, column external_id: external id C-5 is on more than one row",
		"customers.csv line 8: has 6 fields, the header has 5",
		"customers.csv line 9, column name: not UTF-8 text",
		"services.csv line 3, column plan_code: unknown plan fibre_1g: not in the plans file, nor defined in the ledger",
		"services.csv line 4, column customer_external_id: unknown customer C-9: not in the customers file, nor imported before",
		"services.csv line 5, column customer_external_id: unknown customer C-2: its row in customers.csv was rejected",
		"services.csv line 6, column activated_on: activation date 2026-04-30 is before the start date 2026-05-01",
		"services.csv line 7, column last_day: last day 2026-04-01 is before the start date 2026-05-01",
		"services.csv line 8, column start_date: invalid date \"2026-13-01\": want YYYY-MM-DD",
		"services.csv line 9, column plan_code: currency mismatch: want USD, got EUR",
		"services.csv line 10, column static_ip: \"10.0.0.0.1\": not an IP address",
		"services.csv line 11, column plan_code: unknown plan dup: its row in plans.csv was rejected",
		"services.csv line 12, column install_address: missing",
		"opening-balances.csv line 2, column customer_external_id: customer C-1 has more than one opening balance row",
		"opening-balances.csv line 4, column customer_external_id: unknown customer C-9: not in the customers file, nor imported before",
		"opening-balances.csv line 5, column customer_external_id: unknown customer C-4: its row in customers.csv was rejected",
		"opening-balances.csv line 6, column customer_external_id: customer C-1 has more than one opening balance row",
		"opening-balances.csv line 7, column currency: currency mismatch: want USD, got EUR",
		"opening-balances.csv line 8, column as_of: invalid as of \"2026-07-01\": is in the future (today is 2026-06-25)",
		"opening-balances.csv line 9, column amount: invalid amount \"-5.001\": more than 2 decimal places",
	}
	l := newLedger(t)
	dry := l.run(files(), true)
	sum := l.run(files(), false)
	assert.Equal(t, want, rejections(sum))
	assert.Equal(t, want, rejections(dry), "a dry run rejects the same rows")
	assert.Equal(t, sum.Events, dry.Events)
	assert.Equal(t, []csvimport.FileSummary{
		{File: "plans.csv", Rows: 6, Created: 2, Rejected: 4},
		{File: "customers.csv", Rows: 12, Created: 5, Rejected: 7},
		{File: "services.csv", Rows: 11, Created: 1, Rejected: 10},
		{File: "opening-balances.csv", Rows: 8, Created: 1, Rejected: 7},
	}, sum.Files)
	assert.Equal(t, "active", l.service("S-1").Status.String())
	assert.Equal(t, "10.00", l.balance("C-8"))
}

func rejections(s csvimport.Summary) []string {
	out := make([]string, len(s.Rejections))
	for i, r := range s.Rejections {
		out[i] = r.String()
	}
	return out
}

// TestUnreadableFiles: a file that cannot be read as a whole stops the import before
// anything is recorded, even when the other files are fine.
func TestUnreadableFiles(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	for name, tc := range map[string]struct {
		content string
		want    string
	}{
		"binary":          {"external_id,name\x00", "customers.csv: binary data (a NUL byte): not a CSV file"},
		"empty":           {"", "customers.csv: empty: want a header row"},
		"broken quote":    {customersHeader + "\nC-1,\"Ada,ada@example.com,1 Way,USD\n", "customers.csv line 2: extraneous or missing \" in quoted-field"},
		"bare quote":      {customersHeader + "\nC-1,A\"da,ada@example.com,1 Way,USD\n", "customers.csv line 2: bare \" in non-quoted-field"},
		"missing column":  {"external_id,name,email,billing_address\n", "customers.csv line 1: missing column \"currency\""},
		"unknown column":  {customersHeader + ",shoe_size\n", "customers.csv line 1: unknown column \"shoe_size\""},
		"repeated column": {customersHeader + ",NAME\n", "customers.csv line 1: column \"name\" twice"},
		"header not utf8": {"external_id,n\xffame,email,billing_address,currency\n", "customers.csv line 1: the header is not UTF-8"},
	} {
		files := exampleFiles(t)
		files.Customers = &csvimport.File{Name: "customers.csv", Data: strings.NewReader(tc.content)}
		_, err := csvimport.Run(context.Background(), l.cfg, files)
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, csvimport.ErrUnreadable), name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
	assert.Zero(t, l.head(), "nothing recorded")
}

// TestHeaderForms: columns in any order and any case, values trimmed, a byte order mark.
func TestHeaderForms(t *testing.T) {
	t.Parallel()
	rows, err := csvimport.Read("c.csv", strings.NewReader("\xEF\xBB\xBFCurrency , EXTERNAL_ID,name,email,billing_address\r\n"+
		" USD ,  C-1 ,\"Ada, Countess\",ada@example.com,\"1 Way\nLondon\"\r\n\r\nEUR,C-2,Bob,b@example.com,2 Way\r\n"),
		csvimport.CustomerColumns)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, 2, rows[0].Line)
	assert.Equal(t, map[string]string{"currency": "USD", "external_id": "C-1", "name": "Ada, Countess", "email": "ada@example.com",
		"billing_address": "1 Way\nLondon"}, rows[0].Values)
	assert.Equal(t, 5, rows[1].Line, "lines count the quoted newline and the blank line")
}
