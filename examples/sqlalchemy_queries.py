"""SQLAlchemy statements timed per fingerprint (literals and parameters removed), on an
in-memory SQLite database through the ORM."""

from sqlalchemy import String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import perfguard.sqlalchemy
from perfguard import PerformanceTracker


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


tracker = PerformanceTracker()
engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
perfguard.sqlalchemy.instrument(engine, tracker)  # an AsyncEngine works the same way

with Session(engine) as session:
    session.add_all([User(id=i, name=f"user {i}") for i in range(100)])
    session.commit()
    for user_id in range(50):
        session.scalars(select(User).where(User.id == user_id)).one()
    for size in (3, 5, 8):  # IN-lists of any length share one name
        session.scalars(select(User).where(User.id.in_(range(size)))).all()

for name in tracker.operations():
    stats = tracker.stats(name)
    print(f"{name}: {stats['sample_count']} calls, p50 {stats['recent_p50']:.6f}s")
