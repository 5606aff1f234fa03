import asyncio

import pytest
from sqlalchemy import func, select

from bot.db.models import Customer, TelegramAccount
from bot.promo.codes.generator import ALPHABET
from bot.promo.customers.profiles import (
    ensure_referral_code,
    find_customer,
    get_by_external_id,
    normalize_phone,
    upsert_customer,
)
from bot.promo.errors import DomainError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 (916) 123-45-67", "+79161234567"),
        ("8 916 123 45 67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("0049 30 1234567", "+49301234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("", None),
        (None, None),
        ("call me", None),
        ("+7 916 123", None),
        ("12345", None),
        ("+0123456789", None),
        ("+1234567890123456", None),
        ("８９１６１２３４５６７", None),
    ],
)
def test_normalize_phone(raw, expected):
    assert normalize_phone(raw) == expected


async def test_upsert_creates_then_changes_only_given_fields(db, clock):
    async with db.session() as session:
        customer, created = await upsert_customer(
            session, "c-1", name="Anna", phone="8 916 123-45-67", email="a@example.com",
            locale="en-US", timezone="Asia/Yekaterinburg", now=clock(),
        )
        await session.commit()
    assert created
    # No consent unless the shop says the customer gave it.
    assert (customer.phone, customer.locale, customer.marketing_opt_in) == (
        "+79161234567", "en", False,
    )

    clock.advance(hours=1)
    async with db.session() as session:
        customer, created = await upsert_customer(
            session, "c-1", marketing_opt_in=True, now=clock()
        )
        await session.commit()
    assert not created
    assert customer.name == "Anna"
    assert customer.email == "a@example.com"
    assert customer.timezone == "Asia/Yekaterinburg"
    assert customer.marketing_opt_in is True
    assert customer.updated_at == clock()

    async with db.session() as session:
        customer, _ = await upsert_customer(session, "c-1", email="", locale="de", now=clock())
        await session.commit()
    assert customer.email is None
    assert customer.locale is None  # a language the bot does not speak: the shop's default
    assert customer.phone == "+79161234567"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("phone", "not a phone", "invalid_phone"),
        ("email", "nobody", "invalid_email"),
        ("timezone", "Mars/Olympus", "invalid_timezone"),
    ],
)
async def test_upsert_refuses_garbage(db, clock, field, value, code):
    async with db.session() as session:
        with pytest.raises(DomainError) as raised:
            await upsert_customer(session, "c-1", now=clock(), **{field: value})
    assert raised.value.code == code
    assert raised.value.params["field"] == field


async def test_concurrent_upserts_of_one_customer_make_one_row(db, clock):
    async def push(i: int) -> bool:
        async with db.session() as session:
            _, created = await upsert_customer(session, "same", name=f"n{i}", now=clock())
            await session.commit()
            return created

    created = await asyncio.gather(*(push(i) for i in range(8)))
    assert created.count(True) == 1
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_find_customer_by_what_a_manager_types(db, clock):
    async with db.session() as session:
        anna, _ = await upsert_customer(session, "A-100", phone="+79161234567", now=clock())
        boris, _ = await upsert_customer(session, "555", now=clock())
        session.add(TelegramAccount(id=424242, customer_id=anna.id, username="Anna_Shop"))
        carol, _ = await upsert_customer(session, "C-300", now=clock())
        session.add(TelegramAccount(id=555, customer_id=carol.id, username="carol_tg"))
        session.add(TelegramAccount(id=777, customer_id=None, username="ghost_user"))
        await session.commit()

    async with db.read_session() as session:
        assert (await find_customer(session, "A-100")).id == anna.id
        assert (await find_customer(session, " 8 (916) 123-45-67 ")).id == anna.id
        assert (await find_customer(session, "@anna_shop")).id == anna.id
        assert (await find_customer(session, "Anna_Shop")).id == anna.id
        assert (await find_customer(session, "424242")).id == anna.id
        # A shop id that looks like a Telegram id wins: the shop's ids come first.
        assert (await find_customer(session, "555")).id == boris.id
        assert (await find_customer(session, "@carol_tg")).id == carol.id
        assert await find_customer(session, "@ghost_user") is None
        assert await find_customer(session, "777") is None
        assert await find_customer(session, "@nobody_here") is None
        assert await find_customer(session, "") is None
        assert await get_by_external_id(session, "missing") is None


async def test_referral_code_is_short_unambiguous_stable_and_unique(db, clock):
    async with db.session() as session:
        customers = [
            (await upsert_customer(session, f"c{i}", now=clock()))[0] for i in range(20)
        ]
        codes = [await ensure_referral_code(session, c) for c in customers]
        again = await ensure_referral_code(session, customers[0])
        await session.commit()
    assert again == codes[0]
    assert len(set(codes)) == 20
    for code in codes:
        assert len(code) == 8
        assert set(code) <= set(ALPHABET)
    async with db.read_session() as session:
        stored = await get_by_external_id(session, "c0")
    assert stored.referral_code == codes[0]
