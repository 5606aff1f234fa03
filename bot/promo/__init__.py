"""The promo domain: codes, offers, validation, redemption, tiers, segments, guardrails."""
