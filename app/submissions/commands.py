"""`redline submissions close-overdue`: submit drafts whose time ran out (run it from cron)."""

from __future__ import annotations

import argparse
import sys


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


def cmd_grade(args: argparse.Namespace) -> int:
    """Run the auto-grader on submissions by id, or on every submitted one without a score."""
    from sqlalchemy import select

    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.scoring import service as scoring_service
    from app.submissions.models import Submission, SubmissionStatus

    load_settings()
    if not args.ids and not args.unscored:
        print("error: name submission ids or pass --unscored", file=sys.stderr)
        return 2
    failed = 0
    with get_sessionmaker()() as session:
        if args.unscored:
            targets = scoring_service.unscored_submissions(session)
        else:
            targets = list(
                session.scalars(select(Submission).where(Submission.public_id.in_(args.ids)))
            )
            missing = set(args.ids) - {s.public_id for s in targets}
            for public_id in sorted(missing):
                print(f"error: no submission {public_id}", file=sys.stderr)
                failed += 1
        for submission in targets:
            if submission.status == SubmissionStatus.in_progress:
                print(f"skipped {submission.public_id}: not submitted yet", file=sys.stderr)
                continue
            score = scoring_service.score_submission_safely(session, submission)
            session.commit()
            if score is None:
                failed += 1
                print(f"failed  {submission.public_id} (see the log and the audit trail)")
            else:
                print(f"graded  {submission.public_id}: total {score.total:.1f}")
    return 1 if failed else 0


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
    grade = actions.add_parser("grade", help="run the auto-grader again (after a failure)")
    grade.add_argument("ids", nargs="*", metavar="SUBMISSION_ID", help="public submission ids")
    grade.add_argument(
        "--unscored", action="store_true", help="every submitted review without an auto-score"
    )
    grade.set_defaults(handler=cmd_grade)
