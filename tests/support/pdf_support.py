"""Reading PDFs back for tests: pdftoppm renders pages, pdftotext extracts the text, pdffonts
lists the fonts (poppler-utils, installed by scripts/system-deps.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


def need_poppler() -> None:
    for tool in ("pdftoppm", "pdftotext", "pdffonts"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (poppler-utils) not installed; run scripts/system-deps.sh")


def pdf_text(path: Path) -> str:
    """The PDF's text in reading order, whitespace (and line wrapping) collapsed to spaces."""
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True)
    return " ".join(out.stdout.split())


def pdf_pages(path: Path, out_dir: Path, dpi: int = 50) -> list[Path]:
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(path), str(out_dir / "page")], check=True
    )
    return sorted(out_dir.glob("page*.png"))


def fonts_embedded(path: Path) -> list[str]:
    """Names of the PDF's fonts; fails if one is not embedded."""
    lines = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, check=True, text=True
    ).stdout.splitlines()[2:]
    names = []
    for line in lines:
        cols = line.split()
        emb = cols[-5]
        assert emb == "yes", line
        names.append(cols[0])
    return names


def ink_fraction(png: Path) -> float:
    """Share of pixels that are not white: a blank page gives ~0."""
    from PIL import Image

    with Image.open(png) as img:
        grey = np.asarray(img.convert("L"), dtype=float)
    return float(np.mean(grey < 200))
