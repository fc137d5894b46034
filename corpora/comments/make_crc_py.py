"""Derive corpora/comments/crc_py.jsonl from the crc-py dataset.

Source: crc-py-dataset by Büşra İçöz (GitHub busraicoz/crc-py-dataset, MIT licence; see
LICENSE.crc-py next to this file). The shared copy adds a `likely_bot` field; only the human
comments (`likely_bot == false`, 818 of 1,030) are kept.

Each kept comment becomes one line

    {"text": <comment>, "kind": <mapped>, "tradeoff": null, "flag": null,
     "source": {"repo", "pr_number", "comment_id", "category", "subcategory"}}

in the order of the source file, so the output is deterministic. `kind` is mapped from the
dataset's category/subcategory to the comment kinds of FORMATS.md section 4 (see KIND below).
The dataset has no labels for tradeoff reasoning or red flags, hence the nulls.

Usage:
    python make_crc_py.py /work/shared/data/crc-py [--out crc_py.jsonl]

The argument is the dataset folder or its review_comments.json.
"""

import argparse
import json
from pathlib import Path

# (category, subcategory) -> kind. A subcategory of None covers the whole category.
KIND = {
    ("functional", None): "defect",
    ("refactoring", "variable naming"): "style",
    ("refactoring", "visual representation"): "style",
    ("refactoring", "code organization"): "suggestion",
    ("refactoring", "solution approach"): "suggestion",
    ("refactoring", "alternate output"): "suggestion",
    ("documentation", None): "style",
    ("discussion", "question"): "question",
    ("discussion", "praise"): "praise",
    ("discussion", "design discussion"): "other",
    ("false positive", None): "other",
    # Not in the dataset's taxonomy, but present on 5 human comments: a refactoring remark
    # tagged `validation` (4, about test structure) or `support issues` (1, "upgrade X").
    # Refactoring is an evolvability change that fixes no defect, so they count as suggestions.
    ("refactoring", "validation"): "suggestion",
    ("refactoring", "support issues"): "suggestion",
}


def kind_of(category: str, subcategory: str) -> str:
    """Map a category/subcategory pair to a comment kind; raise on an unknown pair."""
    for key in ((category, subcategory), (category, None)):
        if key in KIND:
            return KIND[key]
    raise ValueError(f"no kind for category={category!r} subcategory={subcategory!r}")


def convert(records: list[dict]) -> list[dict]:
    """Keep the human comments, in source order, as labelled single-comment rows."""
    rows = []
    for r in records:
        if r["likely_bot"]:
            continue
        rows.append({
            "text": r["comment"],
            "kind": kind_of(r["category"], r["subcategory"]),
            "tradeoff": None,
            "flag": None,
            "source": {
                "repo": r["repo"],
                "pr_number": r["pr_number"],
                "comment_id": r["comment_id"],
                "category": r["category"],
                "subcategory": r["subcategory"],
            },
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", type=Path, help="crc-py folder or its review_comments.json")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("crc_py.jsonl"))
    args = ap.parse_args()

    src = args.source / "review_comments.json" if args.source.is_dir() else args.source
    records = json.loads(src.read_text(encoding="utf-8"))
    rows = convert(records)
    with args.out.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} comments to {args.out}")


if __name__ == "__main__":
    main()
