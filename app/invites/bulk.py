"""Many invites at once from a CSV of `name,email` rows: a hiring round in one step.

Every row is checked before any invite is made, so a file with one bad row creates nothing
and the author fixes it from a list of every problem with its line number. The links come
back as CSV (`name,email,link`), the only time they are ever shown.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app import spreadsheet
from app.assessments import service as assessment_service
from app.invites import service
from app.users.models import User

MAX_ROWS = 1000
MAX_BYTES = 1024 * 1024
HEADER = ("name", "email")


class BulkInvalid(service.InviteInvalid):
    """The file cannot be used as it is; `problems` names each bad line."""


@dataclass(frozen=True)
class Row:
    """One candidate to invite, with the line of the file it came from."""

    line: int
    name: str
    email: str


def parse_rows(data: bytes | str) -> list[Row]:
    """The candidates in a `name,email` CSV (header optional); raises BulkInvalid."""
    if len(data) > MAX_BYTES:
        raise BulkInvalid([f"the file is larger than {MAX_BYTES // 1024} KB"])
    if isinstance(data, bytes):
        raw = data
        try:
            data = raw.decode("utf-8-sig")  # spreadsheets often start with a byte-order mark
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise BulkInvalid([f"line {line}: not UTF-8 text (save the CSV as UTF-8)"]) from None
    data = data.removeprefix("\ufeff")
    problems: list[str] = []
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    reader = csv.reader(io.StringIO(data, newline=""))
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            values = [cell.strip() for cell in cells]
            if not rows and not problems and tuple(v.lower() for v in values) == HEADER:
                continue
            if len(values) != 2:
                problems.append(
                    f"line {line}: expected 2 columns (name,email), found {len(values)}"
                )
                continue
            name, email = values
            if not name:
                problems.append(f"line {line}: the name is empty")
            problems.extend(
                f"line {line}: {problem}"
                for problem in service.candidate_problems(name or None, email or None)
            )
            if not email:
                problems.append(f"line {line}: the e-mail is empty")
            elif email.lower() in first_line:
                problems.append(f"line {line}: {email} is also on line {first_line[email.lower()]}")
            else:
                first_line[email.lower()] = line
            rows.append(Row(line, name, email))
    except csv.Error as exc:
        problems.append(f"line {reader.line_num}: {exc}")
    if len(rows) > MAX_ROWS:
        problems.insert(0, f"{len(rows)} rows; at most {MAX_ROWS} at a time")
    if not rows and not problems:
        problems.append("no rows: give one name,email per line")
    if problems:
        raise BulkInvalid(problems)
    return rows


def create_invites(
    session: Session,
    *,
    assessment: str,
    rows: list[Row],
    expires_at: datetime | None = None,
    created_by: User | None = None,
    actor: str | None = None,
    base_url: str | None = None,
) -> list[tuple[Row, service.NewInvite]]:
    """One invite per row, in the caller's transaction (all or none when it rolls back)."""
    found = assessment_service.get_assessment(session, assessment)
    return [
        (
            row,
            service.create_invite(
                session,
                assessment=found,
                candidate_name=row.name,
                candidate_email=row.email,
                expires_at=expires_at,
                created_by=created_by,
                actor=actor,
                base_url=base_url,
            ),
        )
        for row in rows
    ]


def links_csv(created: list[tuple[Row, service.NewInvite]]) -> str:
    """`name,email,link` for each invite, safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "email", "link"])
    for row, new in created:
        writer.writerow([spreadsheet.neutralise(v) for v in (row.name, row.email, new.url)])
    return out.getvalue()
