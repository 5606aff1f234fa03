"""The sender: claims due outbox rows, renders them, sends them within Telegram's limits
and records what happened (claim, render, send, record, transport).

What a message says is not the sender's business: the composition root hands `Sender` a
renderer (`render=`), so bot.delivery never imports bot.texts.
"""

from __future__ import annotations

from bot.delivery.sender.send import Sender

__all__ = ["Sender"]
