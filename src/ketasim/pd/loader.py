"""Loading PD model files: the packaged ones (``pd/data/*.toml``) or a user's own file."""

from __future__ import annotations

from functools import cache
from importlib import resources

from ketasim.datafiles import load_validated_toml
from ketasim.errors import ModelError, ModelNotFoundError
from ketasim.pd.schema import PDModelSpec

__all__ = ["available_pd_models", "load_pd_text", "resolve_pd_model"]


def load_pd_text(text: str, *, origin: str) -> PDModelSpec:
    """Parse and validate PD model TOML ``text``; errors name ``origin`` and the field."""
    return load_validated_toml(text, PDModelSpec, origin=origin)


@cache
def _packaged() -> tuple[PDModelSpec, ...]:
    folder = resources.files("ketasim.pd") / "data"
    models = [
        load_pd_text(e.read_text(encoding="utf-8"), origin=f"pd/data/{e.name}")
        for e in sorted(folder.iterdir(), key=lambda e: e.name)
        if e.name.endswith(".toml")
    ]
    ids = [m.id for m in models]
    if len(set(ids)) != len(ids):
        raise ModelError("pd/data: duplicate PD model ids")
    return tuple(models)


def available_pd_models() -> list[PDModelSpec]:
    """All packaged PD models, sorted by id."""
    return list(_packaged())


def resolve_pd_model(name: str) -> PDModelSpec:
    """A packaged PD model by id or short name (a user file: :func:`load_pd_text`)."""
    key = name.strip().lower()
    for m in _packaged():
        if key == m.id or key in m.short_names:
            return m
    known = ", ".join(m.id for m in _packaged())
    raise ModelNotFoundError(f"no PD model {name!r}; available: {known}", field="pd_model")
