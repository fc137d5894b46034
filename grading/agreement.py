"""How far two careful human graders agree on the same reviews.

A second grader labelled a subset of each review corpus again, blind to the first labels
(`corpora/agreement/<register>/<slug>.jsonl`). The figures here are the ceiling to read the
grader's own agreement against: a grader that agrees with the first labels as well as a second
human does is as good as its labels let anyone measure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.metrics import cohen_kappa_score

from grading.errors import ReviewFormatError
from grading.types import DIMENSIONS, RED_FLAG_KINDS

TOTAL_BIN = 10.0


@dataclass(frozen=True)
class LabelPair:
    """One review labelled twice: `first` by its writer, `second` by an independent grader."""

    review_id: str
    assessment: str
    first: Mapping[str, Any]
    second: Mapping[str, Any]


@dataclass(frozen=True)
class Agreement:
    """Agreement between two graders over `n_reviews` reviews of one or more corpora."""

    name: str
    n_reviews: int
    bug_kappa: float | None
    bug_agreement: float
    total_mae: float
    total_qwk: float | None
    dimension_mae: Mapping[str, float]
    flag_kappa: float | None
    kind_agreement: float

    def as_row(self) -> dict[str, object]:
        """The figures as one flat row, rounded for a table."""
        row: dict[str, object] = {
            "corpus": self.name,
            "reviews": self.n_reviews,
            "bug kappa": _round(self.bug_kappa),
            "bug agreement": round(self.bug_agreement, 3),
            "total MAE": round(self.total_mae, 2),
            "total QWK": _round(self.total_qwk),
            "red-flag kappa": _round(self.flag_kappa),
            "comment-kind agreement": round(self.kind_agreement, 3),
        }
        row.update({f"{d} MAE": round(v, 1) for d, v in self.dimension_mae.items()})
        return row


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReviewFormatError("", f"{path}:{number}: not JSON: {exc.msg}") from exc
        if not isinstance(row, dict) or not isinstance(row.get("gold"), dict):
            raise ReviewFormatError("gold", f"{path}:{number}: a labelled review needs `gold`")
        yield number, row


def pair_labels(second: Path, first: Path) -> list[LabelPair]:
    """Pair every review of the `second` grader's file with the same review in `first`.

    The review itself (comments and summary) must be identical in both files: otherwise the two
    graders did not label the same thing.
    """
    originals = {row["id"]: row for _, row in _rows(first)}
    pairs = []
    for number, row in _rows(second):
        original = originals.get(row.get("id"))
        if original is None:
            raise ReviewFormatError("id", f"{second}:{number}: {row.get('id')!r} not in {first}")
        for part in ("comments", "summary"):
            if row.get(part) != original.get(part):
                raise ReviewFormatError(
                    part, f"{second}:{number}: differs from {first.name} for {row['id']}"
                )
        pairs.append(LabelPair(row["id"], row["assessment"], original["gold"], row["gold"]))
    return pairs


def _kappa(a: Sequence[int], b: Sequence[int]) -> float | None:
    if not a:
        return None
    if len(set(a) | set(b)) < 2:
        return 1.0
    return float(cohen_kappa_score(a, b))


def _bins(totals: Sequence[float]) -> list[int]:
    top = int(100 // TOTAL_BIN) - 1
    return [min(int(t // TOTAL_BIN), top) for t in totals]


def measure(name: str, pairs: Sequence[LabelPair], bugs: Mapping[str, Sequence[str]]) -> Agreement:
    """Agreement over `pairs`; `bugs` lists each assessment's bug ids (found/not-found per bug)."""
    found_first: list[int] = []
    found_second: list[int] = []
    flags_first: list[int] = []
    flags_second: list[int] = []
    kinds_same = kinds_all = 0
    for pair in pairs:
        first_found = {m["bug"] for m in pair.first["matches"]}
        second_found = {m["bug"] for m in pair.second["matches"]}
        for bug in bugs[pair.assessment]:
            found_first.append(bug in first_found)
            found_second.append(bug in second_found)
        first_flags = {f["kind"] for f in pair.first["red_flags"]}
        second_flags = {f["kind"] for f in pair.second["red_flags"]}
        for kind in RED_FLAG_KINDS:
            flags_first.append(kind in first_flags)
            flags_second.append(kind in second_flags)
        for a, b in zip(pair.first["comments"], pair.second["comments"], strict=True):
            kinds_all += 1
            kinds_same += a["kind"] == b["kind"]

    totals = ([p.first["total"] for p in pairs], [p.second["total"] for p in pairs])
    n = len(pairs)
    qwk = (
        float(cohen_kappa_score(_bins(totals[0]), _bins(totals[1]), weights="quadratic"))
        if len(set(_bins(totals[0])) | set(_bins(totals[1]))) > 1
        else None
    )
    return Agreement(
        name=name,
        n_reviews=n,
        bug_kappa=_kappa(found_first, found_second),
        bug_agreement=sum(a == b for a, b in zip(found_first, found_second, strict=True))
        / max(len(found_first), 1),
        total_mae=sum(abs(a - b) for a, b in zip(*totals, strict=True)) / max(n, 1),
        total_qwk=qwk,
        dimension_mae={
            d: sum(abs(p.first["dimensions"][d] - p.second["dimensions"][d]) for p in pairs)
            / max(n, 1)
            for d in DIMENSIONS
        },
        flag_kappa=_kappa(flags_first, flags_second),
        kind_agreement=kinds_same / max(kinds_all, 1),
    )


def corpus_agreement(
    corpora_dir: Path, bugs: Mapping[str, Sequence[str]], *, prefix: str = ""
) -> list[Agreement]:
    """One row per second-labelled file under `corpora_dir/agreement`, then one per register
    and one over everything; `prefix` starts each row's name (the sealed set's rows say so)."""
    by_register: dict[str, list[LabelPair]] = {}
    rows = []
    for path in sorted((corpora_dir / "agreement").glob("*/*.jsonl")):
        register = path.parent.name
        first = (
            corpora_dir / "reviews" / path.name
            if register == "prose"
            else corpora_dir / register / "reviews" / path.name
        )
        pairs = pair_labels(path, first)
        by_register.setdefault(register, []).extend(pairs)
        rows.append(measure(f"{prefix}{register}/{path.stem}", pairs, bugs))
    for register, pairs in sorted(by_register.items()):
        rows.append(measure(f"{prefix}{register} (all)", pairs, bugs))
    everything = [p for pairs in by_register.values() for p in pairs]
    if everything:
        rows.append(measure(f"{prefix}all", everything, bugs))
    return rows
