"""Annotators and admins: create, authenticate, list."""
from __future__ import annotations

from sqlalchemy import Engine, select

from db.auth import hash_password, verify_password
from db.engine import reading, writing
from db.models import Annotator, Role


class UserError(ValueError):
    pass


def add_user(engine: Engine, name: str, password: str, *, admin: bool = False) -> int:
    """Create an annotator (or an admin with admin=True); returns its id. Names are unique."""
    name = name.strip()
    if not name:
        raise UserError("a user needs a name")
    if not password:
        raise UserError("a user needs a password")
    with writing(engine) as s:
        if s.scalar(select(Annotator.id).where(Annotator.name == name)) is not None:
            raise UserError(f"user {name!r} already exists")
        user = Annotator(name=name, role=Role.admin if admin else Role.annotator,
                         password_hash=hash_password(password))
        s.add(user)
        s.flush()
        return user.id


def authenticate(engine: Engine, name: str, password: str) -> Annotator | None:
    """The active user with this name and password, or None (same answer for either mistake)."""
    with reading(engine) as s:
        user = s.scalar(select(Annotator).where(Annotator.name == name.strip()))
        if user is None or not user.active or not verify_password(password, user.password_hash):
            return None
        return user


def list_users(engine: Engine) -> list[Annotator]:
    with reading(engine) as s:
        return list(s.scalars(select(Annotator).order_by(Annotator.id)))


def annotators(engine: Engine) -> list[Annotator]:
    """Active users with the annotator role, in creation order."""
    with reading(engine) as s:
        return list(s.scalars(select(Annotator).where(
            Annotator.role == Role.annotator, Annotator.active.is_(True)).order_by(Annotator.id)))
