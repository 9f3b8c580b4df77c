"""Finding and loading model files (the catalogue's own data, or a user's file)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from ketasim.catalogue.schema import ModelSpec
from ketasim.datafiles import load_validated_toml
from ketasim.errors import ModelError, ModelNotFoundError

__all__ = ["available_models", "load_model", "load_model_file", "resolve_model"]


def load_model_text(text: str, *, origin: str) -> ModelSpec:
    """Parse and validate model TOML ``text``; errors name ``origin`` and the field."""
    return load_validated_toml(text, ModelSpec, origin=origin)


def load_model_file(path: str | Path) -> ModelSpec:
    """Load and validate a model file from ``path`` (a user's own model, same schema)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{p}: cannot read model file: {exc.strerror}") from None
    return load_model_text(text, origin=str(p))


@cache
def _catalogue() -> tuple[ModelSpec, ...]:
    folder = resources.files("ketasim.catalogue") / "data"
    models = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            models.append(
                load_model_text(
                    entry.read_text(encoding="utf-8"), origin=f"catalogue/data/{entry.name}"
                )
            )
    ids = [m.id for m in models]
    if len(set(ids)) != len(ids):
        raise ModelError("catalogue: duplicate model ids")
    return tuple(models)


def available_models() -> tuple[ModelSpec, ...]:
    """Every model in the catalogue, sorted by file name."""
    return _catalogue()


def load_model(model_id: str) -> ModelSpec:
    """The catalogue model with exactly this ``id``."""
    for m in _catalogue():
        if m.id == model_id:
            return m
    raise ModelNotFoundError(f"no model with id {model_id!r}")


def resolve_model(name: str) -> ModelSpec:
    """Find a model by id, unambiguous short name or prefix of either, or by file path.

    ``resolve_model("domino")`` -> the Domino model; a path ending in ``.toml`` loads that file.
    Raises :class:`~ketasim.errors.ModelNotFoundError` naming the candidates when ambiguous.
    """
    if name.endswith(".toml") or "/" in name:
        return load_model_file(name)
    key = name.strip().lower()
    models = _catalogue()
    exact = [m for m in models if m.id == key or key in (s.lower() for s in m.short_names)]
    if len(exact) == 1:
        return exact[0]
    candidates = exact or [
        m
        for m in models
        if m.id.startswith(key) or any(s.lower().startswith(key) for s in m.short_names)
    ]
    if len(candidates) == 1:
        return candidates[0]
    known = ", ".join(m.id for m in models)
    if not candidates:
        raise ModelNotFoundError(f"unknown model {name!r}; known models: {known}")
    raise ModelNotFoundError(
        f"{name!r} is ambiguous; it matches {', '.join(m.id for m in candidates)}"
    )
