"""A small shop whose customers buy tea, coffee, sweets, cups and books, for the "try a
new category" campaign: who bought what (delivered orders; a cancelled and a returned
one that do not count), all silent for 120 days ("almost lost"), opted in and linked to
Telegram.

Customers who bought both (each counted once): tea & coffee 3 (p1, p2, boris),
tea & sweets 1 (p3), coffee & cups 1 (p4); books alone (gleb). So:
anna (tea) → coffee (3 against sweets' 1); vera (tea; coffee returned, sweets
cancelled) → coffee; boris, p1, p2 (tea, coffee) → cups or sweets, 1 each: cups, by
name; p3 (tea, sweets) → coffee; p4 (coffee, cups) → tea; gleb → nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.db import Database
from tests.support import factories, shop

CHATS = 8_300_000
SILENT_DAYS = 120

BASKETS: dict[str, list[tuple[str, str]]] = {
    # name: [(category, status)]
    "p1": [("tea", "delivered"), ("coffee", "delivered")],
    "p2": [("tea", "delivered"), ("coffee", "paid")],
    "p3": [("tea", "delivered"), ("sweets", "delivered")],
    "p4": [("coffee", "delivered"), ("cups", "delivered")],
    "anna": [("tea", "delivered")],
    "boris": [("tea", "delivered"), ("coffee", "delivered")],
    "vera": [("tea", "delivered"), ("coffee", "returned"), ("sweets", "cancelled")],
    "gleb": [("books", "delivered")],
}
# What the campaign suggests to each, with the default guardrail.
SUGGESTED = {"p1": "cups", "p2": "cups", "p3": "coffee", "p4": "tea", "anna": "coffee",
             "boris": "cups", "vera": "coffee"}


@dataclass(frozen=True)
class CategoryShop:
    ids: dict[str, int]  # name → customer id
    chats: dict[str, int]  # name → Telegram chat

    def name_of(self, customer_id: int) -> str:
        return {v: k for k, v in self.ids.items()}[customer_id]


async def seed(db: Database, settings: Settings, now: datetime, *,
               russian: tuple[str, ...] = ()) -> CategoryShop:
    """The shop; the customers named in `russian` read Russian, the others English."""
    ids, chats = {}, {}
    placed = now - timedelta(days=SILENT_DAYS)
    for number, (name, basket) in enumerate(BASKETS.items()):
        (row,) = await factories.customers(db, 1, now=now, prefix=f"{name}-", start=number,
                                           telegram_base=CHATS, name=name.title(),
                                           locale="ru" if name in russian else "en",
                                           marketing_opt_in=True)
        ids[name], chats[name] = row.id, CHATS + number
        for index, (category, status) in enumerate(basket):
            await shop.order(db, settings, f"{name}-{index}", row.id,
                             placed_at=placed - timedelta(days=index), now=now,
                             status=status, category=category, sku=f"{category}-1")
    return CategoryShop(ids, chats)
