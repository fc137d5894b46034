"""`redline export`: auto and final scores as a tidy CSV, a long CSV of decisions, or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_export(args: argparse.Namespace) -> int:
    """Write the export to a file or stdout."""
    from app.cli import load_settings
    from app.db import get_sessionmaker
    from app.reviews import export

    load_settings()
    with get_sessionmaker().begin() as session:
        records = export.export_records(session, assessment=args.assessment)
    writers = {
        "csv": export.to_tidy_csv,
        "decisions": export.to_decisions_csv,
        "json": export.to_json,
    }
    text = writers[args.format](records)
    if args.out is None or str(args.out) == "-":
        sys.stdout.write(text)
    else:
        args.out.write_text(text, encoding="utf-8")
        print(f"{len(records)} submission(s) written to {args.out}", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add `redline export` to the command line."""
    export = commands.add_parser("export", help="export auto and final scores")
    export.add_argument(
        "--format",
        choices=("csv", "decisions", "json"),
        default="csv",
        help="csv: one row per submission; decisions: one row per decision; json: everything",
    )
    export.add_argument("--assessment", metavar="SLUG", help="only this assessment")
    export.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    export.set_defaults(handler=cmd_export)
