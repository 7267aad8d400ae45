"""Account events: the outbox, the relay that publishes it to Kafka, and the consumer helper."""
