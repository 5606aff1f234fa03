"""Shopper flows end to end: real Update JSON through the real Dispatcher, the real Bot
talking HTTP to the fake Bot API; assertions on what the bot sent and on the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

import tests.support.factories as factories
import tests.support.updates as u
from bot.db import Database
from bot.db.models import Customer, PromoCode, Referral, TelegramAccount
from bot.promo.customers.linking import create_link_token
from handlers.middlewares.account import AccountMiddleware
from tests.support.chat import Chat
from tests.support.fake_bot_api import FakeBotAPI

USER = 5001
OTHER = 5002


async def make_token(db: Database, clock: Any, customer: Customer,
                     ttl: timedelta = timedelta(hours=1)) -> str:
    async with db.session() as session:
        token, _ = await create_link_token(session, customer, ttl=ttl, now=clock())
        await session.commit()
    return token


async def account(db: Database, telegram_id: int) -> TelegramAccount | None:
    async with db.read_session() as session:
        return await session.get(TelegramAccount, telegram_id)


async def link(chat: Chat, db: Database, clock: Any, customer: Customer,
               user_id: int = USER, language_code: str = "ru") -> str:
    token = await make_token(db, clock, customer)
    return await chat.send(u.message(user_id, f"/start link_{token}", language_code=language_code))


async def add_code(db: Database, clock: Any, customer: Customer, code: str,
                   **fields) -> None:
    """Written straight, not by `factories.code`: /codes is shown a text with markup in it
    and an expired code, and `issue_code` draws its own text and refuses a past expiry."""
    values = dict(source="manual", discount_type="percent", discount_value=10, currency="RUB",
                  min_order=300_000, exclude_categories=["sale"],
                  expires_at=clock() + timedelta(days=10))
    values.update(fields)
    async with db.session() as session:
        session.add(PromoCode(code=code, customer_id=customer.id, **values))
        await session.commit()


# --- /start and linking ----------------------------------------------------------------------

async def test_plain_start_for_a_stranger_explains_linking(chat: Chat, api: FakeBotAPI) -> None:
    text = await chat.send(u.message(USER, "/start"))
    assert "Telegram" in text and "📱" in text
    markup = api.sent(USER)[-1].reply_markup
    assert markup["keyboard"][0][0]["request_contact"] is True


async def test_start_with_valid_token_links(chat, db, clock, api) -> None:
    customer = await factories.customer(db, now=clock(), name="Анна <b>")
    text = await link(chat, db, clock, customer)
    assert "✅" in text
    assert "Анна &lt;b&gt;" in text  # user data is HTML-escaped
    assert api.sent(USER)[-1].params["parse_mode"] == "HTML"
    assert (await account(db, USER)).customer_id == customer.id


async def test_start_with_expired_reused_and_forged_tokens(chat, db, clock) -> None:
    customer = await factories.customer(db, now=clock())
    expired = await make_token(db, clock, customer, ttl=timedelta(minutes=5))
    clock.advance(minutes=10)
    reply = await chat.send(u.message(USER, f"/start link_{expired}", language_code="en"))
    assert "expired" in reply

    token = await make_token(db, clock, customer)
    await chat.send(u.message(USER, f"/start link_{token}"))
    # the same user again: told it is already linked, not an error
    assert "уже привязан" in await chat.send(u.message(USER, f"/start link_{token}"))
    # someone else with the used token
    assert "already been used" in await chat.send(
        u.message(OTHER, f"/start link_{token}", language_code="en"))
    assert (await account(db, OTHER)).customer_id is None

    forged = "A" * 43
    assert "not valid" in await chat.send(u.message(OTHER, f"/start link_{forged}",
                                                    language_code="en"))
    assert "not valid" in await chat.send(u.message(OTHER, "/start link_<script>",
                                                    language_code="en"))


async def test_moving_a_link_needs_confirmation(chat, db, clock, api) -> None:
    first = await factories.customer(db, "c-1", now=clock())
    second = await factories.customer(db, "c-2", now=clock())
    await link(chat, db, clock, first)
    token = await make_token(db, clock, second)
    text = await chat.send(u.message(USER, f"/start link_{token}", language_code="en"))
    assert "another shop account" in text
    buttons = api.sent(USER)[-1].reply_markup["inline_keyboard"]
    yes, no = buttons[0][0]["callback_data"], buttons[1][0]["callback_data"]
    assert (await account(db, USER)).customer_id == first.id  # nothing moved yet

    await chat.send(u.callback(USER, no, language_code="en"))
    assert (await account(db, USER)).customer_id == first.id

    await chat.send(u.callback(USER, yes, language_code="en"))
    assert (await account(db, USER)).customer_id == second.id
    assert api.calls("answerCallbackQuery")


async def test_taking_over_a_customer_linked_elsewhere_asks_first(chat, db, clock, api) -> None:
    customer = await factories.customer(db, now=clock())
    await link(chat, db, clock, customer, user_id=OTHER)
    token = await make_token(db, clock, customer)
    text = await chat.send(u.message(USER, f"/start link_{token}", language_code="en"))
    assert "another Telegram account" in text
    yes = api.sent(USER)[-1].reply_markup["inline_keyboard"][0][0]["callback_data"]
    await chat.send(u.callback(USER, yes))
    assert (await account(db, USER)).customer_id == customer.id
    assert (await account(db, OTHER)).customer_id is None


async def test_contact_sharing_links_own_number_only(chat, db, clock) -> None:
    customer = await factories.customer(db, now=clock(), phone="+7 916 123-45-67")
    text = await chat.send(u.contact(USER, "79161234567", contact_user_id=OTHER,
                                     language_code="en"))
    assert "your own phone number" in text
    assert (await account(db, USER)).customer_id is None

    text = await chat.send(u.contact(USER, "+49 30 1234567", contact_user_id=USER,
                                     language_code="en"))
    assert "could not find" in text

    text = await chat.send(u.contact(USER, "8 (916) 123-45-67", contact_user_id=USER))
    assert "✅" in text
    assert (await account(db, USER)).customer_id == customer.id


async def test_forged_phone_confirmation_is_refused(chat, db, clock) -> None:
    victim = await factories.customer(db, "victim", now=clock())
    mine = await factories.customer(db, "mine", now=clock())
    await link(chat, db, clock, mine)
    await chat.send(u.callback(USER, f"mv:p:{victim.id}:0000:1"))
    assert (await account(db, USER)).customer_id == mine.id


# --- codes, tier, invite -----------------------------------------------------------------------

async def test_unlinked_user_is_told_how_to_link(chat: Chat) -> None:
    for text in ("/codes", "/tier", "/invite", "🎟 My codes"):
        reply = await chat.send(u.message(USER, text, language_code="en"))
        assert "not linked" in reply


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", ["скидка 10\xa0%", "на заказ от 3\xa0000\xa0₽", "кроме: sale",
            "действует до 11 июн. 2026"]),
    ("en", ["10% off", "on orders of ₽3,000 or more", "not on: sale", "valid until Jun 11, 2026"]),
])
async def test_codes_in_both_languages(chat, db, clock, language, expected) -> None:
    customer = await factories.customer(db, now=clock(), locale=language)
    await link(chat, db, clock, customer, language_code=language)
    await add_code(db, clock, customer, "BACK10<X>")
    await add_code(db, clock, customer, "OLD5", expires_at=clock() - timedelta(days=1))
    text = await chat.send(u.message(USER, "/codes", language_code=language))
    assert "<code>BACK10&lt;X&gt;</code>" in text
    assert "OLD5" not in text
    for part in expected:
        assert part in text, (part, text)


async def test_no_codes_is_a_friendly_answer(chat, db, clock) -> None:
    customer = await factories.customer(db, now=clock())
    await link(chat, db, clock, customer, language_code="en")
    assert "no active codes" in await chat.send(u.message(USER, "/codes", language_code="en"))


async def test_menu_button_works_in_either_language(chat, db, clock) -> None:
    customer = await factories.customer(db, now=clock())
    await link(chat, db, clock, customer, language_code="en")
    # An old Russian keyboard pressed by an English speaker still works.
    assert "действующих кодов" not in await chat.send(u.message(USER, "🎟 Мои коды",
                                                             language_code="en"))
    assert "no active codes" in await chat.send(u.message(USER, "🎟 Мои коды",
                                                          language_code="en"))


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", ["Ваш уровень: 1", "скидка 3\xa0% на каждый заказ", "12\xa0000\xa0₽",
            "▰▰▰▰▰▱▱▱▱▱ 47\xa0%", "8\xa0000\xa0₽", "уровня 2"]),
    ("en", ["Your level: 1", "3% off every order", "₽12,000", "▰▰▰▰▰▱▱▱▱▱ 47%", "₽8,000",
            "level 2"]),
])
async def test_tier_in_both_languages(chat, db, clock, language, expected) -> None:
    customer = await factories.customer(db, now=clock(), net_spend=1_200_000)
    await link(chat, db, clock, customer, language_code=language)
    text = await chat.send(u.message(USER, "/tier", language_code=language))
    for part in expected:
        assert part in text, (part, text)


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_invite_and_referral(chat, db, clock, language) -> None:
    referrer = await factories.customer(db, "ref-owner", now=clock())
    await link(chat, db, clock, referrer, language_code=language)
    text = await chat.send(u.message(USER, "/invite", language_code=language))
    link_line = next(line for line in text.splitlines() if "start=ref_" in line)
    code = link_line.rsplit("ref_", 1)[1]
    assert link_line.startswith("https://t.me/promobot?start=ref_")
    assert "0" in text
    # Asking twice shows the same link.
    assert link_line in await chat.send(u.message(USER, "/invite", language_code=language))

    # Self-referral is refused.
    await chat.send(u.message(USER, f"/start ref_{code}", language_code=language))
    # A new friend: remembered, recorded on linking.
    friend = await factories.customer(db, "friend", now=clock())
    await chat.send(u.message(OTHER, f"/start ref_{code}", language_code=language))
    await link(chat, db, clock, friend, user_id=OTHER, language_code=language)
    # An existing buyer is not a referral.
    buyer = await factories.customer(db, "buyer", now=clock())
    async with db.session() as session:
        (await session.get(Customer, buyer.id)).orders_count = 2
        await session.commit()
    await link(chat, db, clock, buyer, user_id=5003, language_code=language)
    await chat.send(u.message(5003, f"/start ref_{code}", language_code=language))

    async with db.read_session() as session:
        rows = (await session.scalars(select(Referral))).all()
    assert [(r.referrer_id, r.referee_id) for r in rows] == [(referrer.id, friend.id)]
    text = await chat.send(u.message(USER, "/invite", language_code=language))
    assert ": 1" in text


async def invite_code(chat: Chat, user_id: int, language: str) -> str:
    """The referral code in the link `/invite` shows."""
    text = await chat.send(u.message(user_id, "/invite", language_code=language))
    return next(line for line in text.splitlines() if "start=ref_" in line).rsplit("ref_", 1)[1]


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", "из вашего же аккаунта"), ("en", "from your own shop account"),
])
async def test_relinked_telegram_does_not_refer_itself(chat, db, clock, api, language,
                                                       expected) -> None:
    """Issue 11: linked to A, the shopper relinks the same Telegram to a new account B with
    the same phone and opens A's invitation. It used to answer "You came by a friend's
    invitation" and record A → B."""
    first = await factories.customer(db, "acc-a", now=clock(), phone="+79161234567")
    await link(chat, db, clock, first, language_code=language)
    code = await invite_code(chat, USER, language)
    second = await factories.customer(db, "acc-b", now=clock(), phone="8 916 123-45-67")
    await link(chat, db, clock, second, language_code=language)
    yes = api.sent(USER)[-1].reply_markup["inline_keyboard"][0][0]["callback_data"]
    await chat.send(u.callback(USER, yes, language_code=language))
    assert (await account(db, USER)).customer_id == second.id

    text = await chat.send(u.message(USER, f"/start ref_{code}", language_code=language))
    assert expected in text
    assert "friend's invitation" not in text and "по приглашению друга" not in text
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Referral)) == 0
        assert (await session.get(Customer, second.id)).referred_by_id is None


async def test_remembered_invitation_refused_on_linking_says_why(chat, db, clock) -> None:
    """A fresh Telegram account opens the invitation (remembered), then links to a shop
    account with the referrer's phone: the greeting says the invitation does not count."""
    host = await factories.customer(db, "host", now=clock(), phone="+79161234567")
    await link(chat, db, clock, host, language_code="en")
    code = await invite_code(chat, USER, "en")
    assert "link your shop account" in await chat.send(
        u.message(OTHER, f"/start ref_{code}", language_code="en"))
    twin = await factories.customer(db, "twin", now=clock(), phone="+7 916 123 45 67")
    text = await link(chat, db, clock, twin, user_id=OTHER, language_code="en")
    assert "✅" in text and "from your own shop account" in text
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Referral)) == 0


# --- settings and language ------------------------------------------------------------------------

async def test_lang_switches_language_by_button(chat, db, clock, api) -> None:
    text = await chat.send(u.message(USER, "/lang", language_code="ru"))
    assert "язык" in text.lower()
    await chat.send(u.callback(USER, "set:lang:en", language_code="ru"))
    assert "English" in api.sent(USER)[-1].text
    assert (await account(db, USER)).locale == "en"
    # From now on English, whatever Telegram says.
    assert "I did not understand" in await chat.send(u.message(USER, "hello", language_code="ru"))
    await chat.send(u.callback(USER, "set:lang:ru", language_code="ru"))
    assert "Не понимаю" in await chat.send(u.message(USER, "hello", language_code="en"))


ZONE_WORDS = {
    "ru": {"Europe/Moscow": "Москва (UTC+3)", "Asia/Novosibirsk": "Новосибирск (UTC+7)",
           "America/New_York": "Нью-Йорк"},
    "en": {"Europe/Moscow": "Moscow (UTC+3)", "Asia/Novosibirsk": "Novosibirsk (UTC+7)",
           "America/New_York": "New York"},
}


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_settings_promotions_and_time_zone(chat, db, clock, api, language) -> None:
    words = ZONE_WORDS[language]
    customer = await factories.customer(db, now=clock())
    await link(chat, db, clock, customer, language_code=language)
    text = await chat.send(u.message(USER, "/settings", language_code=language))
    assert words["Europe/Moscow"] in text  # the zone in the reader's words, buttons too
    buttons = [b["text"] for row in api.sent(USER)[-1].reply_markup["inline_keyboard"]
               for b in row]
    assert words["Europe/Moscow"] in buttons and words["Asia/Novosibirsk"] in buttons
    await chat.send(u.callback(USER, "set:promo:off", language_code=language))
    await chat.send(u.callback(USER, "set:tz:Asia/Novosibirsk", language_code=language))
    async with db.read_session() as session:
        row = await session.get(Customer, customer.id)
    assert row.marketing_opt_in is False and row.timezone == "Asia/Novosibirsk"
    assert words["Asia/Novosibirsk"] in api.sent(USER)[-1].text

    await chat.send(u.callback(USER, "set:tz_other:", language_code=language))
    bad = await chat.send(u.message(USER, "Mars/Olympus", language_code=language))
    assert "Europe/Moscow" in bad  # the examples
    ok = await chat.send(u.message(USER, "America/New_York", language_code=language))
    assert words["America/New_York"] in ok
    async with db.read_session() as session:
        assert (await session.get(Customer, customer.id)).timezone == "America/New_York"


async def test_settings_for_unlinked_user_only_offers_language(chat, api) -> None:
    await chat.send(u.message(USER, "/settings", language_code="en"))
    buttons = api.sent(USER)[-1].reply_markup["inline_keyboard"]
    assert [b["callback_data"] for row in buttons for b in row] == ["set:lang:ru", "set:lang:en"]
    await chat.send(u.callback(USER, "set:promo:off", language_code="en"))
    answer = api.calls("answerCallbackQuery")[-1]
    assert answer.params.get("show_alert") is True


# --- help, fallback, safety ------------------------------------------------------------------

async def test_help_and_fallback(chat: Chat) -> None:
    text = await chat.send(u.message(USER, "/help", language_code="en"))
    assert "/codes" in text and "/settings" in text
    assert "I did not understand" in await chat.send(u.message(USER, "<b>hi</b>",
                                                               language_code="en"))
    assert "Не понимаю" in await chat.send(u.message(USER, "что?", language_code="ru"))


async def test_duplicated_update_is_handled_once(chat, db, clock, api) -> None:
    customer = await factories.customer(db, now=clock())
    token = await make_token(db, clock, customer)
    update = u.message(USER, f"/start link_{token}")
    await chat.feed(update)
    await chat.feed(update)
    assert len(api.calls("sendMessage", chat_id=USER)) == 1


async def test_throttling_drops_floods(chat, api) -> None:
    for _ in range(30):
        await chat.feed(u.message(USER, "/help"))
    assert 0 < len(api.calls("sendMessage")) < 30


async def test_my_chat_member_tracks_blocking(chat, db) -> None:
    await chat.feed(u.my_chat_member(USER, old="member", new="kicked"))
    assert (await account(db, USER)).is_blocked is True
    await chat.feed(u.my_chat_member(USER, old="kicked", new="member"))
    assert (await account(db, USER)).is_blocked is False


async def test_telegram_refusing_a_reply_does_not_break_the_bot(chat, db, api) -> None:
    api.fail("sendMessage", 403)
    await chat.feed(u.message(USER, "/help"))
    assert await chat.send(u.message(USER, "/help"))
    async with db.read_session() as session:
        assert await session.scalar(select(func.count(TelegramAccount.id))) == 1


async def test_another_instance_change_shows_within_the_cache_ttl_however_busy_the_shopper(
    chat, dp, db, clock
) -> None:
    """The sender's account is cached for a few seconds from when it was read, not from
    their last message: a shopper writing every few seconds still sees, within the TTL,
    what another instance (or the shop API) changed."""
    customer = await factories.customer(db, now=clock(), locale="ru")
    await link(chat, db, clock, customer)
    now = [0.0]
    middleware = next(m for m in dp.update.outer_middleware if isinstance(m, AccountMiddleware))
    middleware.cache.timer = lambda: now[0]
    assert "действующих кодов" in await chat.send(u.message(USER, "/codes"))
    now[0] = 3.0
    assert "действующих кодов" in await chat.send(u.message(USER, "/codes"))
    async with db.session() as session:
        await session.execute(
            update(Customer).where(Customer.id == customer.id).values(locale="en")
        )
        await session.commit()
    now[0] = 6.0
    assert "no active codes" in await chat.send(u.message(USER, "/codes"))
