"""Reading a request body into its model: 400 for what is not a JSON object,
413 for what is too large (aiohttp's own limit), 422 with the field path for the rest."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.api.errors import ApiError

M = TypeVar("M", bound=BaseModel)
# A body read once per request and model: the anti-guessing brake reads it before the handler.
_PARSED = web.RequestKey("parsed_bodies", dict)
_NOT_AN_OBJECT = {"model_type", "model_attributes_type", "dict_type"}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def parse(request: web.Request, model: type[M]) -> M:
    parsed = request.get(_PARSED)
    if parsed is None:
        parsed = request[_PARSED] = {}
    elif model in parsed:
        return parsed[model]  # type: ignore[no-any-return]
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    try:
        body = parsed[model] = model.model_validate_json(raw)
    except ValidationError as error:
        errors = error.errors(include_url=False, include_input=False)
        first = errors[0]
        if first["type"] == "json_invalid":
            raise ApiError(400, "invalid_json", f"broken JSON: {first['msg']}") from None
        if first["type"] in _NOT_AN_OBJECT and not first["loc"]:
            raise ApiError(400, "invalid_json", "the request body must be a JSON object") from None
        paths = [_path(e["loc"]) or "(body)" for e in errors]
        message = "; ".join(f"{p}: {e['msg']}" for p, e in zip(paths, errors, strict=True))
        raise ApiError(422, "invalid_body", message[:1000], fields=paths) from None
    return body


def path_id(request: web.Request, name: str) -> str:
    """An id from the URL, held to the same 1-64 characters as ids in bodies."""
    value = request.match_info[name]
    if not 1 <= len(value) <= 64 or value != value.strip():
        raise ApiError(422, "invalid_path", f"{name} must be 1-64 characters", fields=[name])
    return value


def reply(model: BaseModel, status: int = 200) -> web.Response:
    """A response body rendered through its model, exactly as the OpenAPI document says."""
    return web.json_response(text=model.model_dump_json(), status=status)
