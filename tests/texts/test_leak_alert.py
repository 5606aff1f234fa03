"""The leak alert's wording (`bot.texts.leaks`), as the sender renders it for staff: every
variant in Russian and English, plurals by Babel, what came from people escaped, and the
button that the managers' router takes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.db.models import Delivery
from bot.delivery.outbox import Reason
from bot.texts.shop_messages import ShopMessages
from handlers.managers.leaks import LeakButton

TZ = ZoneInfo("Europe/Moscow")
SINCE = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).isoformat()
BASE = {"code_id": 7, "code": "AB12CD34EF", "campaign_id": 3, "campaign": "<Весна & лето>",
        "uses": 21, "customers": 21, "strangers": 21, "reach": 1, "window_days": 1,
        "since": SINCE, "level": 1}


def render(locale: str, **changes: object) -> str:
    texts = ShopMessages.of(Settings(_env_file=None, shop_name="Ромашка").shop)
    delivery = Delivery(reason=Reason.LEAK_ALERT, payload={**BASE, **changes})
    return texts.render(delivery, code=None, locale=locale, tz=TZ)


def test_russian_plurals_and_escaping() -> None:
    text = render("ru")
    assert text.splitlines() == [
        "⚠️ Похоже, код <code>AB12CD34EF</code> утёк",
        "Кампания #3 «&lt;Весна &amp; лето&gt;».",
        "За 1 день: 21 использование от 21 покупателя.",
        "21 из них не получал код от нас.",
        "Через наши каналы он дошёл до 1 покупателя.",
        "Посторонние пользуются им с 1 июн. 2026\u202fг., 15:00.",
        "",
        "Если код не предназначался всем, отзовите его: при оформлении заказа он сразу "
        "перестанет действовать.",
    ]
    assert "Ромашка" not in text  # staff know their shop: no heading
    few = render("ru", uses=3, customers=3, strangers=3, reach=2, window_days=7)
    assert "За 7 дней: 3 использования от 3 покупателей." in few
    assert "3 из них не получали код от нас." in few
    assert "до 2 покупателей." in few


@pytest.mark.parametrize(("locale", "head", "none_reached", "no_strangers"), [
    ("ru", "⚠️ Код <code>AB12CD34EF</code> расходится всё дальше",
     "Мы не знаем, кому его выдавали",
     "Первое использование за этот срок: 1 июн. 2026\u202fг., 15:00."),
    ("en", "⚠️ Code <code>AB12CD34EF</code> keeps spreading",
     "We know of no customer it was given to",
     "First use in this period: Jun 1, 2026, 3:00\u202fPM."),
])
def test_later_alerts_no_reach_and_no_strangers(locale, head, none_reached,
                                                no_strangers) -> None:
    again = render(locale, level=2, reach=0, campaign_id=None)
    assert again.startswith(head + "\n") and none_reached in again
    assert "#3" not in again
    assert no_strangers in render(locale, strangers=0)


@pytest.mark.parametrize(("locale", "label"), [("ru", "🚫 Отозвать код"),
                                               ("en", "🚫 Revoke the code")])
def test_the_button_is_the_one_the_managers_router_takes(locale, label) -> None:
    texts = ShopMessages.of(Settings(_env_file=None, shop_url="https://shop.example").shop)
    markup = texts.buttons(Delivery(reason=Reason.LEAK_ALERT, payload=BASE), locale=locale)
    [[button]] = markup["inline_keyboard"]
    assert button["text"] == label
    assert LeakButton.unpack(button["callback_data"]) == LeakButton(code_id=7)
