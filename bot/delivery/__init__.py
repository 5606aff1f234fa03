"""Delivery: the outbox, rate limits, frequency caps and the sender."""
