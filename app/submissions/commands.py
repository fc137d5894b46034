"""`redline submissions close-overdue`: submit drafts whose time ran out (run it from cron)."""

from __future__ import annotations

import argparse


def cmd_close_overdue(args: argparse.Namespace) -> int:
    """Auto-submit every overdue draft and grade it; prints one line per submission."""
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.scoring import service as scoring_service
    from app.submissions import service

    load_settings()
    with get_sessionmaker()() as session:
        closed = service.close_overdue(session)
        ids = [s.public_id for s in closed]
        graded = scoring_service.commit_and_score(session)
    for public_id in ids:
        print(f"auto-submitted {public_id}")
    print(f"{len(ids)} overdue draft(s) submitted, {graded} graded")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `submissions close-overdue` to the `redline` command."""
    submissions = commands.add_parser("submissions", help="candidate submissions")
    actions = submissions.add_subparsers(
        dest="submissions_command", required=True, metavar="ACTION"
    )
    close = actions.add_parser(
        "close-overdue", help="submit every draft whose time is up (safe to run any time)"
    )
    close.set_defaults(handler=cmd_close_overdue)
