"""The `redline` command: serve, migrate, check and sync content, and each domain's commands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.settings import LISTEN_URL_FILE, Settings, get_settings

Handler = Callable[[argparse.Namespace], int]


def _settings_error(exc: ValidationError) -> str:
    lines = ["Redline cannot start: the configuration is invalid."]
    for error in exc.errors():
        name = "REDLINE_" + "_".join(str(p) for p in error["loc"]).upper() if error["loc"] else ""
        lines.append(f"  {name or 'settings'}: {error['msg']}")
    return "\n".join(lines)


def load_settings() -> Settings:
    """The settings, or exit with a message naming every invalid variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        print(_settings_error(exc), file=sys.stderr)
        raise SystemExit(2) from None


# -- db ----------------------------------------------------------------------------------------


def _create_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder: make the folder, as `serve` does."""
    from sqlalchemy.engine import make_url

    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from app import migrate

    settings = load_settings()
    _create_sqlite_folder(settings.database_url)
    migrate.upgrade(settings.database_url, args.revision)
    print(f"database migrated to {args.revision}")
    return 0


def cmd_db_downgrade(args: argparse.Namespace) -> int:
    from app import migrate

    settings = load_settings()
    migrate.downgrade(settings.database_url, args.revision)
    print(f"database migrated down to {args.revision}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from app import migrate
    from app.db import get_engine

    load_settings()
    current, head = migrate.current_revision(get_engine()), migrate.head_revision()
    print(f"current: {current or '(empty database)'}\nhead:    {head}")
    return 0 if current == head else 1


# -- content -----------------------------------------------------------------------------------


def _content_dirs(path: Path | None, settings: Settings) -> tuple[Path, Path]:
    if path is None:
        return settings.assessments_dir, settings.seeded_bugs_dir
    return path / "assessments", path / "seeded_bugs"


def cmd_content_check(args: argparse.Namespace) -> int:
    from grading import load_catalog

    settings = load_settings()
    assessments_dir, bugs_dir = _content_dirs(args.path, settings)
    catalog = load_catalog(assessments_dir, bugs_dir, display_root=assessments_dir.parent)
    for entry in catalog.entries:
        key = entry.answer_key
        print(
            f"ok  {entry.assessment.slug}: {len(entry.assessment.files)} files, "
            f"{len(key.bugs)} bugs, {len(key.decoys)} decoys"
        )
    for problem in catalog.problems:
        print(f"error  {problem}", file=sys.stderr)
    if catalog.problems:
        print(f"{len(catalog.problems)} problem(s) found", file=sys.stderr)
        return 1
    if not catalog.entries:
        print(f"no assessments found in {assessments_dir}", file=sys.stderr)
        return 1
    return 0


def cmd_content_sync(args: argparse.Namespace) -> int:
    from app.assessments.service import sync_content
    from app.db import get_sessionmaker

    settings = load_settings()
    assessments_dir, bugs_dir = _content_dirs(args.path, settings)
    with get_sessionmaker().begin() as session:
        actions, problems = sync_content(session, assessments_dir, bugs_dir, as_draft=args.draft)
    for action in actions:
        print(action)
    for problem in problems:
        print(f"error  {problem}", file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} problem(s): the assessments they name were not loaded",
            file=sys.stderr,
        )
        return 1
    return 0


# -- init --------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    import shutil

    from app.resources import shipped_content

    target: Path = args.dir.resolve()
    if target.exists() and any(target.iterdir()):
        print(f"error: {target} is not empty; give a new or empty folder", file=sys.stderr)
        return 1
    assessments, seeded_bugs = shipped_content()
    shutil.copytree(assessments, target / "assessments")
    shutil.copytree(seeded_bugs, target / "seeded_bugs")
    (target / "var").mkdir()
    print(f"created {target} with the shipped assessments as examples; next:")
    print(f"  cd {target}")
    print("  redline db upgrade && redline content sync")
    print("  redline users add you@example.com --role admin")
    print("  redline serve            # SQLite in var/; set DATABASE_URL for PostgreSQL")
    return 0


# -- backup ------------------------------------------------------------------------------------


def cmd_backup(args: argparse.Namespace) -> int:
    from app import backup

    settings = load_settings()
    try:
        backup.backup(settings.database_url, args.file)
    except backup.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backed up to {args.file} ({args.file.stat().st_size} bytes)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from app import backup, migrate
    from app.db import get_engine

    settings = load_settings()
    if not args.yes:
        print(
            "error: a restore replaces every table of the database; stop the service, then "
            "run again with --yes",
            file=sys.stderr,
        )
        return 2
    try:
        backup.restore(settings.database_url, args.file)
    except backup.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    current, head = migrate.current_revision(get_engine()), migrate.head_revision()
    print(f"restored from {args.file} (schema revision {current})")
    if current != head:
        print(f"the code needs revision {head}: run `redline db upgrade`", file=sys.stderr)
    return 0


# -- retrain -----------------------------------------------------------------------------------


def cmd_retrain(args: argparse.Namespace) -> int:
    from app.db import get_sessionmaker
    from app.scoring import retrain
    from grading import ModelError, Tolerance

    settings = load_settings()
    if args.corpora_dir is not None:
        if not args.corpora_dir.is_dir():
            print(f"error: --corpora-dir {args.corpora_dir}: no such folder", file=sys.stderr)
            return 2
        settings.corpora_dir = args.corpora_dir.resolve()
    tolerance = Tolerance(f1=args.f1_tolerance, mae=args.mae_tolerance)

    def progress(what: str) -> None:
        print(f"  {what}...", file=sys.stderr, flush=True)

    try:
        with get_sessionmaker()() as session:
            outcome = retrain.retrain(
                session, actor="cli", force=args.force, tolerance=tolerance, progress=progress
            )
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"old (active): {outcome.old_version}    new: {outcome.new_version}")
    print("held out, leave-one-assessment-out:")
    print(outcome.table())
    print()
    print(outcome.summary())
    return 0


# -- serve -------------------------------------------------------------------------------------


def prepare_embedded_database(settings: Settings) -> None:
    """On SQLite, migrate and load the shipped content so the first start just works."""
    from app import migrate
    from app.assessments.service import sync_content
    from app.db import get_sessionmaker

    migrate.upgrade(settings.database_url)
    with get_sessionmaker().begin() as session:
        actions, problems = sync_content(
            session, settings.assessments_dir, settings.seeded_bugs_dir
        )
    for action in actions:
        print(f"content: {action}")
    for problem in problems:
        print(f"content error: {problem}", file=sys.stderr)


def _record_listen_url(settings: Settings, host: str, port: int) -> Path | None:
    """Note where this server listens, so links made from another shell follow its port."""
    if "base_url" in settings.model_fields_set:
        return None
    if host in {"0.0.0.0", "::", ""}:
        print(
            "note: REDLINE_BASE_URL is not set, so invite links name 127.0.0.1; set it to the "
            "address candidates reach",
            file=sys.stderr,
        )
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    path = settings.data_dir / LISTEN_URL_FILE
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # With the server's process id, so a note left by a killed server is recognised as stale.
    path.write_text(f"http://{shown}:{port} {os.getpid()}\n")
    return path


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app import migrate
    from app.db import get_engine

    settings = load_settings()
    settings.resolved_secret_key()  # create it once here, before several workers race for it
    if settings.is_sqlite:
        prepare_embedded_database(settings)
    else:
        current, head = migrate.current_revision(get_engine()), migrate.head_revision()
        if current != head:
            print(
                f"The database is at revision {current or '(empty)'}, the code needs {head}. "
                "Run `redline db upgrade` first.",
                file=sys.stderr,
            )
            return 2
    listen_file = _record_listen_url(settings, args.host, args.port)
    try:
        uvicorn.run(
            "app.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            log_level=args.log_level,
            # Longer than the page's autosave interval, so a save reuses its connection
            # instead of racing the server closing it (a request the browser must resend).
            timeout_keep_alive=30,
        )
    finally:
        if listen_file is not None:
            listen_file.unlink(missing_ok=True)
    return 0


# -- wiring ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(prog="redline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="start the web service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database migrations").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    up = db.add_parser("upgrade", help="migrate to the newest schema (or REVISION)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=cmd_db_upgrade)
    down = db.add_parser("downgrade", help="migrate down to REVISION ('base': empty)")
    down.add_argument("revision")
    down.set_defaults(handler=cmd_db_downgrade)
    db.add_parser("current", help="show the database's revision").set_defaults(
        handler=cmd_db_current
    )

    content = commands.add_parser("content", help="assessments and answer keys").add_subparsers(
        dest="content_command", required=True, metavar="ACTION"
    )
    check = content.add_parser("check", help="validate content; report every problem")
    check.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="folder holding assessments/ and seeded_bugs/ (default: configured)",
    )
    check.set_defaults(handler=cmd_content_check)
    sync = content.add_parser("sync", help="load valid content into the database")
    sync.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="folder holding assessments/ and seeded_bugs/ (default: configured)",
    )
    sync.add_argument(
        "--draft",
        action="store_true",
        help="store changed assessments as draft versions, to preview and publish from the "
        "browser (a later plain sync of the same files publishes them)",
    )
    sync.set_defaults(handler=cmd_content_sync)

    init = commands.add_parser(
        "init", help="create a folder with data and the shipped assessments, ready to serve"
    )
    init.add_argument("dir", type=Path, help="the folder to create (new or empty)")
    init.set_defaults(handler=cmd_init)

    saved = commands.add_parser("backup", help="copy the whole database to a file")
    saved.add_argument("file", type=Path, help="the backup file to write (must not exist)")
    saved.set_defaults(handler=cmd_backup)
    restored = commands.add_parser("restore", help="replace the database with a backup")
    restored.add_argument("file", type=Path, help="a file written by `redline backup`")
    restored.add_argument("--yes", action="store_true", help="yes, replace every table")
    restored.set_defaults(handler=cmd_restore)

    learn = commands.add_parser(
        "retrain",
        help="refit the grader on the corpora plus graders' decisions; switch if no worse",
        description="Refit the comment classifier, the match combiner and the level models on "
        "the labelled corpora plus every grader decision in the database, report old and new "
        "side by side held out (leave-one-assessment-out), and switch the service to the new "
        "models only when they are no worse: held-out match F1 at least the old minus "
        "--f1-tolerance and total MAE at most the old plus --mae-tolerance.",
    )
    learn.add_argument(
        "--force", action="store_true", help="switch to the new models even if they are worse"
    )
    learn.add_argument(
        "--corpora-dir",
        type=Path,
        help="the labelled corpora to train on (default: REDLINE_CORPORA_DIR or the shipped)",
    )
    learn.add_argument(
        "--f1-tolerance",
        type=float,
        default=0.01,
        help="how far held-out match F1 may drop (default 0.01; negative: demand a gain)",
    )
    learn.add_argument(
        "--mae-tolerance",
        type=float,
        default=0.5,
        help="how many points held-out total MAE may rise (default 0.5; negative: demand a gain)",
    )
    learn.set_defaults(handler=cmd_retrain)

    for register in _domain_commands():
        register(commands)
    return parser


def _domain_commands() -> list[Callable[[Any], None]]:
    """Each domain adds its own commands: invites, submissions, users and export."""
    from app.invites import commands as invite_commands
    from app.reviews import commands as review_commands
    from app.submissions import commands as submission_commands
    from app.users import commands as user_commands

    return [
        invite_commands.register,
        submission_commands.register,
        user_commands.register,
        review_commands.register,
    ]


def _database_problem(exc: Exception, command: str) -> str:
    """What to tell the operator when a command fails on the database."""
    from app import migrate
    from app.db import get_engine

    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if command == "db":  # migrating itself failed: the schema state is not the cause
        return f"error: the database refused the migration: {reason}"

    try:
        current, head = migrate.current_revision(get_engine()), migrate.head_revision()
    except Exception as probe:  # the database cannot even be reached
        reason = str(getattr(probe, "orig", None) or probe).strip().splitlines()[0]
        return f"error: cannot use the database ({reason}). Check DATABASE_URL."
    if current != head:
        return (
            f"error: the database is at revision {current or '(empty, never migrated)'}, "
            f"the code needs {head}. Run `redline db upgrade` first."
        )
    return f"error: the database refused the command: {reason}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `redline` console script."""
    from sqlalchemy.exc import DBAPIError

    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except DBAPIError as exc:
        print(_database_problem(exc, args.command), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
