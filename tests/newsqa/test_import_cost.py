"""What `newsqa ask` imports before its quotation: nothing it needs only for the model's answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_line_imports_no_http_client_before_the_model_is_asked() -> None:
    code = "import sys, newsqa.cli, newsqa.runtime; print([m for m in ('httpx', 'llama_cpp') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
