"""The shop's HTTP API (aiohttp)."""
