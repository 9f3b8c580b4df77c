"""docs/models.md is generated from the catalogue and must be current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_models_page_is_current() -> None:
    spec = importlib.util.spec_from_file_location("models_page", ROOT / "scripts/models_page.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs/models.md").read_text(encoding="utf-8")
    assert page == module.render(), "run: .venv/bin/python scripts/models_page.py"
