"""Bad input gets a JSON 4xx with the error shape, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest

from bot.api.auth import key_name
from tests.support.api import Api


def assert_error(status: int, body: Any, expected: int, code: str | None = None) -> None:
    assert status == expected, body
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code


@pytest.mark.parametrize("key", [None, "wrong", "test-key-and-more", "", "тест"])
async def test_no_or_wrong_key_is_401(api: Api, key: str | None) -> None:
    status, body, headers = await api.put("/customers/c1", {}, key=key)
    assert_error(status, body, 401, "unauthorized")
    assert headers["WWW-Authenticate"].startswith("Bearer")


async def test_other_named_key_works(api: Api) -> None:
    status, _, _ = await api.put("/customers/c1", {}, key="other-key")
    assert status == 201
    assert key_name("other-key", {"test-key": "shop", "other-key": "backoffice"}) == "backoffice"


@pytest.mark.parametrize("data", ["{", "not json", "[1, 2]", "42", "null", "\"text\"",
                                  "[" * 5000 + "]" * 5000, "", "{\"a\": NaN"])
async def test_broken_json_or_not_an_object_is_400(api: Api, data: str) -> None:
    status, body, _ = await api.post("/codes/validate", data=data)
    assert_error(status, body, 400, "invalid_json")


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/codes/validate", {"code": 5, "customer_id": "c1", "order": {"total": 1}}, "code"),
    ("/codes/validate", {"code": "X", "customer_id": "c1", "order": {"total": "100"}},
     "order.total"),
    ("/codes/validate", {"code": "X", "customer_id": "c1", "order": {"total": -1}}, "order.total"),
    ("/codes/validate", {"code": "X", "customer_id": "c1", "order": {"total": 1.5}},
     "order.total"),
    ("/codes/validate", {"code": "X", "customer_id": "c1",
                         "order": {"total": 1, "items": [{"sku": "A", "price": "1"}]}},
     "order.items[0].price"),
    ("/codes/validate", {"code": "X", "customer_id": "c1"}, "order"),
    ("/codes/validate", {"code": "X", "customer_id": "c1", "order": {"total": 1}, "x": 1}, "x"),
    ("/orders/o1", {"customer_id": "c1", "placed_at": "2026-05-30T10:00:00", "status": "paid",
                    "total": 1, "currency": "RUB"}, "placed_at"),
    ("/orders/o1", {"customer_id": "c1", "placed_at": "2026-05-30T10:00:00Z", "status": "lost",
                    "total": 1, "currency": "RUB"}, "status"),
    ("/customers/c1", {"marketing_opt_in": "yes"}, "marketing_opt_in"),
    ("/customers/c1", {"name": "x" * 201}, "name"),
    ("/events/review", {"order_id": "o1", "customer_id": "c1", "rating": 6}, "rating"),
    ("/codes", {"discount_type": "percent", "value": 0}, "value"),
])
async def test_wrong_types_are_422_with_the_field(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    method = api.put if path.startswith(("/orders", "/customers")) else api.post
    status, answer, _ = await method(path, body)
    assert_error(status, answer, 422)
    assert field in answer["error"]["fields"] and field in answer["error"]["message"]


async def test_domain_refusals_are_422(api: Api) -> None:
    status, body, _ = await api.put("/customers/c1", {"phone": "call me"})
    assert_error(status, body, 422, "invalid_phone")
    assert body["error"]["fields"] == ["phone"]
    status, body, _ = await api.put("/customers/" + "x" * 65, {})
    assert_error(status, body, 422, "invalid_path")


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/codes/validate", {"code": "ABCDEFGHJK", "customer_id": "ghost",
                                 "order": {"total": 1}}),
    ("POST", "/codes/redeem", {"code": "ABCDEFGHJK", "customer_id": "ghost", "order_id": "o",
                               "order": {"total": 1}}),
    ("PUT", "/orders/o1", {"customer_id": "ghost", "placed_at": "2026-05-30T10:00:00+00:00",
                           "status": "paid", "total": 1, "currency": "RUB"}),
    ("POST", "/link-tokens", {"customer_id": "ghost"}),
    ("POST", "/events/review", {"order_id": "o1", "customer_id": "ghost", "rating": 5}),
    ("POST", "/events/cart-abandoned", {"customer_id": "ghost", "cart_id": "k",
                                        "items": [{"sku": "A", "price": 1}]}),
    ("POST", "/codes", {"customer_id": "ghost", "discount_type": "percent", "value": 5}),
    ("GET", "/customers/ghost/offers", None),
])
async def test_unknown_customer_is_404(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    status, answer, _ = await api.call(method, path, body)
    assert_error(status, answer, 404)


async def test_unknown_code_is_404_on_redeem_and_release(api: Api) -> None:
    await api.put("/customers/c1", {})
    status, body, _ = await api.post("/codes/redeem", {
        "code": "NOSUCHCODE", "customer_id": "c1", "order_id": "o1", "order": {"total": 1}})
    assert_error(status, body, 404, "unknown")
    status, body, _ = await api.post("/codes/release", {"code": "NOSUCHCODE", "order_id": "o1"})
    assert_error(status, body, 404, "unknown")


async def test_unknown_route_and_method(api: Api) -> None:
    status, body, _ = await api.get("/nope")
    assert_error(status, body, 404, "not_found")
    status, body, headers = await api.call("DELETE", "/codes/validate")
    assert_error(status, body, 405, "method_not_allowed")
    assert "POST" in headers["Allow"]


async def test_oversized_body_is_413(api: Api) -> None:
    big = {"code": "X", "customer_id": "c1", "order": {"total": 1}, "pad": "x" * 70_000}
    status, body, _ = await api.post("/codes/validate", big)
    assert_error(status, body, 413, "body_too_large")
