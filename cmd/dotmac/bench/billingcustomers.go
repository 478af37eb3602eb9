package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/postgres"
)

// Limits of the billing customers' set-up (Config.BillingCustomers).
const (
	// setupCustomersPerAppend is how many customers (two streams each) one AppendStreams call
	// creates.
	setupCustomersPerAppend = 2_000
	// setupPlan is the plan every set-up customer subscribes to (the history defines it).
	setupPlan = "fiber_100"
	// setupTenant is the history's tenant, the one the billing run bills.
	setupTenant = "demo"
)

// addBillingCustomers adds n customers of tenant demo, each with one active fiber_100 service
// since the first day of this month (the month the billing run bills), for the billing run to invoice: a bill day's customer
// count without simulating each one's year. Every event is decided by the domain (as the
// command side would) and appended through the store's multi-stream path, each stream created
// at NoStream, so the store's invariants (versions, hash chain, global feed) and the billing
// index, which follows the feed, see them as any other.
func addBillingCustomers(ctx context.Context, store *postgres.Store, n int, now time.Time, progress func(string, int64, int64)) error {
	tenant, err := domain.ParseTenantID(setupTenant)
	if err != nil {
		return err
	}
	plan, err := readPlan(ctx, store, tenant, setupPlan)
	if err != nil {
		return err
	}
	start := domain.DateOf(now).Period().Start()
	md := eventstore.Metadata{TenantID: tenant.String(), Actor: "bench", CorrelationID: "bench-billing-customers"}
	for done := 0; done < n; {
		batch := min(setupCustomersPerAppend, n-done)
		appends := make([]eventstore.StreamAppend, 0, 2*batch)
		for i := range batch {
			customer, service, err := setupCustomer(tenant, plan, start, now, done+i, md)
			if err != nil {
				return err
			}
			appends = append(appends, customer, service)
		}
		for _, o := range eventstore.AppendStreams(ctx, store, appends) {
			if o.Err != nil {
				return fmt.Errorf("set up billing customers: %w", o.Err)
			}
		}
		done += batch
		progress(fmt.Sprintf("setting up %d billing customers", n), int64(done), int64(n))
	}
	return nil
}

// setupCustomer decides the i-th set-up customer's registration and its service's
// provisioning and activation (from start), as appends creating both streams.
func setupCustomer(tenant domain.TenantID, plan domain.PlanState, start domain.Date, now time.Time, i int, md eventstore.Metadata) (customer, service eventstore.StreamAppend, err error) {
	cid, err := domain.NewCustomerID(uuid.Must(uuid.NewV7()))
	if err != nil {
		return customer, service, err
	}
	contact := domain.Contact{Name: fmt.Sprintf("Bill Day %06d", i), Email: fmt.Sprintf("billday%06d@%s.example.net", i, tenant),
		BillingAddress: fmt.Sprintf("%d Fiber Way, Springfield", 1+i%9000)}
	registered, err := domain.DecideAccount(domain.AccountState{}, domain.RegisterCustomer{CustomerID: cid, Contact: contact, Currency: plan.MonthlyPrice.Currency()}, now)
	if err != nil {
		return customer, service, err
	}
	account, err := applyAll(domain.ApplyAccount, domain.AccountState{}, registered)
	if err != nil {
		return customer, service, err
	}
	sid, err := domain.NewServiceID(uuid.Must(uuid.NewV7()))
	if err != nil {
		return customer, service, err
	}
	provisioned, err := domain.DecideService(domain.ServiceState{}, domain.ProvisionService{ServiceID: sid, Customer: account.Customer, Plan: plan,
		StartDate: start, InstallAddress: contact.BillingAddress, ONTSerial: fmt.Sprintf("ONT-%08X", i)}, now)
	if err != nil {
		return customer, service, err
	}
	svc, err := applyAll(domain.ApplyService, domain.ServiceState{}, provisioned)
	if err != nil {
		return customer, service, err
	}
	activated, err := domain.DecideService(svc, domain.ActivateService{On: start}, now)
	if err != nil {
		return customer, service, err
	}
	cdata, err := codec.Encode(md, registered...)
	if err != nil {
		return customer, service, err
	}
	sdata, err := codec.Encode(md, append(provisioned, activated...)...)
	if err != nil {
		return customer, service, err
	}
	return eventstore.StreamAppend{Stream: domain.CustomerStream(tenant, cid), Expected: eventstore.NoStream(), Events: cdata},
		eventstore.StreamAppend{Stream: domain.ServiceStream(tenant, sid), Expected: eventstore.NoStream(), Events: sdata}, nil
}

// readPlan folds the plan of code from its stream.
func readPlan(ctx context.Context, store eventstore.Store, tenant domain.TenantID, code string) (domain.PlanState, error) {
	c, err := domain.ParsePlanCode(code)
	if err != nil {
		return domain.PlanState{}, err
	}
	envs, err := store.ReadStream(ctx, domain.PlanStream(tenant, c), 1, eventstore.Forwards, eventstore.MaxReadLimit)
	if err != nil {
		return domain.PlanState{}, fmt.Errorf("read plan %s: %w", code, err)
	}
	events := make([]domain.Event, 0, len(envs))
	for i := range envs {
		e, err := codec.Decode(&envs[i])
		if err != nil {
			return domain.PlanState{}, err
		}
		events = append(events, e)
	}
	plan, err := domain.FoldPlan(events)
	if err == nil && !plan.Defined() {
		err = errors.New("not defined by the history")
	}
	if err != nil {
		return domain.PlanState{}, fmt.Errorf("plan %s: %w", code, err)
	}
	return plan, nil
}

// applyAll applies events to s in order.
func applyAll[S any](apply func(S, domain.Event) (S, error), s S, events []domain.Event) (S, error) {
	for _, e := range events {
		var err error
		if s, err = apply(s, e); err != nil {
			return s, err
		}
	}
	return s, nil
}
