"""The sender's account and customer as the hot read gives them to every update."""

from __future__ import annotations

from sqlalchemy import inspect

from bot.db import Database
from bot.db.models import Customer, TelegramAccount
from bot.promo.customers import accounts
from bot.promo.customers.profiles import upsert_customer


def columns(entity: object) -> dict[str, object]:
    mapper = inspect(type(entity))
    return {prop.key: getattr(entity, prop.key) for prop in mapper.column_attrs}


async def test_lookup_gives_what_the_orm_loads_detached_and_unchanged(db: Database, clock) -> None:
    async with db.session() as session:
        customer, _ = await upsert_customer(session, "c-1", now=clock(), name="Анна",
                                            phone="+79161234567", locale="en",
                                            timezone="Asia/Yekaterinburg")
        who = accounts.Who(id=77, chat_id=77, username="anna", first_name="Анна",
                           language_code="ru")
        await accounts.touch(session, who, clock())
        await accounts.link(session, customer.id, 77, clock())
        await accounts.touch(session, accounts.Who(88, 88, None, "Bob", None), clock())
        await session.commit()
        loaded_account, loaded_customer = await accounts.load(session, 77)
        unlinked, nobody = await accounts.load(session, 88)

    account, customer = await accounts.lookup(db.hot, 77)
    assert isinstance(account, TelegramAccount) and isinstance(customer, Customer)
    assert columns(account) == columns(loaded_account)
    assert columns(customer) == columns(loaded_customer)
    assert customer.created_at.tzinfo is not None and customer.locale == "en"
    for entity in (account, customer):
        assert inspect(entity).detached and not inspect(entity).modified
    unlinked_account, no_customer = await accounts.lookup(db.hot, 88)
    assert columns(unlinked_account) == columns(unlinked)
    assert no_customer is None and nobody is None
    assert await accounts.lookup(db.hot, 99) == (None, None)

    # Back in a session, an object read this way writes only what changes.
    async with db.session() as session:
        customer = await session.merge(customer, load=False)
        customer.name = "Анна К."
        await session.commit()
    async with db.read_session() as session:
        stored = await session.get(Customer, customer.id)
        assert stored is not None and stored.name == "Анна К." and stored.locale == "en"
