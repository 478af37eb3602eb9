package readmodeltest

import (
	"fmt"

	"github.com/dotmac/ledger/domain"
)

// Receipt decides cmd on receipt r of tenant t (folded from what the history recorded) and
// records its events.
func (h *History) Receipt(t domain.TenantID, r domain.ReceiptID, cmd domain.ReceiptCommand) ([]domain.Event, error) {
	stream := domain.ReceiptStream(t, r)
	var state domain.ReceiptState
	for _, ev := range h.events {
		if ev.StreamID != stream {
			continue
		}
		var err error
		if state, err = domain.ApplyReceipt(state, ev.Payload); err != nil {
			return nil, err
		}
	}
	evs, err := domain.DecideReceipt(state, cmd, h.Now)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", cmd, err)
	}
	return evs, h.record(h.metadata(t), stream, evs)
}

func receiptID(n int) domain.ReceiptID { return must(domain.ParseReceiptID(uuidN(n))) }
