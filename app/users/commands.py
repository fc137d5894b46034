"""`redline users`: add, list and disable staff accounts from the command line."""

from __future__ import annotations

import argparse
import getpass
import sys

CLI_ACTOR = "cli"


def _read_password(args: argparse.Namespace) -> str:
    # No default password and none on the command line, where it would land in shell history
    # and the process list: either piped on stdin or typed twice at a prompt.
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise SystemExit("no terminal to ask for a password: use --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat the password: "):
        raise SystemExit("the passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    """Create an account."""
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.users import service

    load_settings()
    password = _read_password(args)
    try:
        with get_sessionmaker().begin() as session:
            user = service.create_user(
                session,
                email=args.email,
                name=args.name or args.email,
                role=args.role,
                password=password,
                actor=CLI_ACTOR,
            )
            print(f"created {user.role.value} {user.email} (id {user.id})")
    except service.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    """Print every account."""
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.users import service

    load_settings()
    with get_sessionmaker().begin() as session:
        for user in service.list_users(session):
            state = "active" if user.is_active else "disabled"
            print(f"{user.id}\t{user.email}\t{user.role.value}\t{state}\t{user.name}")
    return 0


def cmd_users_set_active(args: argparse.Namespace) -> int:
    """Disable or re-enable an account."""
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.users import service

    load_settings()
    try:
        with get_sessionmaker().begin() as session:
            user = service.get_user_by_email(session, args.email)
            service.set_active(session, user, args.active, actor=CLI_ACTOR)
    except service.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.email}: {'enabled' if args.active else 'disabled'}")
    return 0


def cmd_users_set_password(args: argparse.Namespace) -> int:
    """Replace an account's password; its sessions end."""
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.users import service

    load_settings()
    password = _read_password(args)
    try:
        with get_sessionmaker().begin() as session:
            user = service.get_user_by_email(session, args.email)
            service.set_password(session, user, password, actor=CLI_ACTOR)
    except service.UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.email}: password changed")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `redline users ...` to the command line."""
    from app.users.models import Role

    users = commands.add_parser("users", help="staff accounts").add_subparsers(
        dest="users_command", required=True, metavar="ACTION"
    )
    add = users.add_parser("add", help="create an account (asks for the password)")
    add.add_argument("email")
    add.add_argument("--name", help="display name (default: the e-mail)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    add.set_defaults(handler=cmd_users_add)
    users.add_parser("list", help="list accounts").set_defaults(handler=cmd_users_list)
    for name, active in (("disable", False), ("enable", True)):
        sub = users.add_parser(name, help=f"{name} an account")
        sub.add_argument("email")
        sub.set_defaults(handler=cmd_users_set_active, active=active)
    password = users.add_parser("set-password", help="replace an account's password")
    password.add_argument("email")
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    password.set_defaults(handler=cmd_users_set_password)
