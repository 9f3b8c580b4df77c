"""The model-file schema is split in two modules; both stay one contract (issue 10 follow-up)."""

from __future__ import annotations

import ast
from pathlib import Path

import ketasim.catalogue.schema as schema
import ketasim.catalogue.sections as sections
from ketasim.cli._model_index import _SOURCES

PACKAGE = Path(schema.__file__).resolve().parents[1]


def test_section_classes_are_importable_from_the_schema_as_before() -> None:
    moved = [n for n in schema.__all__ if n != "ModelSpec"]
    assert len(moved) == 14 and set(moved) <= set(sections.__all__)
    for name in moved:
        assert getattr(schema, name) is getattr(sections, name), name


def test_every_catalogue_module_the_schema_imports_is_in_the_card_cache_key() -> None:
    """A change to a section class must miss the ``ketasim models`` card cache."""
    tree = ast.parse((PACKAGE / "catalogue" / "schema.py").read_text(encoding="utf-8"))
    imported = {
        node.module.rsplit(".", 1)[1]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module is not None
        and node.module.startswith("ketasim.catalogue.")
    }
    assert "sections" in imported
    for module in imported | {"schema"}:
        assert f"catalogue/{module}.py" in _SOURCES, module
