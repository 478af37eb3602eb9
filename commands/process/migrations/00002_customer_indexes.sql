-- +goose Up
-- The dunning handlers ask, per event, whether a customer has an invoice past grace or a
-- service suspended for non_payment.
CREATE INDEX proc_open_invoices_customer ON proc_open_invoices (tenant, customer_id, due_date);
CREATE INDEX proc_nonpayment_suspensions_customer ON proc_nonpayment_suspensions (tenant, customer_id);

-- +goose Down
DROP INDEX proc_nonpayment_suspensions_customer;
DROP INDEX proc_open_invoices_customer;
