from datetime import UTC, datetime

from sqlalchemy import select

from bot.db.models import Customer


async def test_times_come_back_aware_utc(db):
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    async with db.session() as session:
        session.add(Customer(external_id="c1", last_order_at=moment))
        await session.commit()
    async with db.read_session() as session:
        customer = await session.scalar(select(Customer).where(Customer.last_order_at >= moment))
    assert customer is not None
    assert customer.last_order_at == moment
    assert customer.last_order_at.tzinfo is not None
