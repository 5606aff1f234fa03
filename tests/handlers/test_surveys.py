"""Surveys in Telegram (issue 17): a manager asks with `/survey new`, the poll goes out
through the outbox and the sender as a non-anonymous Telegram poll to those who accept
promotions, each `poll_answer` is stored per customer and its reward queued once, the
answers narrow a campaign to exactly those who chose an option, and the staff read the
results with a chart, on the customer's card and from `/stats`. Through the real
Dispatcher, the sender and the fake Bot API."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy import select, update

import tests.support.factories as factories
import tests.support.updates as u
from bot.app.telegram import create_dispatcher
from bot.config import Settings
from bot.db import Database, create_database
from bot.db.models import (
    Campaign,
    CampaignStatus,
    Customer,
    Delivery,
    PromoCode,
    Survey,
    SurveyAnswer,
)
from bot.delivery.sender import Sender
from bot.promo.campaigns.running import run_campaign
from bot.promo.surveys.answers import record_answer
from bot.texts.notices import render_message
from bot.texts.surveys import survey_poll
from tests.support.campaign_dialog import button
from tests.support.chat import Chat
from tests.support.managers import ANALYST, MANAGER, UploadingBotAPI, add_staff
from tests.support.shop import assignments, context, set_status

ANNA, BORIS, OLGA = 7101, 7102, 7103
MESSAGE_IDS = itertools.count(10_000)


@pytest.fixture
async def api() -> AsyncIterator[UploadingBotAPI]:
    async with UploadingBotAPI() as server:
        yield server


@pytest.fixture
def dp(tg_settings: Settings, db: Database, clock: Any) -> Dispatcher:
    """The real Dispatcher; a dialog is more updates than the default burst allows."""
    return create_dispatcher(tg_settings, db, clock, throttle_burst=50)


@pytest.fixture
async def shoppers(db: Database, clock: Any) -> dict[str, Customer]:
    """Anna (Russian) and Boris (English) accept promotions; Olga declined them; Vera has
    no Telegram."""
    made = {
        "anna": await factories.customer(db, "anna", now=clock(), telegram_id=ANNA,
                                         marketing_opt_in=True, locale="ru"),
        "boris": await factories.customer(db, "boris", now=clock(), telegram_id=BORIS,
                                          marketing_opt_in=True, locale="en"),
        "olga": await factories.customer(db, "olga", now=clock(), telegram_id=OLGA,
                                         marketing_opt_in=False),
        "vera": await factories.customer(db, "vera", now=clock(), marketing_opt_in=True),
    }
    await add_staff(db, MANAGER, "manager")
    return made


class Manager:
    """The manager's side of `/survey`, in English."""

    def __init__(self, chat: Chat, api: UploadingBotAPI, user: int = MANAGER) -> None:
        self.chat, self.api, self.user = chat, api, user

    async def send(self, text: str) -> str:
        return await self.chat.send(u.message(self.user, text, language_code="en"))

    async def press(self, text: str, message_id: int | None = None) -> str:
        """Press the button on the last keyboard sent; each keyboard is a message of its
        own unless `message_id` says which (a second tap on the same one)."""
        return await self.chat.send(u.callback(
            self.user, button(self.api, text), language_code="en",
            message_id=message_id or next(MESSAGE_IDS)))

    def before_last(self) -> str:
        return self.api.sent(self.user)[-2].text

    async def new_survey(self, *, reward: str = "5% 30", segment: str = "All customers"
                         ) -> str:
        assert "New survey" in await self.send("/survey new")
        assert "What does an answer earn?" in await self.press("Which reward")
        assert "Whom do we ask?" in await self.send(reward)
        check = await self.press(segment)
        assert "Check the survey" in check, check
        return await self.press("Send")


async def _deliver(db: Database, bot: Bot, settings: Settings, clock: Any) -> None:
    sender = Sender(db, bot, settings, clock=clock, render=render_message, polls=survey_poll)
    async with asyncio.timeout(20):
        await sender.run_until_idle()


async def _rows(db: Database, model: Any, *where: Any) -> list[Any]:
    async with db.read_session() as session:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))


async def _poll_of(db: Database, customer: Customer) -> str:
    (row,) = await _rows(db, Delivery, Delivery.reason == "survey",
                         Delivery.customer_id == customer.id)
    assert row.status == "sent" and row.poll_id, (row.status, row.error)
    return row.poll_id


async def _answered(chat: Chat, db: Database, bot: Bot, settings: Settings, clock: Any,
                    shoppers: dict[str, Customer], **votes: int) -> Survey:
    """The playbook's reward survey (5 % for an answer) sent, and each shopper named in
    `votes` answered with that option."""
    await Manager(chat, chat.api).new_survey()  # type: ignore[arg-type]
    await _deliver(db, bot, settings, clock)
    for name, option in votes.items():
        telegram_id = {"anna": ANNA, "boris": BORIS}[name]
        await chat.feed(u.poll_answer(telegram_id, await _poll_of(db, shoppers[name]),
                                      [option]))
    (survey,) = await _rows(db, Survey)
    return survey


async def test_a_survey_round_trip_poll_answer_reward_and_segment(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    anna, boris = shoppers["anna"], shoppers["boris"]
    manager = Manager(chat, api)
    assert "on its way to 2 customers" in await manager.new_survey()
    (survey,) = await _rows(db, Survey)
    queued = await _rows(db, Delivery, Delivery.reason == "survey")
    # Promotional: within the caps and quiet hours; not to Olga (declined), nor Vera.
    assert [(d.customer_id, d.promotional) for d in queued] == [(anna.id, True),
                                                                (boris.id, True)]

    await _deliver(db, bot, tg_settings, clock)
    polls = {call.chat_id: call.params for call in api.calls("sendPoll")}
    assert set(polls) == {ANNA, BORIS}
    # Not anonymous, or the answers could not say who gave them; each in their language.
    assert polls[ANNA]["is_anonymous"] is False
    assert polls[ANNA]["question"] == "Какую награду за лояльность вы хотели бы больше всего?"
    assert [o["text"] for o in polls[ANNA]["options"]] == [
        "Скидку на следующий заказ", "Бесплатную доставку", "Подарок к заказу",
        "Ранний доступ к новинкам"]
    assert polls[BORIS]["question"] == "Which reward for your loyalty would you like most?"

    anna_poll = await _poll_of(db, anna)
    vote = u.poll_answer(ANNA, anna_poll, [1])
    await chat.feed(vote)
    await chat.feed(vote)  # Telegram delivering the same update again
    await chat.feed(u.poll_answer(ANNA, anna_poll, [2]))  # she changes her mind
    await chat.feed(u.poll_answer(BORIS, await _poll_of(db, boris), [1]))
    answers = {a.customer_id: a.option for a in await _rows(db, SurveyAnswer)}
    assert answers == {anna.id: 2, boris.id: 1}
    # The reward: once each, however often they voted.
    codes = await _rows(db, PromoCode, PromoCode.source == "survey")
    assert sorted(c.customer_id for c in codes) == [anna.id, boris.id]
    assert {(c.discount_value, c.valid_days) for c in codes} == {(5, 30)}
    rewards = await _rows(db, Delivery, Delivery.reason == "survey_reward")
    assert len(rewards) == 2 and not any(r.promotional for r in rewards)

    await _deliver(db, bot, tg_settings, clock)
    (thanks,) = [r for r in api.sent(ANNA) if r.method == "sendMessage"]
    anna_code = next(c for c in codes if c.customer_id == anna.id)
    assert "Спасибо за ответ, он нам очень помогает!" in thanks.text
    assert f"<code>{anna_code.code}</code>" in thanks.text

    # The answers as a campaign's audience: exactly those who chose "A gift".
    campaign = await factories.campaign(db, now=clock(), segment="all",
                                        params={"survey_answer": [survey.id, 2]})
    await run_campaign(context(db, tg_settings, clock()), campaign.id)
    assert [a.customer_id for a in await assignments(db, campaign.id)] == [anna.id]


async def test_only_the_recipient_while_open_and_only_options_it_has(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    anna = shoppers["anna"]
    manager = Manager(chat, api)
    await manager.new_survey(reward="-")
    await _deliver(db, bot, tg_settings, clock)
    anna_poll = await _poll_of(db, anna)
    await chat.feed(u.poll_answer(BORIS, anna_poll, [0]))  # someone else's poll
    await chat.feed(u.poll_answer(ANNA, "not-our-poll", [0]))
    await chat.feed(u.poll_answer(ANNA, anna_poll, [7]))  # no such option
    assert await _rows(db, SurveyAnswer) == []
    await chat.feed(u.poll_answer(ANNA, anna_poll, [0]))
    await chat.feed(u.poll_answer(ANNA, anna_poll, []))  # she withdraws her vote
    (answer,) = await _rows(db, SurveyAnswer)
    assert answer.option is None and answer.code_id is None  # no reward promised
    (survey,) = await _rows(db, Survey)
    assert "is closed" in await manager.send(f"/survey close {survey.id}")
    assert "already closed" in await manager.send(f"/survey close {survey.id}")
    await chat.feed(u.poll_answer(ANNA, anna_poll, [3]))
    (answer,) = await _rows(db, SurveyAnswer)
    assert answer.option is None  # a closed survey counts no more answers
    assert "Closed: new answers are not counted." in await manager.send(f"/survey {survey.id}")


async def test_results_with_a_chart_on_the_card_and_in_stats(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    manager = Manager(chat, api)
    survey = await _answered(chat, db, bot, tg_settings, clock, shoppers, anna=1, boris=1)
    uploads = len(api.uploads)
    results = await manager.send(f"/survey {survey.id}")
    assert f"Survey #{survey.id}" in results
    assert "Sent: 2; answered: 2 (100%)" in results
    assert "1. A discount on the next order: 0 — 0%" in results
    assert "2. Free delivery: 2 — 100%" in results
    assert "Reward for an answer: 5% off; paid: 2" in results
    (chart,) = api.uploads[uploads:]
    assert chart.method == "sendPhoto" and chart.content.startswith(b"\x89PNG")
    assert await manager.send(f"/stats survey {survey.id}") == results
    await add_staff(db, ANALYST, "analyst")
    analyst = Manager(chat, api, ANALYST)
    assert "Free delivery: 2" in await analyst.send(f"/survey {survey.id}")
    assert "does not allow" in await analyst.send("/survey new")
    assert f"#{survey.id} Which reward for your loyalty" in await analyst.send("/survey")
    card = await manager.send("/customer anna")
    assert "Survey answers:" in card and "— Free delivery" in card
    assert "There is no such survey." in await manager.send("/survey 999")
    assert "Usage: /survey new" in await manager.send("/survey soon")


async def test_a_campaign_to_those_who_chose_an_option_from_the_results(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    manager = Manager(chat, api)
    survey = await _answered(chat, db, bot, tg_settings, clock, shoppers, anna=1, boris=0)
    await manager.send(f"/survey {survey.id}")
    assert "Name the campaign" in await manager.press("Campaign: Free delivery")
    assert f"who chose “Free delivery” in survey #{survey.id}" in manager.before_last()
    assert "The offer" in await manager.send("Free delivery lovers")
    assert "Variants" in await manager.send("10% 30")
    assert "Control group" in await manager.press("Single offer")
    assert "When should it run" in await manager.press("0%")
    assert "Russian" in await manager.press("Keep as draft")
    await manager.send("Доставка за наш счёт")
    await manager.send("Delivery is on us")
    summary = next(r.text for r in api.sent(MANAGER)[::-1] if "Check the campaign" in r.text)
    assert f"Only those who chose “Free delivery” in survey #{survey.id}" in summary
    assert "created" in await manager.press("Create")
    (campaign,) = await _rows(db, Campaign)
    assert (campaign.segment, campaign.params) == ("all", {"survey_answer": [survey.id, 1]})
    await set_status(db, campaign.id, CampaignStatus.ACTIVE)
    await run_campaign(context(db, tg_settings, clock()), campaign.id)
    assert [a.customer_id for a in await assignments(db, campaign.id)] == [shoppers["anna"].id]


async def test_an_own_question_goes_out_as_typed(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    manager = Manager(chat, api)
    await manager.send("/survey new")
    assert "Send the question" in await manager.press("My own question")
    assert "Send the answer options" in await manager.send("Which tea do you like?")
    assert "Send them again" in await manager.send("Green")  # one option is no poll
    assert "Send them again" in await manager.send("Green\ngreen")
    assert "What does an answer earn?" in await manager.send("Green\nBlack\nHerbal")
    assert "What does an answer earn?" in await manager.send("lots")
    assert "could not read" in manager.before_last()
    assert "Whom do we ask?" in await manager.send("-")
    check = await manager.press("Regulars")
    assert "Which tea do you like?" in check and "An answer earns: nothing" in check
    assert "0 customers reachable" in check
    assert "on its way to 0 customers" in await manager.press("Send")
    (survey,) = await _rows(db, Survey)
    assert (survey.question, survey.options, survey.segment, survey.reward) == (
        "Which tea do you like?", ["Green", "Black", "Herbal"], "regulars", {})
    # Everyone (no segment filter) gets it as typed, whatever their language.
    await manager.send("/survey new")
    await manager.press("My own question")
    await manager.send("Which tea do you like?")
    await manager.send("Green\nBlack")
    await manager.send("-")
    await manager.press("All customers")
    await manager.press("Send")
    await _deliver(db, bot, tg_settings, clock)
    polls = {call.chat_id: call.params for call in api.calls("sendPoll")}
    assert {chat_id: p["question"] for chat_id, p in polls.items()} == {
        ANNA: "Which tea do you like?", BORIS: "Which tea do you like?"}


async def test_a_double_tap_on_send_makes_one_survey(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    manager = Manager(chat, api)
    assert "New survey" in await manager.send("/survey new")
    await manager.press("Which reward")
    await manager.send("-")
    await manager.press("All customers")
    send = u.callback(MANAGER, button(api, "Send"), language_code="en", message_id=77)
    again = u.callback(MANAGER, button(api, "Send"), language_code="en", message_id=77)
    await asyncio.gather(chat.feed(send), chat.feed(again))
    assert len(await _rows(db, Survey)) == 1
    assert len(await _rows(db, Delivery, Delivery.reason == "survey")) == 2


async def test_closing_withdraws_the_polls_not_sent_and_late_ones_expire(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    manager = Manager(chat, api)
    await manager.new_survey()
    (survey,) = await _rows(db, Survey)
    queued = await _rows(db, Delivery, Delivery.reason == "survey")
    # A poll held by the caps or quiet hours past the survey's end is not sent.
    assert {d.expires_at for d in queued} == {survey.closes_at}
    await manager.send(f"/survey close {survey.id}")
    assert {d.status for d in await _rows(db, Delivery, Delivery.reason == "survey")} == {
        "cancelled"}
    await _deliver(db, bot, tg_settings, clock)
    assert api.calls("sendPoll") == []
    assert "closed" in await manager.send(f"/survey send {survey.id}")


async def test_a_vote_quicker_than_the_senders_record_counts(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    anna = shoppers["anna"]
    await Manager(chat, api).new_survey()
    async with db.session() as session:  # the poll is out; its id not recorded yet
        await session.execute(update(Delivery).where(Delivery.customer_id == anna.id)
                              .values(status="sending"))
        await session.commit()
    await chat.feed(u.poll_answer(ANNA, "poll-just-sent", [3]))
    (answer,) = await _rows(db, SurveyAnswer)
    assert (answer.customer_id, answer.option) == (anna.id, 3) and answer.code_id
    (poll,) = await _rows(db, Delivery, Delivery.customer_id == anna.id,
                          Delivery.reason == "survey")
    assert poll.poll_id == "poll-just-sent"


async def test_two_instances_taking_the_same_vote_reward_it_once(
    chat: Chat, db, clock, bot, api, tg_settings, shoppers,
) -> None:
    anna = shoppers["anna"]
    await Manager(chat, api).new_survey()
    await _deliver(db, bot, tg_settings, clock)
    poll_id = await _poll_of(db, anna)
    other = create_database(tg_settings.db.url)  # a second process's pool

    async def vote(database: Database) -> None:
        async with database.session() as session:
            await record_answer(session, poll_id=poll_id, customer=anna, option_ids=[0],
                                settings=tg_settings, now=clock())
            await session.commit()

    try:
        await asyncio.gather(vote(db), vote(other), vote(db), vote(other))
    finally:
        await other.dispose()
    assert len(await _rows(db, PromoCode, PromoCode.source == "survey")) == 1
    assert len(await _rows(db, Delivery, Delivery.reason == "survey_reward")) == 1
