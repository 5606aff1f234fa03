"""Campaigns: running them (audience, variants, holdout, codes, messages), the automatic
ones (comeback, rewards, carts, reminders), their administration and their results."""
