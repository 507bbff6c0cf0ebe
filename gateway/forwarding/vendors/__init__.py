"""One module per vendor API (see gateway.forwarding.event for the types they use)."""
