"""Checkout, the hot path: who is buying, does the code apply (validation), taking a use
(redemption) and giving it back (release)."""
