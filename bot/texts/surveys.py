"""Surveys in words: the playbook's ready-made questions, the poll a shopper gets, the
thank-you that carries the reward, the results a manager reads and a customer's answers
on their card.

A survey made from a template (`TEMPLATES`) is worded in each shopper's language; one a
manager typed goes out as typed. Option order is the survey's: answers are stored by
the option's index, so a template's options never change order.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiogram import html

from bot.db.models import Delivery, Survey
from bot.delivery.outbox import Reason
from bot.i18n import N_, format_day, format_percent, gettext, ngettext
from bot.promo.surveys.answers import Given
from bot.promo.surveys.surveys import Results, is_open, reward_of
from bot.texts.wording import reward_text

# key → (question, options): what the playbook asks ("which reward would you like?").
TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reward": (
        N_("Which reward for your loyalty would you like most?"),
        (N_("A discount on the next order"), N_("Free delivery"), N_("A gift with the order"),
         N_("Early access to new arrivals")),
    ),
    "frequency": (
        N_("How often would you like to hear from us?"),
        (N_("Once a week"), N_("Twice a month"), N_("Once a month"),
         N_("Only about my codes and rewards")),
    ),
}


def template_poll(key: str, locale: str) -> tuple[str, list[str]]:
    question, options = TEMPLATES[key]
    return gettext(question, locale), [gettext(option, locale) for option in options]


def question_of(survey: Survey | Given, locale: str) -> str:
    if survey.template in TEMPLATES:
        return template_poll(survey.template, locale)[0]  # type: ignore[arg-type]
    return survey.question


def options_of(survey: Survey, locale: str) -> list[str]:
    if survey.template in TEMPLATES:
        return template_poll(survey.template, locale)[1]  # type: ignore[arg-type]
    return list(survey.options)


def survey_poll(delivery: Delivery, *, locale: str) -> dict[str, Any] | None:
    """The sender's `Polls`: a survey row's poll in the reader's language; None for any
    other row."""
    if delivery.reason != Reason.SURVEY:
        return None
    payload = delivery.payload or {}
    key = payload.get("template")
    if key in TEMPLATES:
        question, options = template_poll(key, locale)
    else:
        question, options = str(payload["question"]), [str(o) for o in payload["options"]]
    return {"question": question, "options": options}


def results_text(results: Results, *, locale: str, tz: ZoneInfo, now: Any) -> str:
    """A survey's results for a manager: what was asked, who got it and answered, each
    option with its count and share, the reward paid, open or closed."""
    survey = results.survey
    lines = [
        html.bold(gettext("📊 Survey #{id}", locale).format(id=survey.id)),
        html.quote(question_of(survey, locale)),
        "",
        gettext("Sent: {sent}; answered: {answered}", locale).format(
            sent=results.sent, answered=results.answered)
        + (f" ({format_percent(round(results.response_rate * 100), locale)})"
           if results.response_rate is not None else ""),
    ]
    for index, (option, count) in enumerate(zip(options_of(survey, locale), results.counts,
                                                strict=True), start=1):
        share = (f" — {format_percent(round(count / results.answered * 100), locale)}"
                 if results.answered else "")
        lines.append(f"{index}. {html.quote(option)}: {count}{share}")
    offer = reward_of(survey)
    lines.append("")
    if offer is not None:
        lines.append(gettext("Reward for an answer: {reward}; paid: {paid}", locale).format(
            reward=html.quote(reward_text(offer, locale)), paid=results.rewarded))
    else:
        lines.append(gettext("No reward for answering.", locale))
    if is_open(survey, now):
        lines.append(gettext("Open until {day}.", locale).format(
            day=format_day(survey.closes_at, locale, tz)))
    else:
        lines.append(gettext("Closed: new answers are not counted.", locale))
    return "\n".join(lines)


def survey_line(survey: Survey, locale: str) -> str:
    """A survey in `/survey`'s list: number, question, how many it went to."""
    state = "" if survey.status == "open" else " " + gettext("(closed)", locale)
    return f"#{survey.id} {html.quote(question_of(survey, locale))} — " + ngettext(
        "sent to {count} customer", "sent to {count} customers", survey.queued, locale
    ).format(count=survey.queued) + state


def answer_lines(given: list[Given], locale: str) -> list[str]:
    """A customer's answers on their card."""
    if not given:
        return []
    lines = [gettext("Survey answers:", locale)]
    for answer in given:
        choice = (html.quote(_option_of(answer, locale)) if answer.option is not None
                  else gettext("answer withdrawn", locale))
        lines.append(f"• #{answer.survey_id} {html.quote(question_of(answer, locale))} — {choice}")
    return lines


def _option_of(answer: Given, locale: str) -> str:
    if answer.template in TEMPLATES and answer.option is not None:
        return template_poll(answer.template, locale)[1][answer.option]
    return answer.answer or ""
