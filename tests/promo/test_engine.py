"""The code engine: generation, validation that explains itself, atomic redemption."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.db.models import DiscountType, PromoCode, Redemption
from bot.promo.checkout import redemption
from bot.promo.checkout.release import release
from bot.promo.checkout.validation import Reason
from bot.promo.codes import generator as codegen
from bot.promo.codes.issuing import issue_bulk, issue_personal
from bot.promo.codes.offers import Basket, Item, Offer
from bot.texts.wording import describe, verdict_message
from tests.support import factories
from tests.support.checkout import redeem, validate

MOSCOW = ZoneInfo("Europe/Moscow")


def test_generated_codes_avoid_lookalikes_and_normalise() -> None:
    code = codegen.generate(prefix="bf")
    assert code.startswith("BF") and len(code) == 12
    assert not set(code[2:]) & set("0O1IL")
    assert codegen.normalize(" ab-cd_ef gh ") == "ABCDEFGH"
    assert len(set(codegen.generate_many(10_000))) == 10_000


def test_generator_refuses_more_than_half_the_space() -> None:
    with pytest.raises(codegen.CodeSpaceTooSmall):
        codegen.generate_many(len(codegen.ALPHABET) ** 6 // 2 + 1, length=6)


async def test_typed_code_is_found_whatever_the_case_and_hyphens(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), customer_id=alice)
    typed = "-".join([code.code[:5].lower(), code.code[5:]])
    async with db.read_session() as session:
        verdict = await validate(
            session, typed, customer_id=alice, basket=Basket(100_000), now=clock()
        )
    assert verdict.valid and verdict.discount == 10_000


async def test_expiry_boundary_with_injected_clock(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, Offer(DiscountType.PERCENT, 10, valid_days=30), now=clock(),
                                customer_id=alice)
    deadline = clock() + timedelta(days=30)
    async with db.read_session() as session:
        just_before = await validate(
            session,
            code.code,
            customer_id=alice,
            basket=Basket(10_000),
            now=deadline - timedelta(seconds=1),
        )
        at_deadline = await validate(
            session, code.code, customer_id=alice, basket=Basket(10_000), now=deadline
        )
    assert just_before.valid
    assert at_deadline.reason is Reason.EXPIRED
    # Moscow is UTC+3: 12:00 UTC on 1 July reads as 15:00 there.
    assert verdict_message(at_deadline, "en", MOSCOW, "RUB") == (
        "This code expired on Jul 1, 2026, 3:00\u202fPM."
    )
    assert verdict_message(at_deadline, "ru", MOSCOW, "RUB") == (
        "Срок действия кода истёк 1 июл. 2026\u202fг., 15:00."
    )
    outcome = await redeem(
        db.hot,
        code.code,
        customer_id=alice,
        order_external_id="o1",
        basket=Basket(10_000),
        now=deadline,
    )
    assert not outcome.ok and outcome.verdict.reason is Reason.EXPIRED


async def test_personal_code_of_another_customer_is_not_yours(db, clock) -> None:
    [alice, bob] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), customer_id=alice)
    outcome = await redeem(
        db.hot, code.code, customer_id=bob, order_external_id="o1",
        basket=Basket(10_000), now=clock()
    )
    assert outcome.verdict.reason is Reason.NOT_YOURS
    assert verdict_message(outcome.verdict, "ru", MOSCOW, "RUB") == (
        "Это персональный код другого покупателя."
    )
    assert verdict_message(outcome.verdict, "en", MOSCOW, "RUB") == (
        "This is another customer's personal code."
    )


async def test_each_refusal_explains_itself(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    shoes_only = Offer(
        DiscountType.PERCENT,
        15,
        min_order=300_000,
        include_categories=("Shoes",),
        exclude_skus=("HIT-1",),
    )
    code = await factories.code(db, shoes_only, now=clock(), customer_id=alice)
    later = await factories.code(db, now=clock(), customer_id=alice,
                                 starts_at=clock() + timedelta(days=1))
    async with db.read_session() as session:
        short = await validate(
            session, code.code, customer_id=alice, basket=Basket(250_000), now=clock()
        )
        wrong_goods = await validate(
            session,
            code.code,
            customer_id=alice,
            now=clock(),
            basket=Basket(400_000, (Item("HIT-1", 400_000, 1, "Shoes"),)),
        )
        partly = await validate(
            session,
            code.code,
            customer_id=alice,
            now=clock(),
            basket=Basket(
                500_000, (Item("HIT-1", 200_000, 1, "Shoes"), Item("BOOT-7", 300_000, 1, "Shoes"))
            ),
        )
        early = await validate(
            session, later.code, customer_id=alice, basket=Basket(10_000), now=clock()
        )
        unknown = await validate(
            session, "NOSUCHCODE", customer_id=alice, basket=Basket(10_000), now=clock()
        )
    assert short.reason is Reason.MIN_ORDER and short.missing == 50_000
    assert verdict_message(short, "ru", MOSCOW, "RUB") == (
        "Код действует на заказ от 3\xa0000\xa0₽: добавьте товаров ещё на 500\xa0₽."
    )
    assert wrong_goods.reason is Reason.ITEMS_EXCLUDED
    assert verdict_message(wrong_goods, "en", MOSCOW, "RUB") == (
        "The code does not apply to the items in your cart "
        "(only on: Shoes; not on some items (bestsellers and limited stock))."
    )
    assert partly.valid and partly.discount == 45_000  # 15 % of the boots only
    assert early.reason is Reason.NOT_STARTED
    assert unknown.reason is Reason.UNKNOWN


async def test_code_reads_the_same_in_both_languages(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    offer = Offer(
        DiscountType.PERCENT,
        12,
        free_shipping=True,
        min_order=200_000,
        exclude_categories=("Sale",),
    )
    code = await factories.code(db, offer, now=clock(), customer_id=alice, expires_on_delivery=True)
    assert describe(code, "ru", MOSCOW) == [
        "скидка 12\xa0% + бесплатная доставка",
        "на заказ от 2\xa0000\xa0₽",
        "кроме: Sale",
        "действует 30 дней с момента получения",
    ]
    assert describe(code, "en", MOSCOW)[0] == "12% off + free shipping"


async def test_single_use_code_under_200_concurrent_redeems(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), customer_id=alice)
    outcomes = await asyncio.gather(
        *(
            redeem(
                db.hot,
                code.code,
                customer_id=alice,
                order_external_id=f"o{i}",
                basket=Basket(10_000),
                now=clock(),
            )
            for i in range(200)
        )
    )
    assert sum(o.ok for o in outcomes) == 1
    assert {o.verdict.reason for o in outcomes if not o.ok} == {Reason.USED_UP}
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Redemption)) == 1
        assert (await session.get(PromoCode, code.id)).used_count == 1


async def test_limit_five_under_100_concurrent_redeems(db, clock) -> None:
    customers = [c.id for c in await factories.customers(db, 100, now=clock())]
    code = await factories.code(db, now=clock(), usage_limit=5, per_customer_limit=1)
    outcomes = await asyncio.gather(
        *(
            redeem(
                db.hot,
                code.code,
                customer_id=customers[i],
                order_external_id=f"o{i}",
                basket=Basket(10_000),
                now=clock(),
            )
            for i in range(100)
        )
    )
    assert sum(o.ok for o in outcomes) == 5
    async with db.read_session() as session:
        assert (await session.get(PromoCode, code.id)).used_count == 5


async def test_shared_code_once_per_customer(db, clock) -> None:
    [alice, bob] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), usage_limit=100, per_customer_limit=1)
    first = await redeem(
        db.hot, code.code, customer_id=alice, order_external_id="o1",
        basket=Basket(10_000), now=clock()
    )
    again = await redeem(
        db.hot, code.code, customer_id=alice, order_external_id="o2",
        basket=Basket(10_000), now=clock()
    )
    other = await redeem(
        db.hot, code.code, customer_id=bob, order_external_id="o3",
        basket=Basket(10_000), now=clock()
    )
    assert first.ok and other.ok
    assert again.verdict.reason is Reason.ALREADY_USED


async def test_redeeming_the_same_order_again_returns_the_first_answer(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), customer_id=alice)
    outcomes = await asyncio.gather(
        *(
            redeem(
                db.hot,
                code.code,
                customer_id=alice,
                order_external_id="o1",
                basket=Basket(10_000),
                now=clock(),
            )
            for _ in range(20)
        )
    )
    assert all(o.ok for o in outcomes)
    assert len({o.redemption_id for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1


async def test_release_five_times_concurrently_gives_the_use_back_once(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), customer_id=alice)
    assert (
        await redeem(
            db.hot,
            code.code,
            customer_id=alice,
            order_external_id="o1",
            basket=Basket(10_000),
            now=clock(),
        )
    ).ok

    async def release_once() -> int:
        async with db.session() as session:
            released = await release(session, code.code, "o1", now=clock())
            await session.commit()
            return released

    assert sorted(await asyncio.gather(*(release_once() for _ in range(5)))) == [0, 0, 0, 0, 1]
    async with db.read_session() as session:
        assert (await session.get(PromoCode, code.id)).used_count == 0
    # Released, the code works again; the same order may use it once more.
    again = await redeem(
        db.hot, code.code, customer_id=alice, order_external_id="o1",
        basket=Basket(10_000), now=clock()
    )
    assert again.ok and not again.replayed


async def test_bulk_codes_are_stored_and_distinct(db, clock) -> None:
    async with db.session() as session:
        issued = await issue_bulk(session, factories.TEN_PERCENT, 12_000, now=clock(),
                                  prefix="MAIL")
        await session.commit()
    assert len(set(issued)) == 12_000 and all(c.startswith("MAIL") for c in issued)
    async with db.read_session() as session:
        stored = await session.scalar(select(func.count()).select_from(PromoCode))
    assert stored == 12_000


async def test_personal_codes_of_a_batch_draw_again_where_a_code_exists(
    db, clock, monkeypatch
) -> None:
    """A campaign's batch issues its codes in one INSERT; a drawn code that someone holds
    already is skipped by it and drawn again for its customer alone."""
    taken = await factories.code(db, now=clock())
    customers = [(await factories.customer(db, f"c{i}", now=clock())).id for i in range(3)]
    draws = iter([[taken.code, "FRESH0001", "FRESH0002"], ["FRESH0003"]])
    monkeypatch.setattr(codegen, "generate_many", lambda count, *_: next(draws)[:count])
    async with db.session() as session:
        issued = await issue_personal(session, factories.TEN_PERCENT, customers,
                                      source="campaign", now=clock(), expires_on_delivery=True)
        await session.commit()
    async with db.read_session() as session:
        rows = (await session.execute(
            select(PromoCode.id, PromoCode.customer_id, PromoCode.code, PromoCode.expires_at,
                   PromoCode.usage_limit).where(PromoCode.id != taken.id)
            .order_by(PromoCode.customer_id)
        )).all()
    assert [(r.customer_id, r.code) for r in rows] == [
        (customers[0], "FRESH0003"), (customers[1], "FRESH0001"), (customers[2], "FRESH0002"),
    ]
    assert issued == {r.customer_id: r.id for r in rows}
    # Single-use, and the lifetime starts when the message is delivered.
    assert {(r.expires_at, r.usage_limit) for r in rows} == {(None, 1)}


async def test_shared_code_same_order_concurrently_is_one_redemption(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), usage_limit=None, per_customer_limit=1)
    outcomes = await asyncio.gather(
        *(
            redeem(
                db.hot,
                code.code,
                customer_id=alice,
                order_external_id="o1",
                basket=Basket(10_000),
                now=clock(),
            )
            for _ in range(20)
        )
    )
    assert all(o.ok for o in outcomes), [str(o.verdict.reason) for o in outcomes if not o.ok]
    assert len({o.redemption_id for o in outcomes}) == 1


@pytest.mark.skipif(not os.environ.get("PROMOBOT_TEST_DATABASE_URL"),
                    reason="PostgreSQL's read-committed statements; SQLite runs redeems one by one")
async def test_a_retry_that_sees_the_first_redeem_commit_between_its_reads_replays_it(
    db, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry read the code, no redemption of the order and no use by the customer;
    then the first redeem committed: the retry must answer the first redemption, not
    "already used"."""
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), usage_limit=100, per_customer_limit=1)
    reads = []

    async def read_then_wait(tx, asked):
        read = await real_read(tx, asked)
        reads.append(read)
        if len(reads) == 1:  # the retry, held up while the first redeem commits
            await asyncio.sleep(0.3)
        return read

    real_read = redemption._read
    monkeypatch.setattr(redemption, "_read", read_then_wait)
    order = dict(customer_id=alice, order_external_id="o1", basket=Basket(10_000), now=clock())
    retry = asyncio.ensure_future(redeem(db.hot, code.code, **order))
    await asyncio.sleep(0.05)
    first = await redeem(db.hot, code.code, **order)
    second = await retry
    # The retry saw neither the redemption nor the use.
    assert (reads[0].previous_id, reads[0].customer_uses) == (None, None)
    assert first.ok and second.ok, second.verdict.reason
    assert second.redemption_id == first.redemption_id and second.replayed


async def test_unlimited_code_stays_unlimited(db, clock) -> None:
    code = await factories.code(db, now=clock(), usage_limit=None, per_customer_limit=None)
    async with db.read_session() as session:
        stored = await session.get(PromoCode, code.id)
    assert stored.usage_limit is None and stored.per_customer_limit is None


async def test_concurrent_retries_of_one_order_take_one_use_of_a_shared_code(db, clock) -> None:
    [alice, _] = [c.id for c in await factories.customers(db, 2, now=clock())]
    code = await factories.code(db, now=clock(), usage_limit=100, per_customer_limit=1)
    outcomes = await asyncio.gather(*(
        redeem(db.hot, code.code, customer_id=alice, order_external_id="o1",
               basket=Basket(10_000), now=clock())
        for _ in range(20)
    ))
    assert all(o.ok for o in outcomes)
    async with db.read_session() as session:
        assert (await session.get(PromoCode, code.id)).used_count == 1
