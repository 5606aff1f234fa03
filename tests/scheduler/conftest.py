"""Scheduler tests: a guardrail with known numbers (ceiling 18 %), small batches."""

from __future__ import annotations

import pytest

from bot.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(
        guardrail_average_order_value=500_000,
        guardrail_net_profit_per_order=150_000,
        guardrail_safety_share=0.4,
        campaign_batch_size=50,
    )
