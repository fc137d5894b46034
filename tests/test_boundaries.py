"""Dependencies point one way: the grading engine never pulls in the web stack."""

import subprocess
import sys


def test_grading_imports_no_web_stack() -> None:
    code = (
        "import sys, grading; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in {'app','fastapi','starlette','sqlalchemy'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
