"""Codes: generating the strings, offers and their conditions, issuing within the margin
guardrail, and the shopper's wallet of active codes."""
