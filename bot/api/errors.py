"""Every error is JSON `{"error": {"code", "message"}}`; bad input never becomes a 5xx.

`ApiError` is what handlers raise; the middleware here also turns aiohttp's own
HTTP exceptions (404 route, 405, 413 body too large) and domain errors into that
shape, and an unexpected exception into a logged JSON 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.promo.errors import DomainError
from bot.texts.errors import MEANINGS

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "body_too_large", 415: "unsupported_media_type", 422: "invalid",
    429: "rate_limited",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = list(fields) if fields else None
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, *, fields: Sequence[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = list(fields)
    return web.json_response({"error": error}, status=status, headers=headers)


def from_domain(error: DomainError) -> ApiError:
    """The status is the code's meaning (`bot.texts.errors`); the message, the domain's
    English detail; `fields`, the input field the refusal names."""
    field = error.params.get("field")
    return ApiError(MEANINGS[error.code].status, error.code, error.message,
                    fields=[field] if field else None)


def response_for(request: web.Request, exc: BaseException) -> web.Response:
    """The JSON answer for an exception a handler raised."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, fields=exc.fields,
                              headers=exc.headers)
    if isinstance(exc, DomainError):
        api = from_domain(exc)
        return error_response(api.status, api.code, api.message, fields=api.fields)
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        message = exc.reason
        if exc.status == 413:
            message = f"request body is larger than {request.client_max_size} bytes"
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, _HTTP_CODES.get(exc.status, "http_error"), message,
                              headers=headers)
    log.error("unhandled error in %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal", "internal error; it has been logged")


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return response_for(request, exc)
    except Exception as exc:
        return response_for(request, exc)
