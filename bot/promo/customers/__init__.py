"""Customers: the shop's profiles, Telegram accounts and linking, tiers, segments, and the
card a manager reads."""
