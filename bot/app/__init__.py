"""The composition root: wires the database, the bot with `handlers/`, the shop API,
the scheduler and the sender into `promobot run` and `promobot api`.

Nothing else imports `handlers`, `scheduler` and `bot.api` together."""
