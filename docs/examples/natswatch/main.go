// Command natswatch prints the ledger's integration events of one kind as they arrive on NATS
// JetStream, from the start of the stream: go run ./docs/examples/natswatch [URL [SUBJECT]].
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	url, subject := nats.DefaultURL, "dotmac.*.billing.invoice_issued"
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	if len(os.Args) > 2 {
		subject = os.Args[2]
	}
	if err := watch(context.Background(), url, "DOTMAC", subject, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func watch(ctx context.Context, url, stream, subject string, out io.Writer) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return err
	}
	msgs, err := c.Messages()
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); msgs.Stop() }()
	for {
		m, err := msgs.Next()
		if err != nil {
			return err
		}
		var ev struct {
			Type, Subject, Tenant, Position string
			Data                            json.RawMessage
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s %s #%s %s\n", ev.Tenant, ev.Type, ev.Subject, ev.Position, ev.Data)
	}
}
