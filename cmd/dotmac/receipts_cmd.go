package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
)

// maxReceiptsListed bounds `dotmac receipts list`.
const maxReceiptsListed = 1000

type receiptsFlags struct {
	storage storeFlags
	tenant  string
	status  string
	limit   int
}

func newReceipts(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "receipts", Short: "Unallocated receipts: money from payment providers that named no customer", Args: cobra.NoArgs}
	f := &receiptsFlags{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's receipts (unallocated by default), oldest first",
		Long: `List shows the money payment-provider callbacks booked to unallocated receipts (account 2300):
their account reference named no customer, or a customer billed in another currency. It reads the
receipts read model (GET /v1/receipts on the query API shows the same).`,
		Example: `  dotmac receipts list --tenant acme
  dotmac receipts list --tenant acme --status allocated`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReceiptsList(cmd.Context(), cmd.OutOrStdout(), g, f)
		},
	}
	allocate := &cobra.Command{
		Use:   "allocate RECEIPT_ID CUSTOMER_ID",
		Short: "Allocate a receipt to a customer: it becomes the customer's payment",
		Long: `Allocate gives an unallocated receipt to a customer billed in its currency, as POST
/v1/receipts/{receipt_id}/allocations does: the customer's account records it as a payment (open
invoices oldest first, the rest customer credit) and the journal moves it from unallocated receipts
(2300) to the customer. Running it again changes nothing.`,
		Example: `  dotmac receipts allocate 019b7a3e-0c4d-7f10-8a2b-3c4d5e6f7a8b 019b78f8-9278-7579-bf44-f787143510db --tenant acme`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReceiptsAllocate(cmd.Context(), cmd.OutOrStdout(), g, f, args[0], args[1])
		},
	}
	for _, c := range []*cobra.Command{list, allocate} {
		f.storage.bind(c.Flags())
		c.Flags().StringVar(&f.tenant, "tenant", "", "tenant (required)")
	}
	list.Flags().StringVar(&f.status, "status", "unallocated", "unallocated, allocated or all")
	list.Flags().IntVar(&f.limit, "limit", 100, fmt.Sprintf("most receipts listed (at most %d)", maxReceiptsListed))
	cmd.AddCommand(list, allocate)
	return cmd
}

func (f *receiptsFlags) tenantID() (domain.TenantID, error) {
	if f.tenant == "" {
		return domain.TenantID{}, errors.New("--tenant is required")
	}
	t, err := domain.ParseTenantID(f.tenant)
	if err != nil {
		return t, fmt.Errorf("--tenant: %w", err)
	}
	return t, nil
}

const listReceiptsSQL = `SELECT receipt_id::text, amount::text, currency, external_reference, account_reference, payer, reason,
received_at, status, coalesce(customer_id::text, '') FROM receipts
WHERE tenant_id = $1 AND ($2 = 'all' OR status = $2) ORDER BY receipt_id LIMIT $3`

func runReceiptsList(ctx context.Context, out io.Writer, g *globalFlags, f *receiptsFlags) error {
	tenant, err := f.tenantID()
	if err != nil {
		return err
	}
	if f.status != "unallocated" && f.status != "allocated" && f.status != "all" {
		return errors.New("--status: want unallocated, allocated or all")
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, log, g, &f.storage, false)
	if err != nil {
		return err
	}
	defer b.close(log)
	rows, err := b.pool.Query(ctx, listReceiptsSQL, tenant.String(), f.status, min(max(f.limit, 1), maxReceiptsListed))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return errors.New("the receipts read model is not built yet: run dotmac serve (the projector role builds it)")
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RECEIPT\tAMOUNT\tRECEIVED\tREFERENCE\tACCOUNT REF\tPAYER\tREASON\tSTATUS\tCUSTOMER")
	n := 0
	for rows.Next() {
		var id, amount, cur, ref, account, payer, reason, status, customer string
		var received time.Time
		if err := rows.Scan(&id, &amount, &cur, &ref, &account, &payer, &reason, &received, &status, &customer); err != nil {
			return err
		}
		n++
		fmt.Fprintf(w, "%s\t%s %s\t%s\t%s\t%q\t%s\t%s\t%s\t%s\n", id, amount, cur, received.UTC().Format(time.RFC3339), ref, account,
			payer, reason, status, customer)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%d receipts (%s)\n", n, f.status)
	return err
}

func runReceiptsAllocate(ctx context.Context, out io.Writer, g *globalFlags, f *receiptsFlags, receiptArg, customerArg string) error {
	tenant, err := f.tenantID()
	if err != nil {
		return err
	}
	receipt, err := domain.ParseReceiptID(receiptArg)
	if err != nil {
		return err
	}
	customer, err := domain.ParseCustomerID(customerArg)
	if err != nil {
		return err
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, log, g, &f.storage, false)
	if err != nil {
		return err
	}
	defer b.close(log)
	h, err := commands.New(commands.Config{Store: b.store, Numbers: pgstore.NewNumbers(b.pool, pgstore.Options{})})
	if err != nil {
		return err
	}
	res, err := h.AllocateReceipt(ctx, commands.Meta{Tenant: tenant, Actor: "dotmac receipts allocate"}, receipt, customer)
	if err != nil {
		return err
	}
	if !res.Changed() {
		_, err = fmt.Fprintf(out, "receipt %s was allocated to customer %s already (payment %s)\n", receipt, customer, res.ID)
		return err
	}
	p, _ := res.Events[0].(domain.PaymentRecorded)
	_, err = fmt.Fprintf(out, "receipt %s allocated to customer %s: payment %s of %s, %d invoices settled, %s customer credit (position %d)\n",
		receipt, customer, res.ID, p.Amount, len(p.Allocations), p.Unapplied, res.Position)
	return err
}
