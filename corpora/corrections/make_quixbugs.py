"""Derive corpora/corrections/quixbugs.jsonl from the QuixBugs benchmark.

Source: QuixBugs by Derrick Lin, James Koppel, Angela Chen and Armando Solar-Lezama (MIT
licence; see LICENSE.quixbugs next to this file): 40 small programs in Python and Java, each
with one real defect, and their corrected versions.

Each program whose buggy and corrected versions differ in one place (docstrings and comments
aside) in at most three lines becomes one line

    {"name": "gcd", "language": "python", "file": "gcd.py", "code": <the buggy program>,
     "lines": [5, 5], "buggy": "return gcd(a % b, b)", "fixed": "return gcd(b, a % b)"}

where `lines` is the inclusive range of the defect in `code` (for a missing line: the line
after which it belongs) and `buggy`/`fixed` are the code there before and after the fix. The
grader builds terse answer keys and one-line review comments from these records to learn what
a stated correction looks like (grading/synthetic.py). Programs in the order of their file
names, Python first, so the output is deterministic.

Programs that a snippet of the sealed evaluation set (`corpora/sealed/assessments/`) or of a set
retired from it (`corpora/retired/assessments/`) uses are left out, matched by file name:
nothing may be trained on either.

Usage:
    python make_quixbugs.py /work/shared/data/quixbugs [--out quixbugs.jsonl]
"""

import argparse
import difflib
import json
from pathlib import Path

MAX_DEFECT_LINES = 3
LANGUAGES = (
    ("python", "python_programs", "correct_python_programs", ".py"),
    ("java", "java_programs", "correct_java_programs", ".java"),
)


def code_lines(text: str, language: str) -> list[tuple[int, str]]:
    """(1-based line number, stripped text) of the lines that are code, not docs or blanks."""
    out = []
    in_doc = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if language == "python":
            if stripped.startswith('"""') or stripped.endswith('"""'):
                if not (
                    len(stripped) > 3 and stripped.startswith('"""') and stripped.endswith('"""')
                ):
                    in_doc = not in_doc
                continue
            if in_doc or stripped.startswith("#"):
                continue
            stripped = stripped.split("#", 1)[0].strip()
        else:
            # The package line names the folder, which differs between the two versions.
            if stripped.startswith(("/*", "*", "//", "import ", "package ")):
                continue
            stripped = stripped.split("//", 1)[0].strip()
        if stripped:
            out.append((number, stripped))
    return out


def _squeeze(line: str) -> str:
    """A line without its spaces, so `a%b` and `a % b` compare equal."""
    return "".join(line.split())


def defect(buggy: str, fixed: str, language: str) -> dict[str, object] | None:
    """The one changed place between two versions, or None when there are several."""
    a = code_lines(buggy, language)
    b = code_lines(fixed, language)
    ops = [
        op
        for op in difflib.SequenceMatcher(
            None, [_squeeze(t) for _, t in a], [_squeeze(t) for _, t in b]
        ).get_opcodes()
        if op[0] != "equal"
    ]
    if len(ops) != 1:
        return None
    tag, i1, i2, j1, j2 = ops[0]
    if i2 - i1 > MAX_DEFECT_LINES or j2 - j1 > MAX_DEFECT_LINES:
        return None  # a rewritten block, not a one-line defect a comment can state
    if tag == "insert":
        start = end = a[i1 - 1][0] if i1 > 0 else a[0][0]
    else:
        start, end = a[i1][0], a[i2 - 1][0]
    return {
        "lines": [start, end],
        "buggy": "\n".join(t for _, t in a[i1:i2]),
        "fixed": "\n".join(t for _, t in b[j1:j2]),
    }


def sealed_names(folder: Path) -> set[str]:
    """Lower-cased stems of every snippet file of the sealed assessments."""
    if not folder.is_dir():
        return set()
    return {p.stem.lower() for p in folder.glob("*/*") if p.name != "assessment.yaml"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="the QuixBugs folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("quixbugs.jsonl"))
    corpora = Path(__file__).resolve().parent.parent
    parser.add_argument(
        "--sealed",
        type=Path,
        action="append",
        help="assessments whose programs are left out (default: the sealed and retired sets)",
    )
    args = parser.parse_args()
    folders = args.sealed or [
        corpora / "sealed" / "assessments",
        corpora / "retired" / "assessments",
    ]
    sealed = set().union(*(sealed_names(folder) for folder in folders))
    rows = []
    for language, buggy_dir, fixed_dir, suffix in LANGUAGES:
        for path in sorted((args.source / buggy_dir).glob(f"*{suffix}")):
            fixed_path = args.source / fixed_dir / path.name
            if not fixed_path.is_file() or path.stem.lower() in sealed:
                continue
            code = path.read_text(encoding="utf-8")
            found = defect(code, fixed_path.read_text(encoding="utf-8"), language)
            if found is None:
                continue
            rows.append(
                {"name": path.stem.lower(), "language": language, "file": path.name, "code": code}
                | found
            )
    with args.out.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} programs to {args.out}")


if __name__ == "__main__":
    main()
