"""The sender: claims due outbox rows, renders them, sends them within Telegram's limits
and records what happened (claim, render, send, record, pacing, transport)."""
