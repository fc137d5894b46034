"""Load and validate assessments and answer keys (FORMATS.md sections 1 and 2).

Validation reports every problem at once, each located by file, line and field, so that an
author fixes a folder in one pass. Loading raises `ContentError` carrying those problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grading.errors import ContentError, Problem
from grading.types import AnswerKey, Assessment, Decoy, LineRange, Rubric, SeededBug, SnippetFile

SLUG_PATTERN = re.compile(r"^[a-z0-9-]+$")
ASSESSMENT_FILE = "assessment.yaml"
ASSESSMENT_KEYS = {"slug", "title", "language", "time_limit_minutes", "brief", "files", "rubric"}
ASSESSMENT_REQUIRED = ("slug", "title", "language", "time_limit_minutes", "brief", "files")
BUG_KEYS = {"id", "file", "lines", "title", "description", "rank", "subtle", "phrases"}
BUG_REQUIRED = ("id", "title", "description", "rank")
DECOY_KEYS = {"id", "file", "lines", "why"}
DECOY_REQUIRED = ("id", "why")
RUBRIC_KEYS = ("detection", "severity", "tradeoffs", "tool_taste")
MAX_TIME_LIMIT_MINUTES = 24 * 60

FieldPath = tuple[str | int, ...]


def _field_name(path: FieldPath) -> str:
    """Render ("bugs", 0, "lines") as bugs[0].lines."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class _Document:
    """A parsed YAML file with the line of every field, so problems can point at it."""

    file: str
    data: Any
    lines: dict[FieldPath, int]
    problems: list[Problem] = field(default_factory=list)

    def line(self, path: FieldPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: FieldPath, message: str) -> None:
        self.problems.append(Problem(self.file, self.line(path), _field_name(path), message))


def _to_python(node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.safe_load(yaml.serialize(key_node)))
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _parse_yaml(text: str, file: str) -> _Document:
    lines: dict[FieldPath, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return _Document(file, None, {}, [Problem(file, line, "", f"invalid YAML: {reason}")])
    if node is None:
        return _Document(file, None, {}, [Problem(file, 1, "", "the file is empty")])
    data = _to_python(node, (), lines)
    doc = _Document(file, data, lines)
    if not isinstance(data, dict):
        doc.problem((), "the top level must be a mapping of fields")
        doc.data = None
    return doc


def _check_keys(
    doc: _Document,
    path: FieldPath,
    value: dict[str, Any],
    allowed: Iterable[str],
    required: Iterable[str],
) -> None:
    allowed = set(allowed)
    for key in value:
        if key not in allowed:
            doc.problem((*path, key), f"unknown field (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value or value[key] is None:
            doc.problem((*path, key), "required field is missing")


def _text(doc: _Document, path: FieldPath, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        doc.problem(path, "must be a non-empty string")
        return ""
    return value


def _id(doc: _Document, path: FieldPath, value: Any) -> str:
    if not isinstance(value, str) or not SLUG_PATTERN.match(value):
        doc.problem(path, f"must match [a-z0-9-]+, got {value!r}")
        return str(value)
    return value


# -- assessments -------------------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def check_assessment(
    folder: Path, *, display_root: Path | None = None
) -> tuple[Assessment | None, list[Problem]]:
    """Validate one assessment folder; return the assessment (None if unusable) and problems."""
    yaml_path = folder / ASSESSMENT_FILE
    file = _display(yaml_path, display_root)
    text = _read_text(yaml_path)
    if text is None:
        return None, [Problem(file, None, "", f"missing or unreadable {ASSESSMENT_FILE}")]
    doc = _parse_yaml(text, file)
    if doc.data is None:
        return None, doc.problems
    data: dict[str, Any] = doc.data
    _check_keys(doc, (), data, ASSESSMENT_KEYS, ASSESSMENT_REQUIRED)

    slug = _id(doc, ("slug",), data.get("slug")) if "slug" in data else folder.name
    if "slug" in data and slug != folder.name:
        doc.problem(("slug",), f"slug {slug!r} does not match its folder name {folder.name!r}")
    title = _text(doc, ("title",), data.get("title")) if "title" in data else ""
    language = _text(doc, ("language",), data.get("language")) if "language" in data else ""
    brief = _text(doc, ("brief",), data.get("brief")) if "brief" in data else ""

    limit = data.get("time_limit_minutes")
    if "time_limit_minutes" in data and (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or not 1 <= limit <= MAX_TIME_LIMIT_MINUTES
    ):
        doc.problem(
            ("time_limit_minutes",),
            f"must be a whole number of minutes from 1 to {MAX_TIME_LIMIT_MINUTES}, got {limit!r}",
        )
        limit = None

    files: list[SnippetFile] = []
    raw_files = data.get("files")
    if "files" in data:
        if not isinstance(raw_files, list) or not raw_files:
            doc.problem(("files",), "must be a non-empty list of snippet file names")
        else:
            seen: set[str] = set()
            for i, name in enumerate(raw_files):
                path = ("files", i)
                if not isinstance(name, str) or not name.strip():
                    doc.problem(path, "must be a file name")
                    continue
                if name in seen:
                    doc.problem(path, f"snippet file {name!r} is listed twice")
                    continue
                seen.add(name)
                target = (folder / name).resolve()
                if folder.resolve() not in target.parents or name == ASSESSMENT_FILE:
                    doc.problem(path, f"snippet file {name!r} must be inside the assessment folder")
                    continue
                snippet_text = _read_text(target) if target.is_file() else None
                if snippet_text is None:
                    doc.problem(
                        path, f"missing snippet file {name!r} (no such file in {folder.name}/)"
                    )
                    continue
                files.append(SnippetFile(name=name, text=snippet_text))

    rubric = Rubric()
    if data.get("rubric") is not None:
        rubric = _check_rubric(doc, data["rubric"]) or rubric

    if doc.problems or limit is None:
        return None, doc.problems
    return Assessment(
        slug=slug,
        title=title,
        language=language,
        time_limit_minutes=limit,
        brief=brief,
        files=tuple(files),
        rubric=rubric,
    ), []


def _check_rubric(doc: _Document, raw: Any) -> Rubric | None:
    if not isinstance(raw, dict):
        doc.problem(("rubric",), "must be a mapping of dimension to weight")
        return None
    _check_keys(doc, ("rubric",), raw, RUBRIC_KEYS, ())
    weights = {}
    for key in RUBRIC_KEYS:
        value = raw.get(key, getattr(Rubric(), key))
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            doc.problem(("rubric", key), f"must be a non-negative number, got {value!r}")
            return None
        weights[key] = float(value)
    if abs(sum(weights.values()) - 100.0) > 1e-6:
        doc.problem(("rubric",), f"weights must sum to 100, they sum to {sum(weights.values()):g}")
        return None
    return Rubric(**weights)


# -- answer keys -------------------------------------------------------------------------------


def _check_lines(
    doc: _Document, path: FieldPath, raw: Any, snippet: SnippetFile | None
) -> tuple[LineRange, ...]:
    """Accept [a, b] or [[a, b], ...]; each range inclusive and inside the file."""
    pairs: list[Any]
    if (
        isinstance(raw, list)
        and len(raw) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in raw)
    ):
        pairs = [raw]
        paths = [path]
    elif isinstance(raw, list) and raw and all(isinstance(x, list) for x in raw):
        pairs = raw
        paths = [(*path, i) for i in range(len(raw))]
    else:
        doc.problem(path, f"must be [first, last] or a list of such ranges, got {raw!r}")
        return ()
    ranges = []
    for pair, pair_path in zip(pairs, paths, strict=True):
        ok = len(pair) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        if not ok or pair[0] < 1 or pair[0] > pair[1]:
            doc.problem(pair_path, f"must be [first, last] with 1 <= first <= last, got {pair!r}")
            continue
        if snippet is not None and pair[1] > snippet.line_count:
            doc.problem(
                pair_path,
                f"lines {pair[0]}-{pair[1]} fall outside {snippet.name} "
                f"({snippet.line_count} lines)",
            )
            continue
        ranges.append(LineRange(pair[0], pair[1]))
    return tuple(ranges)


def _check_anchor(
    doc: _Document, path: FieldPath, item: dict[str, Any], assessment: Assessment | None
) -> tuple[str | None, tuple[LineRange, ...]]:
    file = item.get("file")
    snippet = None
    if file is not None:
        if not isinstance(file, str):
            doc.problem((*path, "file"), "must be a file name")
            file = None
        elif assessment is not None:
            snippet = assessment.file(file)
            if snippet is None:
                names = ", ".join(f.name for f in assessment.files)
                doc.problem(
                    (*path, "file"), f"unknown snippet file {file!r} (the assessment has: {names})"
                )
    lines: tuple[LineRange, ...] = ()
    if item.get("lines") is not None:
        if file is None:
            doc.problem((*path, "lines"), "lines are given but file is not")
        lines = _check_lines(doc, (*path, "lines"), item["lines"], snippet)
    return file, lines


def check_answer_key(
    path: Path, assessment: Assessment | None, *, display_root: Path | None = None
) -> tuple[AnswerKey | None, list[Problem]]:
    """Validate one answer key against its assessment (None: check it on its own)."""
    file = _display(path, display_root)
    text = _read_text(path)
    if text is None:
        return None, [Problem(file, None, "", "missing or unreadable answer key")]
    doc = _parse_yaml(text, file)
    if doc.data is None:
        return None, doc.problems
    data: dict[str, Any] = doc.data
    _check_keys(doc, (), data, {"assessment", "bugs", "decoys"}, ("assessment", "bugs"))
    slug = data.get("assessment")
    if "assessment" in data:
        slug = _id(doc, ("assessment",), slug)
        if slug != path.stem:
            doc.problem(
                ("assessment",),
                f"assessment {slug!r} does not match the file name "
                f"{path.name!r} (expected {path.stem!r})",
            )
        elif assessment is not None and assessment.slug != slug:
            doc.problem(
                ("assessment",), f"names {slug!r} but was checked against {assessment.slug!r}"
            )

    ids: dict[str, FieldPath] = {}

    def unique(item_path: FieldPath, item_id: str) -> None:
        if item_id in ids:
            doc.problem(
                (*item_path, "id"),
                f"duplicate id {item_id!r} (first used at {_field_name(ids[item_id])})",
            )
        else:
            ids[item_id] = item_path

    bugs: list[SeededBug] = []
    raw_bugs = data.get("bugs")
    if "bugs" in data and (not isinstance(raw_bugs, list) or not raw_bugs):
        doc.problem(("bugs",), "must be a non-empty list of bugs")
        raw_bugs = []
    ranks: list[tuple[FieldPath, int]] = []
    for i, raw in enumerate(raw_bugs or []):
        item_path: FieldPath = ("bugs", i)
        if not isinstance(raw, dict):
            doc.problem(item_path, "must be a mapping")
            continue
        _check_keys(doc, item_path, raw, BUG_KEYS, BUG_REQUIRED)
        bug_id = _id(doc, (*item_path, "id"), raw.get("id")) if "id" in raw else f"#{i}"
        unique(item_path, bug_id)
        bug_file, bug_lines = _check_anchor(doc, item_path, raw, assessment)
        title = _text(doc, (*item_path, "title"), raw.get("title")) if "title" in raw else ""
        description = (
            _text(doc, (*item_path, "description"), raw.get("description"))
            if "description" in raw
            else ""
        )
        rank = raw.get("rank")
        if "rank" in raw:
            if isinstance(rank, bool) or not isinstance(rank, int):
                doc.problem((*item_path, "rank"), f"must be a whole number, got {rank!r}")
            else:
                ranks.append(((*item_path, "rank"), rank))
        subtle = raw.get("subtle", False)
        if not isinstance(subtle, bool):
            doc.problem((*item_path, "subtle"), f"must be true or false, got {subtle!r}")
        phrases = raw.get("phrases") or []
        if not isinstance(phrases, list) or not all(
            isinstance(p, str) and p.strip() for p in phrases
        ):
            doc.problem((*item_path, "phrases"), "must be a list of non-empty strings")
            phrases = []
        bugs.append(
            SeededBug(
                id=bug_id,
                title=title,
                description=description,
                rank=rank if isinstance(rank, int) else 0,
                file=bug_file,
                lines=bug_lines,
                subtle=subtle is True,
                phrases=tuple(p.strip() for p in phrases),
            )
        )
    _check_ranks(doc, ranks)

    decoys: list[Decoy] = []
    raw_decoys = data.get("decoys") or []
    if not isinstance(raw_decoys, list):
        doc.problem(("decoys",), "must be a list of decoys")
        raw_decoys = []
    for i, raw in enumerate(raw_decoys):
        item_path = ("decoys", i)
        if not isinstance(raw, dict):
            doc.problem(item_path, "must be a mapping")
            continue
        _check_keys(doc, item_path, raw, DECOY_KEYS, DECOY_REQUIRED)
        decoy_id = _id(doc, (*item_path, "id"), raw.get("id")) if "id" in raw else f"#{i}"
        unique(item_path, decoy_id)
        decoy_file, decoy_lines = _check_anchor(doc, item_path, raw, assessment)
        why = _text(doc, (*item_path, "why"), raw.get("why")) if "why" in raw else ""
        decoys.append(Decoy(id=decoy_id, why=why, file=decoy_file, lines=decoy_lines))

    if doc.problems:
        return None, doc.problems
    return AnswerKey(assessment=str(slug), bugs=tuple(bugs), decoys=tuple(decoys)), []


def _check_ranks(doc: _Document, ranks: list[tuple[FieldPath, int]]) -> None:
    expected = set(range(1, len(ranks) + 1))
    seen: dict[int, FieldPath] = {}
    for path, rank in ranks:
        if rank in seen:
            doc.problem(
                path,
                f"rank {rank} is used twice (also at {_field_name(seen[rank])}); "
                f"ranks must be 1..{len(ranks)}, each once",
            )
        elif rank not in expected:
            doc.problem(
                path, f"rank {rank} is out of range; ranks must be 1..{len(ranks)}, each once"
            )
        seen.setdefault(rank, path)


# -- catalog -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEntry:
    """An assessment with its answer key."""

    assessment: Assessment
    answer_key: AnswerKey


@dataclass(frozen=True)
class Catalog:
    """Every valid assessment/answer-key pair under a content root, and every problem found."""

    entries: tuple[CatalogEntry, ...]
    problems: tuple[Problem, ...]

    def get(self, slug: str) -> CatalogEntry | None:
        """The entry for `slug`, or None."""
        return next((e for e in self.entries if e.assessment.slug == slug), None)


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def _assessment_folders(assessments_dir: Path) -> Iterator[Path]:
    if assessments_dir.is_dir():
        yield from sorted(
            p for p in assessments_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
        )


def load_catalog(
    assessments_dir: Path, bugs_dir: Path, *, display_root: Path | None = None
) -> Catalog:
    """Validate every assessment and answer key; keep the pairs that are both valid.

    Parameters
    ----------
    assessments_dir, bugs_dir
        The `assessments/` and `seeded_bugs/` folders.
    display_root
        Paths in problems are shown relative to this folder.

    Returns
    -------
    Catalog
        The valid entries and every problem, sorted by file and line.
    """
    problems: list[Problem] = []
    entries: list[CatalogEntry] = []
    if not assessments_dir.is_dir():
        problems.append(
            Problem(
                _display(assessments_dir, display_root), None, "", "assessments folder not found"
            )
        )
    if not bugs_dir.is_dir():
        problems.append(
            Problem(_display(bugs_dir, display_root), None, "", "seeded_bugs folder not found")
        )
    key_paths = {p.stem: p for p in sorted(bugs_dir.glob("*.yaml"))} if bugs_dir.is_dir() else {}
    if bugs_dir.is_dir():
        for stray in sorted(bugs_dir.glob("*.yml")):
            problems.append(
                Problem(_display(stray, display_root), None, "", "answer keys must end in .yaml")
            )
    folders = {f.name: f for f in _assessment_folders(assessments_dir)}
    for name, folder in folders.items():
        assessment, found = check_assessment(folder, display_root=display_root)
        problems.extend(found)
        key_path = key_paths.get(name)
        if key_path is None:
            problems.append(
                Problem(
                    _display(folder / ASSESSMENT_FILE, display_root),
                    None,
                    "",
                    f"assessment {name!r} has no answer key "
                    f"({_display(bugs_dir / (name + '.yaml'), display_root)})",
                )
            )
            continue
        key, found = check_answer_key(key_path, assessment, display_root=display_root)
        problems.extend(found)
        if assessment is not None and key is not None:
            entries.append(CatalogEntry(assessment, key))
    for stem, key_path in key_paths.items():
        if stem not in folders:
            problems.append(
                Problem(
                    _display(key_path, display_root),
                    1,
                    "assessment",
                    f"answer key without assessment: no folder "
                    f"{_display(assessments_dir / stem, display_root)}/",
                )
            )
    return Catalog(tuple(entries), tuple(sorted(set(problems), key=_problem_order)))


def _problem_order(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, p.line or 0, p.field, p.message)


def load_assessment(folder: Path) -> Assessment:
    """Load one assessment folder, raising `ContentError` with every problem."""
    assessment, problems = check_assessment(Path(folder))
    if assessment is None:
        raise ContentError(problems)
    return assessment


def load_answer_key(path: Path, assessment: Assessment | None = None) -> AnswerKey:
    """Load one answer key, checked against its assessment when given; raises `ContentError`."""
    key, problems = check_answer_key(Path(path), assessment)
    if key is None:
        raise ContentError(problems)
    return key
