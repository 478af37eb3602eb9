// Package watermill adapts the event store to Watermill (github.com/ThreeDotsLabs/watermill):
// a message.Subscriber over the global feed and a message.Publisher that appends. It works
// over the eventstore.Store port, so it serves every backend.
//
// # What the subscriber guarantees (the Features its Pub/Sub suite run declares)
//
//   - Order: messages arrive in global feed order, one at a time; the next is sent only after
//     the previous one is acked, and a nacked message is sent again (GuaranteedOrder).
//   - Persistence: events are the store's; a new subscriber (without a consumer group) reads
//     from the start of the feed, so it receives old messages (Persistent,
//     NewSubscriberReceivesOldMessages).
//   - Consumer groups: a group's offset (the last acked position, per topic) is kept in an
//     OffsetStore (eventstore/consumer's Offsets, table feed_checkpoints), and a new
//     subscription of the group resumes after it (ConsumerGroups). Members of one group
//     running at the same time do not share the work: each delivers from where the group was
//     when it subscribed. Run one active member per group: eventstore/consumer's
//     LeasedSubscriber delivers only in the process holding the group's lease.
//   - Not exactly-once: the offset is saved after the ack, so a crash in between redelivers
//     one message. Consumers that need effectively-once processing keep their own position
//     in the transaction that applies the message, as the projection runtime does (it plugs
//     in its own OffsetStore: its checkpoints).
//
// # Batches
//
// Watermill acks one message at a time, and one commit per event caps a consumer at a few
// hundred events per second. With SubscriberConfig.BatchEvents above 1, each message carries
// up to that many events (those available at that moment); its UUID names the position range.
// A Subscriber's batch message carries its events in memory, in its context, since they are
// already decoded and shared by every subscription of the process; a message built by
// BatchMessage, for anything that leaves the process, carries them in a compact binary
// payload (EncodeBatch, DecodeBatch). Envelopes reads either. SubscriberConfig.Linger lets
// events gather after a read that did not fill a message, for a consumer that pays per
// message rather than per event (the process managers). The Pub/Sub suite runs with
// single-event messages, since it compares the UUIDs it published with those it receives.
//
// # Mapping messages to events
//
// The publisher's topic is the stream id, the message UUID names the event (publishing a
// message to the same topic again stores nothing), the payload is the event data and the
// metadata the event metadata; see EventFromMessage and MessageFromEnvelope for the two
// shapes (domain events, named by the event_type metadata key, and opaque messages).
package watermill
