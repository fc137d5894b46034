"""`redline invite create`: make an invite link from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path


def _expiry(args: argparse.Namespace) -> datetime | None:
    if args.expires:
        if len(args.expires) == len("YYYY-MM-DD"):
            # A bare date means the whole of that day, as on the staff page.
            day = date.fromisoformat(args.expires)
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        value = datetime.fromisoformat(args.expires)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if args.days:
        return datetime.now(UTC) + timedelta(days=args.days)
    return None


def _create_from_csv(args: argparse.Namespace, expires_at: datetime | None) -> int:
    """Every row of `--csv`, all or none; `name,email,link` on standard output."""
    from app.assessments.service import AssessmentNotFound
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.invites import bulk
    from app.invites.service import InviteInvalid

    settings = load_settings()
    if args.name or args.email:
        print("error: give --csv or --name/--email, not both", file=sys.stderr)
        return 2
    source = "standard input" if args.csv == "-" else args.csv
    try:
        data = sys.stdin.buffer.read() if args.csv == "-" else Path(args.csv).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        rows = bulk.parse_rows(data)
        with get_sessionmaker().begin() as session:
            created = bulk.create_invites(
                session,
                assessment=args.assessment,
                rows=rows,
                expires_at=expires_at,
                actor="cli",
                base_url=args.base_url or settings.link_base_url(),
            )
            text = bulk.links_csv(created)
    except AssessmentNotFound:
        print(
            f"error: no assessment called '{args.assessment}' (run `redline content sync`)",
            file=sys.stderr,
        )
        return 1
    except InviteInvalid as exc:
        for problem in exc.problems:
            print(f"error: {source}: {problem}", file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); no invite was created", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    print(f"{len(created)} invites created; the links are shown only now", file=sys.stderr)
    return 0


def cmd_invite_create(args: argparse.Namespace) -> int:
    """Create an invite and print its link (shown only this once); or one per row of --csv."""
    from app.assessments.service import AssessmentNotFound
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.invites import service

    settings = load_settings()
    try:
        expires_at = _expiry(args)
    except ValueError:
        print(f"error: --expires '{args.expires}' is not an ISO date or time", file=sys.stderr)
        return 2
    if args.csv is not None:
        return _create_from_csv(args, expires_at)
    try:
        with get_sessionmaker().begin() as session:
            new = service.create_invite(
                session,
                assessment=args.assessment,
                candidate_name=args.name,
                candidate_email=args.email,
                expires_at=expires_at,
                base_url=args.base_url or settings.link_base_url(),
                actor="cli",
            )
            expires = new.invite.expires_at
    except AssessmentNotFound:
        print(
            f"error: no assessment called '{args.assessment}' (run `redline content sync`)",
            file=sys.stderr,
        )
        return 1
    except service.InviteInvalid as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    print(new.url)
    print(f"expires {expires:%Y-%m-%d %H:%M} UTC; the link is shown only now", file=sys.stderr)
    return 0


def cmd_candidate_erase(args: argparse.Namespace) -> int:
    """Erase everything about a candidate (by invite, or every invite sent to an address)."""
    from sqlalchemy import func, select

    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.invites import erasure
    from app.invites.models import Invite

    load_settings()
    lines = []
    try:
        with get_sessionmaker().begin() as session:
            if args.invite is not None:
                ids = [args.invite]
            else:
                ids = list(
                    session.scalars(
                        select(Invite.id)
                        .where(func.lower(Invite.candidate_email) == args.email.strip().lower())
                        .order_by(Invite.id)
                    )
                )
            for invite_id in ids:
                erased = erasure.erase_candidate(session, invite_id, actor="cli")
                rows = ", ".join(f"{table} {count}" for table, count in erased.rows.items())
                lines.append(f"invite {invite_id}: erased ({rows}); audit event {erased.event.id}")
    except erasure.CandidateNotFound as exc:  # raised inside: nothing is committed
        print(f"error: no invite {exc} (it may have been erased already)", file=sys.stderr)
        return 1
    if not lines:
        print(f"error: no invite was sent to {args.email}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `invite create` to the `redline` command."""
    invite = commands.add_parser("invite", help="candidate invite links").add_subparsers(
        dest="invite_command", required=True, metavar="ACTION"
    )
    create = invite.add_parser("create", help="create an invite and print its link")
    create.add_argument("--assessment", required=True, metavar="SLUG")
    create.add_argument("--name", help="candidate's name")
    create.add_argument("--email", help="candidate's e-mail address")
    create.add_argument(
        "--csv",
        metavar="FILE",
        help="one invite per row of name,email (header optional; '-' reads standard input); "
        "prints name,email,link as CSV",
    )
    create.add_argument(
        "--base-url",
        metavar="URL",
        help="where candidates reach Redline (default: REDLINE_BASE_URL)",
    )
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument(
        "--days", type=int, help="valid for this many days (default: REDLINE_INVITE_DAYS)"
    )
    expiry.add_argument("--expires", metavar="WHEN", help="expiry as an ISO date or time (UTC)")
    create.set_defaults(handler=cmd_invite_create)

    candidate = commands.add_parser("candidate", help="candidates' data").add_subparsers(
        dest="candidate_command", required=True, metavar="ACTION"
    )
    erase = candidate.add_parser(
        "erase", help="delete a candidate's invite, review, scores and decisions for good"
    )
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--invite", type=int, metavar="ID", help="the invite's id")
    which.add_argument("--email", metavar="ADDRESS", help="every invite sent to this address")
    erase.set_defaults(handler=cmd_candidate_erase)
