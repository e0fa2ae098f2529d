"""The event intake on the broker (NATS JetStream): publishing, the consumer, dead letters."""
