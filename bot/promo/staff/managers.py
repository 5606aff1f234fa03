"""Shop staff in Telegram: roles, the owners from settings, and the audit log.

Roles are ordered: an analyst reads (stats, previews, customers, campaign lists), a
manager also acts (issues and revokes codes, runs campaigns), an owner also manages the
staff. Owners listed in `PROMOBOT_OWNER_IDS` are owners whatever the table says, so a
mistaken `/managers remove` can never lock the shop out; `bootstrap_owners` writes their
rows at start-up so that the staff list shows them.

Every staff action writes one `AuditLog` row (who, what, when, before/after) through
`audit()`, in the caller's transaction: the row commits together with the action or not
at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import TelegramSettings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.hotpath import HotPath
from bot.db.models import AuditLog, Manager, Role, TelegramAccount
from bot.db.prepared import Prepared
from bot.promo.errors import DomainError, ErrorCode

LEVELS = {Role.ANALYST: 1, Role.MANAGER: 2, Role.OWNER: 3}
_MAX_TELEGRAM_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Staff:
    """Who is acting, as the handlers and the domain see them."""

    telegram_id: int
    role: Role
    # The manager's own monthly discount budget (minor units); None = the shop's default.
    monthly_budget: int | None = None

    def can(self, role: Role) -> bool:
        """At least `role`'s rights (owner ⊇ manager ⊇ analyst)."""
        return LEVELS[self.role] >= LEVELS[role]

    @property
    def actor(self) -> str:
        return actor_name(self.telegram_id)


def actor_name(telegram_id: int) -> str:
    """How the audit log names a Telegram user (the shop API names its keys `api:<name>`)."""
    return f"tg:{telegram_id}"


async def staff_member(
    session: AsyncSession, telegram_id: int, telegram: TelegramSettings
) -> Staff | None:
    """The staff member with this Telegram id, or None for everyone else."""
    return _staff(telegram_id, await session.get(Manager, telegram_id), telegram)


_MANAGER = Prepared(select(Manager.role, Manager.monthly_budget)
                    .where(Manager.telegram_id == bindparam("telegram_id")))


async def staff_at(hot: HotPath, telegram_id: int, telegram: TelegramSettings) -> Staff | None:
    """`staff_member` as a hot read, for the cabinet's every load."""
    return _staff(telegram_id, await hot.first(_MANAGER, {"telegram_id": telegram_id}),
                  telegram)


def _staff(telegram_id: int, row: Any, telegram: TelegramSettings) -> Staff | None:
    if telegram_id in telegram.owner_ids:
        return Staff(telegram_id, Role.OWNER, row.monthly_budget if row else None)
    if row is None:
        return None
    return Staff(telegram_id, Role(row.role), row.monthly_budget)


async def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime,
) -> AuditLog:
    """One audit row in the caller's transaction (not committed)."""
    row = AuditLog(
        actor=actor, action=action, entity=entity,
        entity_id=None if entity_id is None else str(entity_id)[:64],
        before=before, after=after, created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def audited(session: AsyncSession, action: str, entity: str, entity_id: object) -> bool:
    """Is there an audit row of this action on this entity already?"""
    found = await session.scalar(
        select(AuditLog.id).where(AuditLog.action == action, AuditLog.entity == entity,
                                  AuditLog.entity_id == str(entity_id)).limit(1))
    return found is not None


async def bootstrap_owners(session: AsyncSession, owner_ids: Iterable[int], now: datetime) -> int:
    """Make sure each configured owner has an owner row; idempotent, safe to race.
    Returns how many rows were created or promoted (each one is audited)."""
    changed = 0
    for telegram_id in sorted(set(owner_ids)):
        inserted = await session.execute(
            insert_ignoring_conflict(
                session, Manager.__table__, telegram_id=telegram_id, role=Role.OWNER.value,
                monthly_budget=None, added_by=None, created_at=now,
            ).returning(Manager.__table__.c.telegram_id)
        )
        if inserted.first() is not None:
            before = None
        else:
            promoted = await session.execute(
                update(Manager).where(Manager.telegram_id == telegram_id,
                                      Manager.role != Role.OWNER.value)
                .values(role=Role.OWNER.value)
                .returning(Manager.telegram_id)
                .execution_options(synchronize_session=False)
            )
            if promoted.first() is None:
                continue
            before = {"role": "?"}
        changed += 1
        await audit(session, actor="settings", action="manager.bootstrap", entity="manager",
                    entity_id=telegram_id, before=before, after={"role": Role.OWNER.value},
                    now=now)
    return changed


async def resolve_user(session: AsyncSession, who: str) -> int | None:
    """A Telegram id typed as digits, or `@username` of someone who wrote to the bot."""
    who = (who or "").strip()
    if who.isdigit() and 0 < int(who) <= _MAX_TELEGRAM_ID:
        return int(who)
    if who.startswith("@") and len(who) > 1:
        return await session.scalar(
            select(TelegramAccount.id)
            .where(func.lower(TelegramAccount.username) == who[1:].lower())
            .limit(1)
        )
    return None


def _snapshot(row: Manager | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"role": row.role, "monthly_budget": row.monthly_budget}


async def put_staff(
    session: AsyncSession,
    actor: Staff,
    *,
    telegram_id: int,
    role: Role,
    monthly_budget: int | None,
    telegram: TelegramSettings,
    now: datetime,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Add a staff member or change their role and budget; returns (before, after)."""
    if telegram_id in telegram.owner_ids and role is not Role.OWNER:
        raise DomainError(ErrorCode.CONFIGURED_OWNER, "owners from settings stay owners",
                          telegram_id=telegram_id)
    if monthly_budget is not None and monthly_budget < 0:
        raise DomainError(ErrorCode.INVALID_BUDGET, "a budget cannot be negative")
    row = await session.get(Manager, telegram_id, with_for_update=True)
    before = _snapshot(row)
    if row is None:
        row = Manager(telegram_id=telegram_id, role=role.value, monthly_budget=monthly_budget,
                      added_by=actor.telegram_id, created_at=now)
        session.add(row)
    else:
        row.role = role.value
        row.monthly_budget = monthly_budget
    after = _snapshot(row)
    assert after is not None
    await audit(session, actor=actor.actor,
                action="manager.add" if before is None else "manager.update",
                entity="manager", entity_id=telegram_id, before=before, after=after, now=now)
    return before, after


async def remove_staff(
    session: AsyncSession, actor: Staff, *, telegram_id: int, telegram: TelegramSettings,
    now: datetime,
) -> dict[str, Any]:
    """Take someone's staff rights away; returns what they had."""
    if telegram_id in telegram.owner_ids:
        raise DomainError(ErrorCode.CONFIGURED_OWNER, "owners from settings stay owners",
                          telegram_id=telegram_id)
    row = await session.get(Manager, telegram_id, with_for_update=True)
    if row is None:
        raise DomainError(ErrorCode.NOT_STAFF, "no such staff member", telegram_id=telegram_id)
    before = _snapshot(row)
    assert before is not None
    await session.delete(row)
    await audit(session, actor=actor.actor, action="manager.remove", entity="manager",
                entity_id=telegram_id, before=before, after=None, now=now)
    return before


@dataclass(frozen=True, slots=True)
class StaffRow:
    telegram_id: int
    role: str
    monthly_budget: int | None
    username: str | None
    configured: bool  # an owner from settings


async def list_staff(session: AsyncSession, telegram: TelegramSettings) -> list[StaffRow]:
    """Everyone with rights, owners first; configured owners even before bootstrap."""
    rows = (await session.execute(
        select(Manager, TelegramAccount.username)
        .outerjoin(TelegramAccount, TelegramAccount.id == Manager.telegram_id)
    )).all()
    found = {m.telegram_id: StaffRow(m.telegram_id, m.role, m.monthly_budget, username,
                                     m.telegram_id in telegram.owner_ids)
             for m, username in rows}
    for owner in telegram.owner_ids:
        if owner not in found:
            found[owner] = StaffRow(owner, Role.OWNER.value, None, None, True)
        elif found[owner].role != Role.OWNER.value:
            row = found[owner]
            found[owner] = StaffRow(owner, Role.OWNER.value, row.monthly_budget, row.username,
                                    True)
    return sorted(found.values(), key=lambda r: (-LEVELS[Role(r.role)], r.telegram_id))


async def recent_audit(session: AsyncSession, limit: int = 10) -> Sequence[AuditLog]:
    return (await session.scalars(
        select(AuditLog).order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)
    )).all()
