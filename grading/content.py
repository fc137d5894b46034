"""Load and validate assessments and answer keys (FORMATS.md sections 1 and 2).

Validation reports every problem at once, each located by file, line and field, so that an
author fixes a folder in one pass. Loading raises `ContentError` carrying those problems.

Content may come from people the operator does not fully trust (a shared repository of
assessments), so reading it is bounded: files over a size limit, YAML nested too deep, with too
many aliases or expanding to too many values are refused before they are built, and symbolic
links are refused so that no file outside the content folders is ever read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grading.errors import ContentError, Problem
from grading.text import unstorable
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
# Far above any real assessment (the shipped ones are a few KB, nest 4 deep, use no aliases).
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 100
MAX_YAML_VALUES = 100_000

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


class _YamlRefused(Exception):
    """A YAML document exceeds a limit; `line` is where the limit was crossed."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


def _check_yaml_shape(text: str) -> None:
    """Refuse deep nesting and many aliases from the event stream, before any tree is built.

    PyYAML's composer recurses once per nesting level, so depth is checked on the (iterative)
    event stream first: a 20,000-deep document is then a content problem, not a RecursionError.
    """
    depth = aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise _YamlRefused(line, f"nested more than {MAX_YAML_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise _YamlRefused(line, f"more than {MAX_YAML_ALIASES} aliases (*name)")


class _Builder:
    """Turns a composed node graph into Python values, recording the line of every field.

    Aliases share nodes, so the graph can expand exponentially ("billion laughs") or point
    back at itself; both are refused where the alias is used. A node met again is an alias:
    its own line is the anchor's, so it and everything under it report the line of the
    collection that holds the alias instead.
    """

    def __init__(self, lines: dict[FieldPath, int]) -> None:
        self.lines = lines
        self.values = 0
        self.seen: set[int] = set()
        self.open: set[int] = set()
        # Builds each scalar once (it caches per node) with the safe loader's type rules.
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: FieldPath, alias_line: int | None = None) -> Any:
        if alias_line is None and id(node) in self.seen:
            alias_line = self.lines.get(path[:-1], node.start_mark.line + 1)
        line = alias_line if alias_line is not None else node.start_mark.line + 1
        self.seen.add(id(node))
        self.values += 1
        if self.values > MAX_YAML_VALUES:
            raise _YamlRefused(
                line, f"expands to more than {MAX_YAML_VALUES} values (aliases repeat their anchor)"
            )
        self.lines.setdefault(path, line)
        if isinstance(node, yaml.ScalarNode):
            value = self.constructor.construct_object(node)
            if isinstance(value, str):
                _check_storable(value, line)
            return value
        if id(node) in self.open:
            raise _YamlRefused(line, "an alias refers to a collection that contains it")
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                out: dict[str, Any] = {}
                for key_node, value_node in node.value:
                    if not isinstance(key_node, yaml.ScalarNode):
                        raise _YamlRefused(
                            alias_line or key_node.start_mark.line + 1,
                            "a mapping key must be a plain value",
                        )
                    key = str(self.constructor.construct_object(key_node))
                    self.lines[(*path, key)] = alias_line or key_node.start_mark.line + 1
                    out[key] = self.build(value_node, (*path, key), alias_line)
                return out
            return [self.build(item, (*path, i), alias_line) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))


def _check_storable(value: str, line: int) -> None:
    """Refuse text no database can hold: YAML's escapes can spell a NUL ("\\0") or a lone
    surrogate ("\\ud800"), which PostgreSQL refuses and UTF-8 cannot encode."""
    problem = unstorable(value)
    if problem == "nul":
        raise _YamlRefused(line, "a NUL character (\\0) cannot be stored; remove it")
    if problem == "surrogate":
        raise _YamlRefused(
            line, "an unpaired UTF-16 surrogate (\\ud800-\\udfff) is not valid Unicode; remove it"
        )


def _parse_yaml(text: str, file: str) -> _Document:
    lines: dict[FieldPath, int] = {}
    try:
        _check_yaml_shape(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return _Document(file, None, {}, [Problem(file, 1, "", "the file is empty")])
        data = _Builder(lines).build(node, ())
    except _YamlRefused as exc:
        return _Document(file, None, {}, [Problem(file, exc.line, "", f"refused: {exc.message}")])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return _Document(file, None, {}, [Problem(file, line, "", f"invalid YAML: {reason}")])
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
    """The file's text; None when it is missing, unreadable, too large or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return None
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _unreadable(path: Path) -> str:
    """Why `_read_text` returned None for `path`, in words an author can act on."""
    if path.is_symlink():
        return "is a symbolic link; content must be regular files inside the content folders"
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a regular file"
    if path.stat().st_size > MAX_FILE_BYTES:
        return f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB"
    return "is unreadable or not UTF-8 text"


def _symlink_in(folder: Path, name: str) -> str | None:
    """The first symbolic link on the way from `folder` to `folder/name`, if any."""
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts:
        return None  # refused as outside the folder anyway
    current = folder
    for part in parts:
        current = current / part
        if current.is_symlink():
            return str(current.relative_to(folder))
    return None


def check_assessment(
    folder: Path, *, display_root: Path | None = None
) -> tuple[Assessment | None, list[Problem]]:
    """Validate one assessment folder; return the assessment (None if unusable) and problems."""
    yaml_path = folder / ASSESSMENT_FILE
    file = _display(yaml_path, display_root)
    if folder.is_symlink():
        return None, [
            Problem(
                _display(folder, display_root),
                None,
                "",
                "the assessment folder is a symbolic link; content must be real folders",
            )
        ]
    text = None if yaml_path.is_symlink() else _read_text(yaml_path)
    if text is None:
        if not yaml_path.exists() and not yaml_path.is_symlink():
            return None, [Problem(file, None, "", f"missing {ASSESSMENT_FILE}")]
        return None, [Problem(file, None, "", f"{ASSESSMENT_FILE} {_unreadable(yaml_path)}")]
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
                link = _symlink_in(folder, name)
                if link is not None:
                    doc.problem(
                        path,
                        f"snippet file {name!r}: {link} is a symbolic link; content must be "
                        "regular files inside the assessment folder",
                    )
                    continue
                target = (folder / name).resolve()
                if folder.resolve() not in target.parents or name == ASSESSMENT_FILE:
                    doc.problem(path, f"snippet file {name!r} must be inside the assessment folder")
                    continue
                snippet_text = _read_text(target) if target.is_file() else None
                if snippet_text is None:
                    if not (folder / name).exists():
                        doc.problem(
                            path, f"missing snippet file {name!r} (no such file in {folder.name}/)"
                        )
                    else:
                        doc.problem(path, f"snippet file {name!r} {_unreadable(folder / name)}")
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
    text = None if path.is_symlink() else _read_text(path)
    if text is None:
        if not path.exists() and not path.is_symlink():
            return None, [Problem(file, None, "", "missing answer key")]
        return None, [Problem(file, None, "", f"the answer key {_unreadable(path)}")]
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
    """Every assessment folder, and every symbolic link where one could be (refused later)."""
    if assessments_dir.is_dir():
        yield from sorted(
            p
            for p in assessments_dir.iterdir()
            if (p.is_dir() or p.is_symlink()) and not p.name.startswith((".", "_"))
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
