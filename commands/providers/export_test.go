package providers

// StripeMACs returns how many Stripe HMACs were computed so far.
func StripeMACs() int64 { return stripeMACs.Load() }
