// Package providers verifies payment-provider callbacks and reads the payment out of them:
// Stripe-style card gateway events (Stripe-Signature, HMAC-SHA256 over "t.body") and M-Pesa C2B
// confirmations (a source-address allow-list and a shared secret). It does no I/O of its own:
// the command API reads the request, Verify says which tenant the callback is for and what was
// paid, and commands.Handlers.RecordProviderPayment records it.
//
// Provider accounts are configured per tenant (Config, read from the JSON file named by
// DOTMAC_PAYMENT_PROVIDERS): a Stripe account's webhook signing secrets, an M-Pesa short
// code's secret and allowed source addresses. Secrets never appear in errors, logs or String.
package providers
