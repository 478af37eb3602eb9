package csvimport

import (
	"context"
	"time"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

func (im *importer) services(ctx context.Context, f *fileRows) error {
	dup := duplicates(f.rows, "external_id")
	return im.rows(ctx, f, serviceFields, func(ctx context.Context, r Row) error {
		return im.service(ctx, r, dup)
	})
}

// service records a service row: provisioned, then activated (activated_on set), then
// terminated (last_day set). The steps are decided together first, so a row is recorded
// whole or not at all.
func (im *importer) service(ctx context.Context, r Row, dup map[string]bool) error {
	if dup[r.Get("external_id")] {
		return reject("external_id", "external id %s is on more than one row", r.Get("external_id"))
	}
	s, rerr := parseService(r)
	if rerr != nil {
		return rerr
	}
	account, err := im.knownCustomer(ctx, s.customer, "customer_external_id")
	if err != nil {
		return err
	}
	plan, err := im.knownPlan(ctx, s.plan)
	if err != nil {
		return err
	}
	id, err := ServiceID(im.cfg.Tenant, s.external)
	if err != nil {
		return err
	}
	steps := s.steps(id, account.Customer, plan)
	if err := decideAll(steps, im.h.Now(commands.Meta{})); err != nil {
		return err
	}
	return im.runSteps(ctx, s, id, steps)
}

// step is one command of a service row.
type step struct {
	name string
	cmd  domain.ServiceCommand
}

func (s serviceRow) steps(id domain.ServiceID, customer domain.CustomerState, plan domain.PlanState) []step {
	out := []step{{"provision", domain.ProvisionService{ServiceID: id, Customer: customer, Plan: plan, StartDate: s.start,
		InstallAddress: s.address, ONTSerial: s.ontSerial, StaticIP: s.staticIP}}}
	if !s.on.IsZero() {
		out = append(out, step{"activate", domain.ActivateService{On: s.on}})
	}
	if !s.lastDay.IsZero() {
		out = append(out, step{"terminate", domain.TerminateService{LastDay: s.lastDay, Reason: terminationReason}})
	}
	return out
}

// decideAll decides the steps one after the other on a new service, as the handlers will.
func decideAll(steps []step, now time.Time) error {
	var state domain.ServiceState
	for _, st := range steps {
		events, err := domain.DecideService(state, st.cmd, now)
		if err != nil {
			return err
		}
		for _, e := range events {
			if state, err = domain.ApplyService(state, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// runSteps runs the steps through the handlers.
func (im *importer) runSteps(ctx context.Context, s serviceRow, id domain.ServiceID, steps []step) error {
	for _, st := range steps {
		m := im.meta("service", s.external, st.name)
		var err error
		switch c := st.cmd.(type) {
		case domain.ProvisionService:
			_, err = im.h.ProvisionService(ctx, m, commands.ProvisionService{CustomerID: c.Customer.ID, PlanCode: c.Plan.Code,
				StartDate: c.StartDate, InstallAddress: c.InstallAddress, ONTSerial: c.ONTSerial, StaticIP: c.StaticIP})
		case domain.ActivateService:
			_, err = im.h.ActivateService(ctx, m, commands.ActivateService{ServiceID: id, On: c.On})
		case domain.TerminateService:
			_, err = im.h.TerminateService(ctx, m, commands.TerminateService{ServiceID: id, LastDay: c.LastDay, Reason: c.Reason})
		}
		if err != nil {
			return err
		}
	}
	return nil
}
