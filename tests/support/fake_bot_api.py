"""An in-process fake of Telegram's Bot API, served over real HTTP by aiohttp.

The real aiogram `Bot` talks to it (`TelegramAPIServer.from_base(server.url)`). It records
every request (method, params, time), answers the methods our bot uses with plausible
objects, hands queued updates to `getUpdates`, and can be scripted to fail:

    api.fail("sendMessage", 429, retry_after=3)          # next sendMessage only
    api.fail("sendMessage", 403, chat_id=42, times=None) # every send to chat 42
    api.fail("sendMessage", 500)

For the sender's tests it counts sends per chat and overall per second and can report
violations of Telegram's limits (`api.rate_violations(per_chat=1, overall=30)`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SEND_METHODS = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAnimation", "copyMessage",
    "forwardMessage", "sendMediaGroup", "sendPoll",
})
ERROR_TEXTS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class Request:
    method: str
    params: dict[str, Any]
    at: float
    token: str
    content_type: str = ""

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.params.get("reply_markup")


@dataclass
class Failure:
    method: str
    status: int
    description: str
    retry_after: int | None = None
    chat_id: int | None = None
    times: int | None = 1  # None: for ever


@dataclass
class FakeBotAPI:
    """State of the fake server; start it with `async with FakeBotAPI() as api:`."""

    bot_id: int = 123456
    username: str = "promobot"
    latency: float = 0.0
    # Serve from a thread with an event loop of its own: the times it records are then
    # when requests arrived, however busy the test's loop is (`queue_update` is not
    # available then).
    threaded: bool = False
    requests: list[Request] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._message_ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- scripting -------------------------------------------------------------
    def fail(
        self,
        method: str,
        status: int,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> None:
        text = description or ERROR_TEXTS.get(status, "Error").format(retry_after=retry_after)
        self.failures.append(Failure(method, status, text, retry_after, chat_id, times))

    def queue_update(self, update: dict[str, Any]) -> None:
        self._updates.put_nowait(update)

    def calls(self, method: str | None = None, chat_id: int | None = None) -> list[Request]:
        return [
            r for r in self.requests
            if (method is None or r.method == method) and (chat_id is None or r.chat_id == chat_id)
        ]

    def sent(self, chat_id: int | None = None) -> list[Request]:
        """Messages the bot sent or edited, in order."""
        return [r for r in self.requests
                if r.method in SEND_METHODS | {"editMessageText"}
                and (chat_id is None or r.chat_id == chat_id)]

    def last_text(self, chat_id: int | None = None) -> str:
        sent = self.sent(chat_id)
        return sent[-1].text if sent else ""

    def clear(self) -> None:
        self.requests.clear()

    def rate_violations(self, per_chat: float = 1.0, overall: float = 30.0) -> list[str]:
        """Seconds in which one chat got more than `per_chat` messages, or all chats more
        than `overall` (sliding one-second windows over the recorded sends)."""
        sends = sorted((r for r in self.requests if r.method in SEND_METHODS),
                       key=lambda r: r.at)
        problems: list[str] = []
        by_chat: dict[int | None, list[float]] = defaultdict(list)
        for r in sends:
            by_chat[r.chat_id].append(r.at)
        for chat, times in by_chat.items():
            peak = max(_window_peaks(times), default=0)
            if peak > per_chat:
                problems.append(f"chat {chat}: {peak} sends within 1 s")
        peak = max(_window_peaks([r.at for r in sends]), default=0)
        if peak > overall:
            problems.append(f"all chats: {peak} sends within 1 s")
        return problems

    # --- serving ---------------------------------------------------------------
    async def __aenter__(self) -> FakeBotAPI:
        if not self.threaded:
            await self._start()
            return self
        ready = threading.Event()

        def serve() -> None:
            loop = self._loop = asyncio.new_event_loop()
            loop.run_until_complete(self._start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._stop())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-bot-api", daemon=True)
        self._thread.start()
        await asyncio.to_thread(ready.wait)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._thread is None:
            await self._stop()
            return
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            for key, value in form.items():
                params[key] = value if isinstance(value, str) else f"<file {value.filename}>"
        for key, value in list(params.items()):
            if value in ("true", "false"):
                params[key] = value == "true"
            elif isinstance(value, str) and value[:1] in "[{":
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    pass
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()  # before the body is read: when Telegram would count it
        method = request.match_info["method"]
        params = await self._params(request)
        record = Request(method, params, arrived, request.match_info["token"],
                         request.content_type)
        self.requests.append(record)
        if self.latency:
            await asyncio.sleep(self.latency)
        failure = self._failure_for(record)
        if failure is not None:
            body: dict[str, Any] = {"ok": False, "error_code": failure.status,
                                    "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return web.json_response(body, status=failure.status)
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(params)})
        return web.json_response({"ok": True, "result": self._result(method, params)})

    def _failure_for(self, record: Request) -> Failure | None:
        for failure in self.failures:
            if failure.method != record.method:
                continue
            if failure.chat_id is not None and failure.chat_id != record.chat_id:
                continue
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
            return failure
        return None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        timeout = float(params.get("timeout") or 0)
        updates: list[dict[str, Any]] = []
        try:
            if self._updates.empty() and timeout:
                updates.append(await asyncio.wait_for(self._updates.get(), min(timeout, 1.0)))
        except TimeoutError:
            return []
        while not self._updates.empty():
            updates.append(self._updates.get_nowait())
        return updates

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id", 0)
        try:
            chat_id = int(chat_id)
        except (TypeError, ValueError):
            chat_id = 0
        message: dict[str, Any] = {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self._me(),
        }
        if "text" in params:
            message["text"] = params["text"]
        if "caption" in params:
            message["caption"] = params["caption"]
        if isinstance(params.get("reply_markup"), dict) and "inline_keyboard" in params[
            "reply_markup"
        ]:
            message["reply_markup"] = params["reply_markup"]
        return message

    def _poll(self, params: dict[str, Any]) -> dict[str, Any]:
        """A poll message as Telegram returns it: the poll has an id of its own, which the
        answers (`poll_answer` updates) name."""
        message = self._message(params)
        options = params.get("options") or []
        if isinstance(options, str):
            options = json.loads(options)
        message["poll"] = {
            "id": f"poll{message['message_id']}",
            "question": params.get("question", ""),
            "options": [{"persistent_id": str(n), "voter_count": 0,
                         "text": o["text"] if isinstance(o, dict) else str(o)}
                        for n, o in enumerate(options)],
            "total_voter_count": 0, "is_closed": False,
            "is_anonymous": params.get("is_anonymous") not in (False, "false"),
            "type": "regular", "allows_multiple_answers": False, "allows_revoting": True,
            "members_only": False,
        }
        return message

    def _me(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Promo",
                "username": self.username}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self._me()
        if method in ("sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAnimation",
                      "editMessageText", "editMessageReplyMarkup", "editMessageCaption",
                      "forwardMessage"):
            return self._message(params)
        if method == "sendPoll":
            return self._poll(params)
        if method == "copyMessage":
            return {"message_id": next(self._message_ids)}
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getMyCommands":
            return []
        return True


def _window_peaks(times: list[float]) -> list[int]:
    """For each send, how many sends fall in the second that starts with it."""
    peaks = []
    start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        peaks.append(end - start + 1)
    return peaks
