"""Write docs/validation.md from ``ketasim validate`` (run after changing models or observations).

Run: .venv/bin/python scripts/validation_page.py        (tests check the page is current)
"""

from __future__ import annotations

import sys
from pathlib import Path

from ketasim.report.validation_report import render_markdown
from ketasim.validation.runner import run_validation

PAGE = Path(__file__).resolve().parents[1] / "docs" / "validation.md"


def render() -> str:
    """The whole page as text."""
    return render_markdown(run_validation())


if __name__ == "__main__":
    PAGE.write_text(render(), encoding="utf-8")
    print(f"wrote {PAGE}", file=sys.stderr)
