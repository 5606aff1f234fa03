"""The OpenAPI 3.1 document, built from the route table and the pydantic models.

Schemas come from `model_json_schema` with references under `components/schemas`,
so the document describes exactly what the server parses and renders.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.api.routes import PREFIX, ROUTES, Route
from bot.api.schemas import ErrorOut, Out

REF = "#/components/schemas/{model}"
_ERRORS = {
    400: "Broken JSON, or the body is not a JSON object",
    401: "Missing or wrong API key",
    404: "Unknown customer, order, code or campaign",
    409: "Refused by a business rule (the margin guardrail, a budget; the message gives the "
    "numbers), conflicts with the stored state, or the same Idempotency-Key is still "
    "running",
    413: "Body larger than the limit",
    422: "Wrong types or values (`fields` names them), or an Idempotency-Key reused for "
    "another request",
    429: "Too many failed code checks; see Retry-After",
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry-safe writes: the same key and body replay the first answer; "
    "another body is 422; while the first request runs, 409 with Retry-After.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
_ACCEPT_LANGUAGE = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": "Language of shopper messages when the customer has none saved (ru, en).",
    "schema": {"type": "string"},
}


# An example of each path parameter, from the same story as `bot.api.examples`.
_PATH_EXAMPLES = {"customer_id": "c-1024", "order_id": "o-5531", "campaign_id": "3"}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}


def _operation(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(status): {
            "description": "OK" if status == 200 else "Created",
            "content": _json(route.response),
        }
        for status in route.statuses
    }
    errors = () if route.public else (400, 401, 413, 422, *route.errors)
    for status in sorted(set(errors)):
        response: dict[str, Any] = {"description": _ERRORS[status], "content": _json(ErrorOut)}
        if status == 429:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}
            }
        responses[str(status)] = response
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            "example": _PATH_EXAMPLES[name],
        }
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    if route.method in ("POST", "PUT"):
        parameters.append(_IDEMPOTENCY)
    if not route.public:
        parameters.append(_ACCEPT_LANGUAGE)
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": _json(route.body)}
    if route.public:
        operation["security"] = []
    return operation


def build_document() -> dict[str, Any]:
    models = {r.body for r in ROUTES if r.body} | {r.response for r in ROUTES} | {ErrorOut}
    _, defs = models_json_schema(
        [
            (m, "serialization" if issubclass(m, Out) else "validation")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(PREFIX + route.path, {})[route.method.lower()] = _operation(route)
    paths[PREFIX + "/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document",
                    "content": {"application/json": {
                        "schema": {"type": "object"},
                        "example": {"openapi": "3.1.0", "info": {"title": "promobot shop API",
                                                                  "version": "1"},
                                    "paths": {"/api/v1/health": {"get": {}}}},
                    }},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "promobot shop API",
            "version": "1",
            "description": "Money is an integer in minor units; times are ISO 8601 with an "
            'offset. Every error is `{"error": {"code", "message"}}`.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "PROMOBOT_API_KEYS, `name:key`",
                }
            },
        },
    }


OPENAPI = web.AppKey("openapi", dict)


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
