"""`Idempotency-Key`: a retried POST/PUT gets the first answer, not a second effect.

For a write carrying the header, a record (API key name, key, method, path, SHA-256 of
the body) is inserted and committed *before* the handler runs, relying on the unique
(api key name, key) constraint, so a concurrent duplicate finds it:
- same key, same request, answer stored → the stored status and body are replayed
  (with `Idempotent-Replayed: true`);
- same key, same request, first one still running → 409 `idempotency_in_progress` with
  `Retry-After: 1`; the client retries and then gets the replay. We answer 409 instead of
  waiting, so a stuck first request never pins a second connection;
- same key, other method, path or body → 422 `idempotency_key_reused`.
Answers below 500 are stored (a 4xx is a final answer too); on a 5xx or a crash the
record is deleted so the retry runs afresh. A record left "running" by a dead process
is taken over after `STALE_AFTER`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy import delete, select, update

from bot.api.context import API_KEY_NAME, CLOCK, DATABASE
from bot.api.errors import error_response, response_for
from bot.db.dialect import insert_ignoring_conflict
from bot.db.engine import Database
from bot.db.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200
STALE_AFTER = timedelta(minutes=5)
_METHODS = frozenset({"POST", "PUT"})
records = IdempotencyRecord.__table__


class State(Enum):
    NEW = "new"
    REPLAY = "replay"
    RUNNING = "running"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class Claim:
    state: State
    record_id: int | None = None
    status: int | None = None
    body: str | None = None


async def claim(
    db: Database, *, api_key_name: str, key: str, method: str, path: str, digest: str,
    now: datetime,
) -> Claim:
    """Insert the running record, or say what the existing one means; commits."""
    for _attempt in range(3):
        async with db.session() as session:
            inserted = (await session.execute(insert_ignoring_conflict(
                session, records, api_key_name=api_key_name, key=key, method=method,
                path=path, request_hash=digest, created_at=now,
            ).returning(records.c.id))).first()
            if inserted is not None:
                await session.commit()
                return Claim(State.NEW, inserted[0])
            row = (await session.execute(
                select(records).where(records.c.api_key_name == api_key_name,
                                      records.c.key == key)
            )).first()
            if row is None:
                await session.rollback()
                continue  # the first request failed and let go of the key: try again
            if (row.method, row.path, row.request_hash) != (method, path, digest):
                return Claim(State.MISMATCH)
            if row.response_status is not None:
                return Claim(State.REPLAY, row.id, row.response_status, row.response_body)
            if row.created_at < now - STALE_AFTER:
                taken = await session.execute(
                    update(records)
                    .where(records.c.id == row.id, records.c.response_status.is_(None),
                           records.c.created_at == row.created_at)
                    .values(created_at=now)
                )
                await session.commit()
                if taken.rowcount == 1:
                    return Claim(State.NEW, row.id)
            return Claim(State.RUNNING, row.id)
    return Claim(State.RUNNING)


async def finish(db: Database, record_id: int, response: web.Response) -> None:
    async with db.session() as session:
        if response.status >= 500:
            await session.execute(delete(records).where(records.c.id == record_id))
        else:
            body = response.body
            text = body.decode() if isinstance(body, bytes | bytearray) else ""
            await session.execute(
                update(records).where(records.c.id == record_id)
                .values(response_status=response.status, response_body=text)
            )
        await session.commit()


async def _forget(db: Database, record_id: int) -> None:
    async with db.session() as session:
        await session.execute(delete(records).where(records.c.id == record_id))
        await session.commit()


@web.middleware
async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    key = request.headers.get(HEADER)
    if (
        key is None or request.method not in _METHODS or API_KEY_NAME not in request
        or request.match_info.http_exception is not None
    ):
        return await handler(request)
    key = key.strip()
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        return error_response(422, "invalid_idempotency_key",
                              f"{HEADER} must be 1-{MAX_KEY_LENGTH} characters")
    body = await request.read()
    db = request.app[DATABASE]
    got = await claim(
        db, api_key_name=request[API_KEY_NAME], key=key, method=request.method,
        path=request.path, digest=hashlib.sha256(body).hexdigest(), now=request.app[CLOCK](),
    )
    if got.state is State.MISMATCH:
        return error_response(422, "idempotency_key_reused",
                              f"this {HEADER} was used for a different request")
    if got.state is State.RUNNING:
        return error_response(409, "idempotency_in_progress",
                              "the first request with this key is still running; retry",
                              headers={"Retry-After": "1"})
    if got.state is State.REPLAY:
        return web.Response(status=got.status or 200, text=got.body or "",
                            content_type="application/json", headers={REPLAYED_HEADER: "true"})
    assert got.record_id is not None
    try:
        response = await handler(request)
    except BaseException as exc:
        if not isinstance(exc, Exception):  # cancelled: the client went away
            await _forget(db, got.record_id)
            raise
        response = response_for(request, exc)
    if isinstance(response, web.Response):
        await finish(db, got.record_id, response)
    else:  # pragma: no cover - streaming answers are not stored
        await _forget(db, got.record_id)
    return response
