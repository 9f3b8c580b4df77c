"""The cards of the validated catalogue, cached by the files' hashes (fast ``ketasim models``).

Validating every model file (pydantic) takes most of ``ketasim models``' start-up. The cards
of the listing (:func:`ketasim.catalogue.card.model_summary`) are therefore kept in a JSON
file keyed by the SHA-256 of every catalogue file and of the modules that validate and
summarise them: the same bytes validate the same way, so a hit is as good as a fresh
validation, and any change of a model file or of the schema misses and rebuilds (with full
validation). The cache lives in ``$KETASIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/ketasim``, else
``~/.cache/ketasim``; if it cannot be written the listing is simply validated every time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ketasim.catalogue.card import ModelCard, model_summary

__all__ = ["cache_path", "catalogue_key", "model_cards"]

_SOURCES = (
    "catalogue/schema.py",
    "catalogue/sections.py",
    "catalogue/card.py",
    "catalogue/select.py",
    "catalogue/loader.py",
    "datafiles.py",
    "expressions.py",
    "units.py",
    "errors.py",
)


def catalogue_key() -> str:
    """SHA-256 of every catalogue file (name and bytes) and of the validating modules."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    # the folder the loader reads (importlib.resources.files("ketasim.catalogue") / "data" in
    # an installed or source tree), found without importing importlib.resources at start-up
    folder = package / "catalogue" / "data"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes() + b"\0")
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes() + b"\0")
    return digest.hexdigest()


def cache_path(key: str) -> Path:
    """Where the cards of the catalogue with ``key`` are kept."""
    root = os.environ.get("KETASIM_CACHE_DIR")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".cache") / "ketasim"
    return base / f"catalogue-cards-{key[:32]}.json"


def model_cards() -> list[ModelCard]:
    """The cards of every catalogue model (validated now or when the cache was written)."""
    key = catalogue_key()
    path = cache_path(key)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("key") == key:
            return [ModelCard.from_summary(s) for s in doc["cards"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    from ketasim.catalogue.loader import available_models

    summaries = [model_summary(m) for m in available_models()]
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
        ) as tmp:
            json.dump({"key": key, "cards": summaries}, tmp, ensure_ascii=False)
        os.replace(tmp.name, path)
    except OSError:
        pass
    return [ModelCard.from_summary(s) for s in summaries]
