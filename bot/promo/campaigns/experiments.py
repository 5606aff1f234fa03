"""Experiments: which variant of a campaign a customer gets, or the holdout that gets nothing.

The choice is a pure function of (campaign id, customer id): a hash mapped to [0, 1).
The first `holdout_percent` of that range is the control group, the rest is split by the
variants' weights. It is sticky twice over: the same pair always hashes the same, and
the choice is recorded in `campaign_assignments` the first time, so changing weights
later never moves a customer who was already counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.db.models import Campaign, CampaignVariant

_SCALE = float(2**64)


def bucket(campaign_id: int, customer_id: int) -> float:
    """A uniform, stable number in [0, 1) for the pair."""
    digest = hashlib.blake2b(f"{campaign_id}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass(frozen=True, slots=True)
class Arm:
    """One branch of a campaign: a variant, the campaign's own offer, or the holdout."""

    variant_id: int | None
    is_holdout: bool
    # Offer template (JSON of `Offer`, or campaign-specific keys); empty for the holdout.
    offer: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Design:
    """A campaign's split, computed once per run."""

    holdout_share: float
    arms: tuple[Arm, ...]
    # Cumulative upper bounds of the arms within the treated share, ending at 1.0.
    bounds: tuple[float, ...]

    def choose(self, campaign_id: int, customer_id: int) -> Arm:
        point = bucket(campaign_id, customer_id)
        if point < self.holdout_share:
            return HOLDOUT
        # Rescale the treated part to [0, 1) so that weights split it exactly.
        share = (point - self.holdout_share) / (1.0 - self.holdout_share)
        for arm, bound in zip(self.arms, self.bounds, strict=True):
            if share < bound:
                return arm
        return self.arms[-1]

    def with_shares(self, shares: Sequence[float]) -> Design:
        """The same arms and holdout, the treated split by `shares` (one per arm)."""
        total, running, bounds = sum(shares), 0.0, []
        for share in shares:
            running += share
            bounds.append(running / total)
        bounds[-1] = 1.0
        return Design(self.holdout_share, self.arms, tuple(bounds))

    def propensity(self, arm: Arm) -> float:
        """The chance a customer gets `arm`: what the reports weigh them by."""
        if arm.is_holdout:
            return self.holdout_share
        index = self.arms.index(arm)
        below = self.bounds[index - 1] if index else 0.0
        return (1.0 - self.holdout_share) * (self.bounds[index] - below)


HOLDOUT = Arm(variant_id=None, is_holdout=True, offer={})


def design(campaign: Campaign, variants: Sequence[CampaignVariant]) -> Design:
    """The split of a campaign: its variants by weight, or its single offer."""
    holdout = min(max(campaign.holdout_percent or 0, 0), 100) / 100
    if holdout >= 1.0:
        raise ValueError("a holdout of 100 % leaves nobody to treat")
    weighted = [v for v in variants if v.weight > 0]
    if not weighted:
        return Design(holdout, (Arm(None, False, dict(campaign.offer or {})),), (1.0,))
    total = sum(v.weight for v in weighted)
    arms, bounds, running = [], [], 0
    for variant in sorted(weighted, key=lambda v: v.id):
        running += variant.weight
        arms.append(Arm(variant.id, False, dict(variant.offer or {})))
        bounds.append(running / total)
    bounds[-1] = 1.0
    return Design(holdout, tuple(arms), tuple(bounds))
