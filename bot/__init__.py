"""promobot: personal, time-limited promo codes and loyalty tiers for an online shop."""
