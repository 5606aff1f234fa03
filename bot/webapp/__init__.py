"""The Mini App: the shopper's cabinet inside Telegram, its page and data endpoints."""
