"""`/start`, deep links (`link_<token>`, `ref_<code>`) and linking by a shared contact.

Moving an existing link — the Telegram account to another customer, or the customer to
this Telegram account — always asks first. Every step is safe to see twice: a token used
by this very account answers "already linked", a referral is unique per customer.
"""

from __future__ import annotations

import re

from aiogram import F, Router, html
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Customer, TelegramAccount
from bot.promo.campaigns.welcome import welcome
from bot.promo.customers import accounts
from bot.promo.customers.accounts import ReferralOutcome, Who
from bot.promo.customers.linking import START_PREFIX, LinkOutcome, consume_link_token, link
from bot.promo.customers.profiles import REFERRAL_PREFIX
from handlers.filters import Magic
from handlers.keyboards import (
    LinkMove,
    cabinet_keyboard,
    check_offer,
    link_keyboard,
    menu_keyboard,
    move_keyboard,
    sign_offer,
)

LINK_PAYLOAD = re.compile(rf"^{START_PREFIX}")
REF_PAYLOAD = re.compile(rf"^{REFERRAL_PREFIX}")


def how_to_link() -> str:
    return _(
        "To see your codes, link your shop account: open the Telegram link in your "
        "account on the shop's website, or tap “📱 Share my phone number” below."
    )


def welcome_text(customer: Customer | None) -> str:
    if customer is None:
        return _("Hello! I keep your personal promo codes and your loyalty level.") + (
            "\n\n" + how_to_link()
        )
    name = html.quote(customer.name or "")
    greeting = _("Hello, {name}!").format(name=name) if name else _("Hello!")
    return (
        greeting
        + "\n"
        + _("Your codes, your loyalty level and your invitation link are in the menu below.")
    )


def linked_text(customer: Customer) -> str:
    name = html.quote(customer.name or "")
    done = _("✅ Done! Your Telegram is linked to your shop account.")
    if name:
        done += "\n" + _("Welcome, {name}!").format(name=name)
    return done + "\n" + _("Tap “🎟 My codes” to see your personal codes.")


async def _finish_link(
    message: Message,
    session: AsyncSession,
    who: Who,
    customer: Customer,
    clock: Clock,
    settings: Settings,
) -> None:
    """After the link is written: settle a remembered referral, give the welcome offer
    when this link earns it, commit, greet; the shopper told "you came by a friend's
    invitation" learns how it ended, and one who earned the welcome code that it follows."""
    referral = await accounts.settle_pending_referral(session, who.id, customer, clock())
    gift = await welcome(session, customer, who.id, settings=settings, now=clock())
    await session.commit()
    text = linked_text(customer)
    if referral is not None:
        text += "\n\n" + referral_text(referral)
    if gift is not None:
        text += "\n\n" + _("🎁 A welcome gift for your first order comes in the next message.")
    await message.answer(text, reply_markup=menu_keyboard())


async def _conflict(
    session: AsyncSession, account: TelegramAccount | None, target_id: int, telegram_id: int
) -> str | None:
    """The question to ask before moving a link, or None when nothing would move."""
    if account is not None and account.customer_id not in (None, target_id):
        return _("Your Telegram is linked to another shop account. Link it to this one instead?")
    holder = await accounts.linked_telegram_id(session, target_id)
    if holder is not None and holder != telegram_id:
        return _("This shop account is linked to another Telegram account. Move the link here?")
    return None


async def start_link(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    who: Who,
    account: TelegramAccount | None,
    clock: Clock,
    settings: Settings,
) -> None:
    """`/start link_<token>`: the shop's one-time link."""
    token = command.args or ""
    pending = await accounts.peek_link_token(session, token, clock())
    if (
        pending.outcome is LinkOutcome.USED
        and pending.used_by_telegram_id == who.id
        and (account is not None and account.customer_id == pending.customer_id)
    ):
        await message.answer(
            _("Your Telegram is already linked to this shop account."), reply_markup=menu_keyboard()
        )
        return
    if pending.outcome is not LinkOutcome.LINKED or pending.customer_id is None:
        await message.answer(
            link_failure(pending.outcome),
            reply_markup=link_keyboard()
            if account is None or account.customer_id is None
            else None,
        )
        return
    question = await _conflict(session, account, pending.customer_id, who.id)
    if question is not None:
        ref = token.removeprefix(START_PREFIX)
        await message.answer(question, reply_markup=move_keyboard("t", ref))
        return
    result = await consume_link_token(session, token, who.id, clock())
    if not result.linked or result.customer is None:
        await session.rollback()
        await message.answer(link_failure(result.outcome))
        return
    await _finish_link(message, session, who, result.customer, clock, settings)


def link_failure(outcome: LinkOutcome) -> str:
    if outcome is LinkOutcome.EXPIRED:
        return _("This link has expired. Get a new one in your account on the shop's website.")
    if outcome is LinkOutcome.USED:
        return _(
            "This link has already been used. Get a new one in your account on the shop's website."
        )
    return _("This link is not valid. Copy it again from your account on the shop's website.")


async def start_referral(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    who: Who,
    customer: Customer | None,
    clock: Clock,
) -> None:
    """`/start ref_<code>`: a friend's invitation."""
    code = (command.args or "").removeprefix(REFERRAL_PREFIX)
    outcome = await accounts.start_referral(session, who, customer, code, clock())
    await session.commit()
    await message.answer(
        referral_text(outcome) + "\n\n" + welcome_text(customer),
        reply_markup=menu_keyboard() if customer else link_keyboard(),
    )


def referral_text(outcome: ReferralOutcome) -> str:
    """What the invitee reads about a friend's invitation, as soon as it is decided."""
    return {
        ReferralOutcome.RECORDED: _(
            "You came by a friend's invitation: after your first order you both get a gift."
        ),
        ReferralOutcome.REMEMBERED: _(
            "You came by a friend's invitation: link your shop account, and after your "
            "first order you both get a gift."
        ),
        ReferralOutcome.SELF: _("This is your own invitation link: share it with friends."),
        ReferralOutcome.OWN_ACCOUNT: _(
            "This invitation comes from your own shop account: it is for friends who have "
            "not shopped with us yet."
        ),
        ReferralOutcome.RELINKED: _(
            "Invitations are for new customers, and this Telegram account was linked to "
            "another shop account before."
        ),
        ReferralOutcome.EXISTING_BUYER: _(
            "Invitations are for new customers, and you already shop with us. "
            "Thank you for coming back!"
        ),
        ReferralOutcome.ALREADY_REFERRED: _("You have already joined by an invitation."),
        ReferralOutcome.UNKNOWN: _("This invitation link is not valid."),
    }[outcome]


async def start(message: Message, customer: Customer | None, settings: Settings) -> None:
    """Plain `/start` (or a payload we do not know): the menu again, and for a linked
    shopper the cabinet's button when there is a cabinet (a message of its own: one
    message carries one keyboard)."""
    if customer is None:
        await message.answer(welcome_text(customer), reply_markup=link_keyboard())
        return
    await message.answer(welcome_text(customer), reply_markup=menu_keyboard())
    if cabinet := cabinet_keyboard(settings.webapp.url):
        await message.answer(_("Your codes with QR codes for the till, your level, "
                               "invitations and settings are in your cabinet:"),
                             reply_markup=cabinet)


async def shared_contact(
    message: Message,
    session: AsyncSession,
    read_session: AsyncSession,
    who: Who,
    account: TelegramAccount | None,
    clock: Clock,
    link_secret: bytes,
    settings: Settings,
) -> None:
    """Linking by phone: only the sender's own contact counts."""
    contact = message.contact
    assert contact is not None
    if contact.user_id != who.id:
        await message.answer(
            _("Please share your own phone number with the button below, not someone else's."),
            reply_markup=link_keyboard(),
        )
        return
    found = await accounts.customers_with_phone(read_session, contact.phone_number)
    await read_session.close()
    if not found:
        await message.answer(
            _(
                "I could not find a shop account with this phone number. Use the Telegram link "
                "in your account on the shop's website."
            ),
            reply_markup=link_keyboard(),
        )
        return
    if len(found) > 1:
        await message.answer(
            _(
                "Several shop accounts use this phone number. Please use the Telegram link in "
                "your account on the shop's website."
            ),
            reply_markup=link_keyboard(),
        )
        return
    target = found[0]
    if account is not None and account.customer_id == target.id:
        await message.answer(
            _("Your Telegram is already linked to this shop account."), reply_markup=menu_keyboard()
        )
        return
    question = await _conflict(session, account, target.id, who.id)
    if question is not None:
        sig = sign_offer(link_secret, who.id, target.id)
        await message.answer(question, reply_markup=move_keyboard("p", str(target.id), sig))
        return
    await link(session, target.id, who.id, clock())
    await _finish_link(message, session, who, target, clock, settings)


async def confirm_move(
    callback: CallbackQuery,
    callback_data: LinkMove,
    session: AsyncSession,
    who: Who,
    clock: Clock,
    link_secret: bytes,
    settings: Settings,
) -> None:
    """The shopper agreed to move the link."""
    message = callback.message
    if not isinstance(message, Message):
        await callback.answer()
        return
    target: Customer | None = None
    if callback_data.kind == "t":
        result = await consume_link_token(session, callback_data.ref, who.id, clock())
        if not result.linked:
            await session.rollback()
            await callback.answer()
            await message.edit_text(link_failure(result.outcome))
            return
        target = result.customer
    elif (
        callback_data.kind == "p"
        and callback_data.ref.isdigit()
        and check_offer(link_secret, who.id, int(callback_data.ref), callback_data.sig)
    ):
        target = await accounts.link_offered(session, int(callback_data.ref), who.id, clock())
    if target is None:
        await callback.answer(_("This button is no longer valid."), show_alert=True)
        return
    await callback.answer()
    await message.edit_reply_markup(reply_markup=None)
    await _finish_link(message, session, who, target, clock, settings)


async def cancel_move(callback: CallbackQuery) -> None:
    """The shopper kept the link as it was."""
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.edit_text(_("OK, nothing has changed."))


def create_router() -> Router:
    router = Router(name="start")
    router.message.filter(Magic(F.chat.type == "private"))
    router.message.register(
        start_link, CommandStart(deep_link=True, magic=F.args.regexp(LINK_PAYLOAD))
    )
    router.message.register(
        start_referral, CommandStart(deep_link=True, magic=F.args.regexp(REF_PAYLOAD))
    )
    router.message.register(start, CommandStart())
    router.message.register(shared_contact, Magic(F.contact))
    router.callback_query.register(confirm_move, LinkMove.filter(F.confirm))
    router.callback_query.register(cancel_move, LinkMove.filter(~F.confirm))
    return router
