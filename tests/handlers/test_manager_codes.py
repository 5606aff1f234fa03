"""Managers in Telegram, end to end: roles, /managers, /issue, /revoke, /bulk through the
real Dispatcher and the fake Bot API; assertions on replies, uploads and the database."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

import tests.support.factories as factories
import tests.support.updates as u
from bot.db import Database
from bot.db.models import Delivery, DeliveryStatus, Manager, PromoCode
from bot.promo.staff.managers import bootstrap_owners
from tests.support.chat import Chat
from tests.support.managers import (
    ANALYST,
    MANAGER,
    OWNER,
    SHOPPER,
    STRANGER,
    UploadingBotAPI,
    add_staff,
    audit_rows,
)


@pytest.fixture
async def api() -> AsyncIterator[UploadingBotAPI]:
    async with UploadingBotAPI() as server:
        yield server


async def count(db: Database, model: type) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


# --- roles -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["/issue c-1 10%", "/managers", "/stats", "/customer x",
                                     "/revoke X", "/bulk 1 5", "/campaigns", "/preview 1"])
async def test_strangers_get_the_unknown_command_answer(chat: Chat, db, command) -> None:
    unknown = await chat.send(u.message(STRANGER, "/nonsense", language_code="en"))
    assert await chat.send(u.message(STRANGER, command, language_code="en")) == unknown
    assert await count(db, PromoCode) == 0


async def test_analyst_reads_but_cannot_act(chat: Chat, db, clock) -> None:
    await add_staff(db, ANALYST, "analyst")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    reply = await chat.send(u.message(ANALYST, "/issue c-1 10%", language_code="en"))
    assert "role (analyst)" in reply
    assert "role (analyst)" in await chat.send(u.message(ANALYST, "/managers add 7 manager",
                                                         language_code="en"))
    assert await count(db, PromoCode) == 0
    assert await audit_rows(db) == []


async def test_bootstrap_owners_is_idempotent(db, clock) -> None:
    async with db.session() as session:
        assert await bootstrap_owners(session, [OWNER, OWNER], clock()) == 1
        await session.commit()
    async with db.session() as session:
        assert await bootstrap_owners(session, [OWNER], clock()) == 0
        await session.commit()
    assert await count(db, Manager) == 1
    assert [r.action for r in await audit_rows(db)] == ["manager.bootstrap"]


async def test_startup_bootstraps_owners(dp, bot, db) -> None:
    await dp.emit_startup(bot=bot, **dp.workflow_data)
    async with db.read_session() as session:
        assert (await session.get(Manager, OWNER)).role == "owner"


# --- /managers -------------------------------------------------------------------------

async def test_owner_adds_changes_and_removes_staff_with_audit(chat: Chat, db) -> None:
    reply = await chat.send(u.message(OWNER, f"/managers add {MANAGER} manager 20000",
                                      language_code="en"))
    assert "now has the manager role" in reply
    async with db.read_session() as session:
        row = await session.get(Manager, MANAGER)
        assert (row.role, row.monthly_budget, row.added_by) == ("manager", 2_000_000, OWNER)
    await chat.send(u.message(OWNER, f"/managers budget {MANAGER} 500", language_code="en"))
    listing = await chat.send(u.message(OWNER, "/managers", language_code="en"))
    assert f"{MANAGER}: manager" in listing and "₽500" in listing
    assert f"{OWNER}: owner" in listing
    await chat.send(u.message(OWNER, f"/managers remove {MANAGER}", language_code="en"))
    assert await count(db, Manager) == 0
    rows = await audit_rows(db)
    assert [r.action for r in rows] == ["manager.add", "manager.update", "manager.remove"]
    assert all(r.actor == f"tg:{OWNER}" for r in rows)
    assert rows[0].before is None and rows[0].after == {"role": "manager",
                                                        "monthly_budget": 2_000_000}
    assert rows[1].before["monthly_budget"] == 2_000_000
    assert rows[1].after["monthly_budget"] == 50_000
    assert rows[2].after is None
    log = await chat.send(u.message(OWNER, "/managers log", language_code="en"))
    assert "manager.remove" in log


async def test_managers_bad_arguments_show_usage_in_the_managers_language(chat: Chat) -> None:
    for text in ("/managers add", "/managers add 77 boss", "/managers fire 77",
                 "/managers add @nobody manager"):
        assert "Usage: /managers" in await chat.send(u.message(OWNER, text,
                                                               language_code="en"))
    assert "Пример:" in await chat.send(u.message(OWNER, "/managers add", language_code="ru"))


async def test_configured_owner_cannot_be_removed(chat: Chat, db) -> None:
    reply = await chat.send(u.message(OWNER, f"/managers remove {OWNER}", language_code="en"))
    assert "PROMOBOT_OWNER_IDS" in reply
    assert await audit_rows(db) == []


async def test_manager_cannot_manage_staff(chat: Chat, db) -> None:
    await add_staff(db, MANAGER, "manager")
    reply = await chat.send(u.message(MANAGER, f"/managers add {ANALYST} analyst",
                                      language_code="en"))
    assert "role (manager)" in reply
    assert await count(db, Manager) == 1


# --- /issue ----------------------------------------------------------------------------

async def test_issue_binds_queues_and_audits(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    customer = await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER,
                                        username="anna_k", name="Anna <K>", phone="+79161234567")
    reply = await chat.send(u.message(MANAGER, "/issue @anna_k 10% 14 3000 shoes,-sale",
                                      language_code="en"))
    async with db.read_session() as session:
        code = await session.scalar(select(PromoCode))
        delivery = await session.scalar(select(Delivery))
    assert code.customer_id == customer.id and code.issued_by == MANAGER
    assert (code.source, code.discount_type, code.discount_value) == ("manual", "percent", 10)
    assert code.min_order == 300_000
    assert code.include_categories == ["shoes"] and code.exclude_categories == ["sale"]
    assert (code.expires_at - clock()).days == 14
    assert f"<code>{code.code}</code>" in reply and "Anna &lt;K&gt;" in reply
    assert "10% off" in reply and "on orders of ₽3,000 or more" in reply and "Queued" in reply
    assert (delivery.reason, delivery.code_id, delivery.customer_id) == (
        "manual", code.id, customer.id)
    assert delivery.promotional and delivery.status == DeliveryStatus.PENDING
    (row,) = await audit_rows(db, "code.issue")
    assert row.actor == f"tg:{MANAGER}" and row.entity_id == code.code
    assert row.after["delivery_id"] == delivery.id and row.after["customer"] == "c-1"


@pytest.mark.parametrize("who", ["c-1", "89161234567", str(SHOPPER), "@anna_k"])
async def test_issue_finds_the_customer_every_way(chat: Chat, db, clock, who) -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER, username="anna_k",
                             phone="+79161234567")
    assert "✅" in await chat.send(u.message(MANAGER, f"/issue {who} free-shipping",
                                             language_code="en"))


async def test_issue_to_an_unlinked_customer_is_not_queued(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-2", now=clock())
    reply = await chat.send(u.message(MANAGER, "/issue c-2 500", language_code="en"))
    assert "Not sent" in reply and "not linked" in reply
    assert await count(db, PromoCode) == 1 and await count(db, Delivery) == 0


@pytest.mark.parametrize(("text", "problem"), [
    ("/issue", None),
    ("/issue c-1", None),
    ("/issue c-1 ten", "could not read"),
    ("/issue c-1 150%", "could not read"),
    ("/issue c-1 10% 0", "could not read"),
    ("/issue c-1 10% 14 lots", "could not read"),
    ("/issue nobody 10%", "No customer matches nobody"),
    ("/issue c-1 10% 14 3000 shoes extra", None),
])
async def test_issue_bad_arguments(chat: Chat, db, clock, text, problem) -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    reply = await chat.send(u.message(MANAGER, text, language_code="en"))
    assert "Usage: /issue" in reply and "Example: /issue" in reply
    if problem:
        assert problem in reply
    assert await count(db, PromoCode) == 0 and await audit_rows(db) == []


async def test_issue_usage_in_russian(chat: Chat, db) -> None:
    await add_staff(db, MANAGER, "manager")
    reply = await chat.send(u.message(MANAGER, "/issue", language_code="ru"))
    assert "Пример: /issue" in reply


async def test_guardrail_refusal_shows_the_numbers(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    # 1 500 profit / 5 000 average = 30 %, minus 40 % safety = 18 %.
    reply = await chat.send(u.message(MANAGER, "/issue c-1 25%", language_code="en"))
    assert "guardrail" in reply and "25%" in reply and "18%" in reply
    assert "₽1,500" in reply and "₽5,000" in reply and "40%" in reply
    assert await count(db, PromoCode) == 0 and await count(db, Delivery) == 0
    assert await audit_rows(db) == []


async def test_budget_refusal_shows_the_numbers(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager", budget=100_000)  # 1 000 ₽ a month
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    # 10 % of the 5 000 ₽ average order = 500 ₽ each: two fit, the third does not.
    for _ in range(2):
        assert "✅" in await chat.send(u.message(MANAGER, "/issue c-1 10%", language_code="en"))
    reply = await chat.send(u.message(MANAGER, "/issue c-1 10%", language_code="en"))
    assert "budget" in reply and "₽500" in reply and "₽0" in reply and "₽1,000" in reply
    assert await count(db, PromoCode) == 2 and await count(db, Delivery) == 2
    assert len(await audit_rows(db, "code.issue")) == 2
    # A revoked, unused code gives its budget back; an owner has no limit.
    async with db.read_session() as session:
        first = (await session.scalars(select(PromoCode.code).order_by(PromoCode.id))).first()
    await chat.send(u.message(MANAGER, f"/revoke {first}", language_code="en"))
    assert "✅" in await chat.send(u.message(MANAGER, "/issue c-1 10%", language_code="en"))
    for _ in range(3):
        assert "✅" in await chat.send(u.message(OWNER, "/issue c-1 10%", language_code="en"))


# --- /revoke ---------------------------------------------------------------------------

async def test_revoke_cancels_the_queued_message_and_audits(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    await chat.send(u.message(MANAGER, "/issue c-1 5%", language_code="en"))
    async with db.read_session() as session:
        code = await session.scalar(select(PromoCode.code))
    reply = await chat.send(u.message(MANAGER, f"/revoke {code} customer asked",
                                      language_code="en"))
    assert "revoked" in reply
    async with db.read_session() as session:
        row = await session.scalar(select(PromoCode))
        delivery = await session.scalar(select(Delivery))
    assert (row.status, row.revoke_reason) == ("revoked", "customer asked")
    assert delivery.status == DeliveryStatus.CANCELLED
    (audit,) = await audit_rows(db, "code.revoke")
    assert audit.before["status"] == "active" and audit.after["status"] == "revoked"
    assert "already" in await chat.send(u.message(MANAGER, f"/revoke {code}",
                                                  language_code="en"))
    assert "no such code" in (await chat.send(u.message(MANAGER, "/revoke NOPE",
                                                        language_code="en"))).lower()
    assert "Usage: /revoke" in await chat.send(u.message(MANAGER, "/revoke",
                                                         language_code="en"))
    assert len(await audit_rows(db, "code.revoke")) == 1


async def test_revoke_takes_the_code_as_people_type_it(chat: Chat, db, clock) -> None:
    """Lower case, spaces and hyphens, as the checkout accepts them (issue 11)."""
    await add_staff(db, MANAGER, "manager")
    await factories.customer(db, "c-1", now=clock(), telegram_id=SHOPPER)
    await chat.send(u.message(MANAGER, "/issue c-1 5%", language_code="en"))
    async with db.read_session() as session:
        code = await session.scalar(select(PromoCode.code))
    typed = f"{code[:4]}-{code[4:]}".lower()
    reply = await chat.send(u.message(MANAGER, f"/revoke {typed}", language_code="en"))
    assert "revoked" in reply
    async with db.read_session() as session:
        assert await session.scalar(select(PromoCode.status)) == "revoked"


# --- /bulk -----------------------------------------------------------------------------

# The active broadcast the /bulk tests print codes for.
AUTUMN = {"name": "Autumn <mail>", "kind": "broadcast", "status": "active",
          "segment": "regulars", "code_prefix": "AUT",
          "offer": {"discount_type": "percent", "value": 7, "min_order": 200_000,
                    "valid_days": 20}}


async def test_bulk_sends_a_csv_document_and_audits(chat: Chat, db, api, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = (await factories.campaign(db, now=clock(), **AUTUMN)).id
    await chat.feed(u.message(MANAGER, f"/bulk {campaign_id} 25", language_code="en"))
    (sent,) = api.calls("sendDocument")
    assert "25 codes" in sent.text and "Autumn &lt;mail&gt;" in sent.text
    (upload,) = api.uploads
    assert upload.filename == f"campaign-{campaign_id}-codes.csv"
    rows = list(csv.reader(io.StringIO(upload.content.decode("utf-8-sig"))))
    assert rows[0] == ["code", "terms", "expires_at"]
    assert len(rows) == 26 and all(r[0].startswith("AUT") for r in rows[1:])
    assert "7% off" in rows[1][1] and "₽2,000" in rows[1][1]
    async with db.read_session() as session:
        codes = list(await session.scalars(select(PromoCode)))
    assert {c.code for c in codes} == {r[0] for r in rows[1:]}
    assert all(c.customer_id is None and c.campaign_id == campaign_id and
               c.issued_by == MANAGER for c in codes)
    assert await count(db, Delivery) == 0
    (row,) = await audit_rows(db, "code.bulk")
    assert row.after["count"] == 25 and row.entity_id == str(campaign_id)


async def test_bulk_failed_upload_leaves_nothing(chat: Chat, db, api, clock) -> None:
    await add_staff(db, MANAGER, "manager")
    campaign_id = (await factories.campaign(db, now=clock(), **AUTUMN)).id
    api.fail("sendDocument", 500, times=None)
    await chat.feed(u.message(MANAGER, f"/bulk {campaign_id} 5", language_code="en"))
    assert await count(db, PromoCode) == 0 and await audit_rows(db) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("/bulk", "Usage: /bulk"),
    ("/bulk 1", "Usage: /bulk"),
    ("/bulk x 5", "Usage: /bulk"),
    ("/bulk 999 5", "no such campaign"),
    ("/bulk {id} 0", "1 to 100000"),
    ("/bulk {plain} 5", "no discount offer"),
    ("/bulk {deep} 5", "guardrail"),
])
async def test_bulk_bad_inputs(chat: Chat, db, clock, text, expected) -> None:
    await add_staff(db, MANAGER, "manager")
    offers = {"id": AUTUMN["offer"], "plain": {},
              "deep": {"discount_type": "percent", "value": 50}}
    ids = {key: (await factories.campaign(db, now=clock(), **{**AUTUMN, "offer": offer})).id
           for key, offer in offers.items()}
    reply = await chat.send(u.message(MANAGER, text.format(**ids), language_code="en"))
    assert expected.lower() in reply.lower()
    assert await count(db, PromoCode) == 0


async def test_bulk_counts_against_the_budget(chat: Chat, db, clock) -> None:
    await add_staff(db, MANAGER, "manager", budget=1_000_000)  # 10 000 ₽
    # 7 % of the 5 000 ₽ average = 350 ₽ a code: 28 fit, 29 do not.
    campaign_id = (await factories.campaign(db, now=clock(), **AUTUMN)).id
    assert "budget" in await chat.send(u.message(MANAGER, f"/bulk {campaign_id} 29",
                                                 language_code="en"))
    assert await count(db, PromoCode) == 0
