"""The loyalty terms in plain words, made from the shop's own settings, so that what a
shopper reads is what the checkout does: the levels, how discounts combine, the ceiling
on one order, what returns and cancellations undo, invitations, the welcome offer,
the app's reward and the moments (an anniversary, a birthday)."""

from __future__ import annotations

from bot.config import Settings
from bot.config.values import Rung
from bot.i18n import format_days, format_money, format_percent, gettext, ngettext
from bot.promo.checkout.order_discount import Terms
from bot.promo.codes.guardrail import Stacking
from bot.promo.customers.tiers import ORDERS, Tier, tiers
from bot.texts.tier_card import reward


def _level(tier: Tier, settings: Settings, locale: str) -> str:
    if settings.loyalty.basis == ORDERS:
        text = ngettext("Level {level}: from {count} order — {reward}",
                        "Level {level}: from {count} orders — {reward}", tier.threshold, locale)
        return text.format(level=tier.index, count=tier.threshold,
                           reward=reward(tier, locale))
    return gettext("Level {level}: from {amount} spent — {reward}", locale).format(
        level=tier.index, amount=format_money(tier.threshold, settings.shop.currency, locale),
        reward=reward(tier, locale))


def _offer_words(rung: Rung, locale: str) -> str:
    """`5 %`, `5 % and free shipping`, `free shipping`."""
    if not rung.percent:
        return gettext("free shipping", locale)
    percent = format_percent(rung.percent, locale)
    if rung.free_shipping:
        return gettext("{percent} off and free shipping", locale).format(percent=percent)
    return gettext("{percent} off", locale).format(percent=percent)


def _rewards(settings: Settings, locale: str) -> list[str]:
    """The welcome offer, the app install's reward and the moments, when the shop gives
    them."""
    rewards, found = settings.rewards, []
    welcome = rewards.welcome_offer
    if welcome.percent or welcome.free_shipping:
        found.append(gettext("Link Telegram before your first order and get a welcome code: "
                             "{offer} on an order from {amount}.", locale).format(
            offer=_offer_words(welcome, locale),
            amount=format_money(rewards.welcome_min_order, settings.shop.currency, locale)))
    install = rewards.action_rewards.get("app_install")
    if install is not None and (install.percent or install.free_shipping):
        found.append(gettext("Install our app and get a code: {offer}.", locale).format(
            offer=_offer_words(install, locale)))
    return found + _moments(settings, locale)


def _moments(settings: Settings, locale: str) -> list[str]:
    """The anniversary's and the birthday's thank-you, when the shop gives them."""
    moments, found = settings.moments, []
    anniversary, birthday = moments.anniversary_offer, moments.birthday_offer
    if anniversary.percent or anniversary.free_shipping:
        found.append(gettext("Every year on the anniversary of your first order we say "
                             "thank you with a code: {offer}.", locale).format(
            offer=_offer_words(anniversary, locale)))
    if birthday.percent or birthday.free_shipping:
        found.append(gettext("If you have told us your birthday, on that day you get a "
                             "gift code: {offer}.", locale).format(
            offer=_offer_words(birthday, locale)))
    if found:
        found.append(gettext("The anniversary and birthday codes come as promotional "
                             "messages: if you switch those off, they do not come.", locale))
    return found


def loyalty_terms(settings: Settings, terms: Terms, locale: str) -> list[dict[str, object]]:
    """Sections of the terms: a title and its lines."""
    basis = (gettext("The level counts your orders.", locale) if settings.loyalty.basis == ORDERS
             else gettext("The level counts what you have spent, returns taken off.", locale))
    ceiling = format_percent(terms.ceiling_percent, locale)
    if terms.stacking is Stacking.ADDITIVE:
        combining = [
            gettext("Your level's discount adds up with a promo code; several codes go "
                    "together only when each of them allows it.", locale),
            gettext("One order's discount is at most {cap} of its total.", locale).format(
                cap=ceiling),
        ]
    else:
        combining = [
            gettext("A promo code and your level's discount do not add up: the order gets "
                    "the larger of the two.", locale),
            gettext("One promo code per order.", locale),
            gettext("One order's discount is at most {cap} of its total.", locale).format(
                cap=ceiling),
        ]
    codes = [gettext("Each code's deadline is shown next to it; a personal code works only "
                     "for you.", locale)]
    codes += _rewards(settings, locale)
    percent = settings.rewards.referral_percent
    if percent > 0:
        window = settings.shop.return_window_days
        invited = (gettext("Invite a friend: when their first order is kept past {days}, you "
                           "both get {percent} off.", locale) if window else
                   gettext("Invite a friend: after their first order you both get {percent} "
                           "off.", locale))
        codes.append(invited.format(days=format_days(window, locale),
                                    percent=format_percent(percent, locale)))
    return [
        {"title": gettext("Levels", locale),
         "lines": [basis, *(_level(tier, settings, locale) for tier in tiers(settings.loyalty))]},
        {"title": gettext("How discounts combine", locale), "lines": combining},
        {"title": gettext("Promo codes", locale), "lines": codes},
        {"title": gettext("Returns and cancellations", locale), "lines": [
            gettext("A returned order is taken off what you have spent, so your level may "
                    "go down; rewards it earned are cancelled.", locale),
            gettext("A code used on a cancelled order can be used again until its deadline.",
                    locale)]},
    ]
