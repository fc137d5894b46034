"""Dependencies point one way: the grading engine never pulls in the web stack, and the app
uses the engine only through the names `grading/__init__.py` exports."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_grading_imports_no_web_stack() -> None:
    code = (
        "import sys, grading; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'app','fastapi','starlette','sqlalchemy'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_app_imports_only_what_grading_exports() -> None:
    import grading

    exported = set(grading.__all__)
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("grading."):
                    offenders.append(f"{where} imports {node.module}")
                elif node.module == "grading":
                    offenders.extend(
                        f"{where} imports grading.{a.name}, which grading does not export"
                        for a in node.names
                        if a.name not in exported
                    )
            elif isinstance(node, ast.Import):
                offenders.extend(
                    f"{where} imports {a.name}" for a in node.names if a.name.startswith("grading.")
                )
    assert offenders == []
