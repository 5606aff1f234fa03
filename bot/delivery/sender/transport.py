"""How the bot's requests travel: `JsonSession` for every Bot API call, and sendMessage on
the sender's hot path through the Bot's own HTTP session (a survey's sendPoll, rare, goes
the ordinary aiogram way).

aiogram's `Bot.send_message` builds a pydantic method object, a multipart form and a full
`Message` model for every reply: ~0.8 ms of CPU per message on the development machine,
against ~0.3 ms for a JSON POST on the same aiohttp session. At a paid broadcast's
1000 messages/s that difference is most of a core. So the sender posts JSON itself and
reads only `message_id`; everything else stays aiogram's: the token, the API server
URL (`PROMOBOT_TELEGRAM_API_URL`), the connection pool, and — whenever the answer is not
a plain success — `check_response`, so errors arrive as the usual `TelegramRetryAfter`,
`TelegramForbiddenError`, `TelegramBadRequest`, `TelegramServerError`, ... A session that
is not aiogram's aiohttp session (a custom one in tests, say) gets `Bot.send_message`.
Request middlewares registered on the Bot's session are not run for these calls.
"""

from __future__ import annotations

import json
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.methods import SendMessage, SendPoll, TelegramMethod
from aiogram.types import InlineKeyboardMarkup, InputFile, InputPollOption
from aiohttp import ClientError, ClientTimeout, FormData
from aiohttp.payload import JsonPayload

JSON_HEADERS = {"Content-Type": "application/json"}


class JsonSession(AiohttpSession):
    """aiogram's aiohttp session, posting a method's parameters as a JSON object, which
    the Bot API takes as well as a form, unless the method uploads a file.

    aiogram urlencodes them, and `urllib` quotes a string byte by byte in Python: for a
    `/codes` answer of a few hundred Cyrillic letters that took longer than the rest of
    the request. The values are aiogram's own, prepared the same way (nested objects as
    JSON strings, which the Bot API reads in either body)."""

    def build_form_data(  # type: ignore[override]
        self, bot: Bot, method: TelegramMethod[Any]
    ) -> FormData | JsonPayload:
        files: dict[str, InputFile] = {}
        fields: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files)
            if value:  # aiogram's own rule for what goes into the form
                fields[key] = value
        if files:
            return super().build_form_data(bot, method)
        return JsonPayload(fields, dumps=self.json_dumps)


async def send_text(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    request_timeout: float,
    allow_paid_broadcast: bool = False,
    reply_markup: dict[str, Any] | None = None,
) -> int:
    """Send an HTML message (with an inline keyboard given as Bot API JSON); returns its
    message id or raises aiogram's exceptions."""
    session = bot.session
    paid = True if allow_paid_broadcast else None

    def keyboard() -> InlineKeyboardMarkup | None:  # a model only off the JSON path
        return InlineKeyboardMarkup.model_validate(reply_markup) if reply_markup else None

    if not isinstance(session, AiohttpSession):
        message = await bot.send_message(
            chat_id=chat_id, text=text, parse_mode="HTML", allow_paid_broadcast=paid,
            reply_markup=keyboard(), request_timeout=int(request_timeout),
        )
        return message.message_id
    payload: dict[str, object] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if paid:
        payload["allow_paid_broadcast"] = True
    if reply_markup:
        payload["reply_markup"] = reply_markup

    def method() -> SendMessage:  # only built when something went wrong
        return SendMessage(chat_id=chat_id, text=text, parse_mode="HTML",
                           allow_paid_broadcast=paid, reply_markup=keyboard())

    client = await session.create_session()
    try:
        async with client.post(
            session.api.api_url(token=bot.token, method="sendMessage"),
            data=session.json_dumps(payload),
            headers=JSON_HEADERS,
            timeout=ClientTimeout(total=request_timeout),
        ) as response:
            status, raw = response.status, await response.text()
    except TimeoutError as error:
        raise TelegramNetworkError(method=method(), message="Request timeout error") from error
    except ClientError as error:
        raise TelegramNetworkError(
            method=method(), message=f"{type(error).__name__}: {error}"
        ) from error
    if status == 200:
        try:
            answer = json.loads(raw)
            if answer.get("ok"):
                return int(answer["result"]["message_id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    session.check_response(bot=bot, method=method(), status_code=status, content=raw)
    raise TelegramAPIError(method=method(), message=f"unexpected answer {status}: {raw[:200]}")


async def send_poll(
    bot: Bot,
    chat_id: int,
    poll: dict[str, Any],
    *,
    request_timeout: float,
    allow_paid_broadcast: bool = False,
) -> tuple[int, str]:
    """Send a poll (`{"question", "options"}`) that is not anonymous, as a survey's answers
    must say who gave them; returns its message id and the poll's id, which its answers
    (`poll_answer` updates) name."""
    options = [InputPollOption(text=text) for text in poll["options"]]
    message = await bot.send_poll(
        chat_id=chat_id, question=poll["question"], options=options,
        is_anonymous=False, allow_paid_broadcast=True if allow_paid_broadcast else None,
        request_timeout=int(request_timeout),
    )
    if message.poll is None:
        raise TelegramAPIError(method=SendPoll(chat_id=chat_id, question=poll["question"],
                                               options=options),
                               message="sendPoll answered without a poll")
    return message.message_id, message.poll.id
