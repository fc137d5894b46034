"""Staff accounts: creation, passwords (argon2) and server-side sessions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import passwords
from app.audit import service as audit
from app.audit.models import AuditEvent
from app.db import utcnow
from app.security import new_token, token_hash
from app.settings import get_settings
from app.users.models import Role, User, UserSession

MIN_PASSWORD_LENGTH = 12
LOGIN_ACTOR = "sign-in form"


class UserError(ValueError):
    """A request about accounts that cannot be carried out."""


class UserExists(UserError):
    """An account with that e-mail already exists."""


class UserNotFound(UserError):
    """No account has that id or e-mail."""


class WeakPassword(UserError):
    """The password is too short."""


def normalize_email(email: str) -> str:
    """E-mail addresses compare case-insensitively and without surrounding blanks."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """An argon2id hash of `password`, or WeakPassword."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    return passwords.hash_password(password)


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role | str,
    password: str,
    actor: User | str | None = None,
) -> User:
    """A new active account; UserExists, WeakPassword or UserError on bad input."""
    email = normalize_email(email)
    name = name.strip()
    if "@" not in email or len(email) > 320:
        raise UserError("a valid e-mail address is required")
    if not name:
        raise UserError("a name is required")
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"the role must be one of {', '.join(r.value for r in Role)}") from None
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise UserExists(f"an account for {email} already exists")
    user = User(email=email, name=name[:200], role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(session, actor, "user", user.id, "user.created", None, user_state(user))
    return user


def user_state(user: User) -> dict[str, object]:
    """What the audit trail keeps about an account (never its password hash)."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "is_active": user.is_active,
    }


def list_users(session: Session) -> list[User]:
    """Every account, by e-mail."""
    return list(session.scalars(select(User).order_by(User.email)))


def get_user(session: Session, user_id: int) -> User:
    """The account with `user_id`, or UserNotFound."""
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"no account with id {user_id}")
    return user


def get_user_by_email(session: Session, email: str) -> User:
    """The account with `email`, or UserNotFound."""
    user = session.scalars(select(User).where(User.email == normalize_email(email))).first()
    if user is None:
        raise UserNotFound(f"no account for {normalize_email(email)}")
    return user


def set_active(session: Session, user: User, active: bool, *, actor: User | str | None) -> None:
    """Enable or disable an account; disabling ends its sessions at once."""
    if user.is_active == active:
        return
    before = user_state(user)
    user.is_active = active
    if not active:
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.flush()
    audit.record(
        session,
        actor,
        "user",
        user.id,
        "user.activated" if active else "user.deactivated",
        before,
        user_state(user),
    )


def set_role(session: Session, user: User, role: Role | str, *, actor: User | str | None) -> None:
    """Give an account another role; its open sessions end, so the new role applies at once."""
    try:
        role = Role(role)
    except ValueError:
        raise UserError(f"the role must be one of {', '.join(r.value for r in Role)}") from None
    if user.role is role:
        return
    before = user_state(user)
    user.role = role
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.flush()
    audit.record(session, actor, "user", user.id, "user.role_changed", before, user_state(user))


def set_password(session: Session, user: User, password: str, *, actor: User | str | None) -> None:
    """Replace a password; every session of the account ends."""
    user.password_hash = hash_password(password)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.flush()
    audit.record(session, actor, "user", user.id, "user.password_changed", None, None)


def find_user(session: Session, email: str) -> User | None:
    """The account with `email`, active or not, or None."""
    return session.scalars(select(User).where(User.email == normalize_email(email))).first()


def check_password(user: User | None, password: str) -> bool:
    """Whether `password` is that of the active account `user`; needs no database.

    An unknown account is checked against a dummy hash, so a miss takes as long either way.
    """
    matches = passwords.verify(user.password_hash if user else passwords.dummy_hash(), password)
    return matches and user is not None and user.is_active


async def check_password_waiting(user: User | None, password: str) -> bool:
    """`check_password` for a coroutine, which waits for the hash holding no pool thread."""
    stored = user.password_hash if user else await passwords.dummy_hash_waiting()
    matches = await passwords.verify_waiting(stored, password)
    return matches and user is not None and user.is_active


def record_failed_sign_in(session: Session, user: User | None) -> None:
    """Keep a failed sign-in on a real account in its audit trail."""
    if user is not None:
        audit.record(session, LOGIN_ACTOR, "user", user.id, "user.login_failed", None, None)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active account with these credentials, or None (rate limits are the caller's)."""
    user = find_user(session, email)
    if not check_password(user, password):
        record_failed_sign_in(session, user)
        return None
    assert user is not None
    rehash_if_needed(user, password)
    return user


def rehash_if_needed(user: User, password: str) -> None:
    """Re-hash a correct password whose hash uses older argon2 parameters."""
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)


def start_session(session: Session, user: User) -> str:
    """Open a session for `user`; returns the cookie token (only its hash is stored)."""
    token = new_token()
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
        )
    )
    user.last_login_at = now
    audit.record(session, user, "user", user.id, "user.login", None, None)
    # Expired sessions are swept here rather than by a job: logins are frequent enough.
    session.execute(delete(UserSession).where(UserSession.expires_at < now))
    session.flush()
    return token


def end_session(session: Session, token: str | None) -> None:
    """Forget the session of a cookie token, if any."""
    if token:
        session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token)))
        session.flush()


def user_for_token(session: Session, token: str | None) -> User | None:
    """The active user whose unexpired session the cookie token names, or None."""
    if not token:
        return None
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == token_hash(token))
    ).first()
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row.user


def describe_activity(
    session: Session, events: Sequence[AuditEvent]
) -> list[tuple[AuditEvent, str]]:
    """Account events with a sentence each, people named by display name."""
    people = {u.id: u for u in session.scalars(select(User))}

    def name(user_id: str) -> str:
        user = people.get(int(user_id)) if user_id.isdigit() else None
        return user.name if user else f"account #{user_id}"

    out = []
    for event in events:
        actor = people.get(event.actor_id) if event.actor_id is not None else None
        who = actor.name if actor else event.actor_label
        subject = name(event.subject_id)
        after = dict(event.after or {})
        before = dict(event.before or {})
        said = {
            "user.created": f"{who} added {subject} as {after.get('role', '?')}",
            "user.activated": f"{who} enabled {subject}",
            "user.deactivated": f"{who} disabled {subject}",
            "user.role_changed": f"{who} changed {subject}'s role from "
            f"{before.get('role', '?')} to {after.get('role', '?')}",
            "user.password_changed": f"{who} changed the password of {subject}"
            if event.actor_id is None or str(event.actor_id) != event.subject_id
            else f"{who} changed their own password",
            "user.login": f"{subject} signed in",
            "user.login_failed": f"A sign-in as {subject} failed (wrong password)",
        }.get(event.action, f"{who}: {event.action} ({subject})")
        out.append((event, said + "."))
    return out
