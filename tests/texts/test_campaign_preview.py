"""A campaign's preview as a manager reads it: the audience, the arms with their cost
against the guardrail, and the time to send."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot.db.models import Campaign, DiscountType
from bot.promo.campaigns.admin import ArmPreview, Preview, StepPreview
from bot.promo.codes.guardrail import GuardrailCheck
from bot.promo.codes.offers import Offer
from bot.texts.campaign_preview import offer_line, render_preview


def check(requested: str, allowed: bool) -> GuardrailCheck:
    return GuardrailCheck(allowed=allowed, ceiling_percent=Decimal("22.5"),
                          break_even_percent=Decimal("25.0"),
                          requested_percent=Decimal(requested), net_profit=0,
                          average_order_value=0, average_source="setting",
                          safety_share=Decimal("0.1"), discount_type="percent")


def test_an_offer_on_one_line_escaped() -> None:
    offer = Offer(DiscountType.PERCENT, 10, min_order=100_000, currency="RUB",
                  include_categories=("<shoes>",))
    assert offer_line(offer, "en") == "10% off; on orders of ₽1,000 or more; only on: &lt;shoes&gt;"


def test_a_segment_split_by_variant_with_the_guardrail() -> None:
    five, ninety = Offer(DiscountType.PERCENT, 5), Offer(DiscountType.PERCENT, 90)
    seen = Preview(
        campaign=Campaign(id=3, name="Spring <sale>"), segment="regulars", segment_size=11,
        reachable=9, send_time=timedelta(minutes=12, seconds=3),
        arms=[ArmPreview("holdout", 2, None, 0, None),
              ArmPreview("", 4, five, 20_000, check("5.0", True)),
              ArmPreview("B", 3, ninety, 90_000, check("90.0", False)),
              ArmPreview("C", 2, None, 0, None)])
    assert render_preview(seen, locale="en", currency="RUB", rate=30.0) == "\n".join([
        "🔎 Preview of #3 Spring &lt;sale&gt;",
        "Segment “regulars” — customers: 11, reachable in Telegram: 9",
        "• control group: 2 (get nothing)",
        "• offer: 4 × 5% off, up to ₽200",
        "  5% is within the margin ceiling of 22.5%",
        "• B: 3 × 90% off, up to ₽900",
        "  90% is ⛔ above the margin ceiling of 22.5%",
        "• C: 2, message only",
        "Estimated discount cost: ₽1,100",
        "Time to send at 30 messages/s: 12 min",
    ])


def test_a_comeback_ladder_and_no_segment_in_russian() -> None:
    ladder = Preview(
        campaign=Campaign(id=4, name="Comeback"), segment=None, segment_size=3, reachable=2,
        send_time=timedelta(seconds=5), arms=[],
        steps=[StepPreview(30, Offer(DiscountType.PERCENT, 5), 1, 1, True),
               StepPreview(60, Offer(DiscountType.PERCENT, 10), 2, 1, False)])
    text = render_preview(ladder, locale="ru", currency="RUB", rate=2.5)
    assert text.splitlines()[1:4] == [
        "Лестница возвращения: покупателей — 3, из них в Telegram — 2",
        "• молчат 30+ дней, только с одним заказом: 1 (в Telegram: 1), скидка 5\xa0%",
        "• молчат 60+ дней: 2 (в Telegram: 1), скидка 10\xa0%",
    ]
    assert text.endswith("Время отправки (по 2,5 в секунду): меньше минуты")
    events = Preview(campaign=Campaign(id=5, name="Carts"), segment=None, segment_size=0,
                     reachable=0, send_time=timedelta(0), arms=[])
    assert render_preview(events, locale="en", currency="RUB", rate=30).splitlines()[1] == (
        "No segment: customers join one by one as events happen.")
