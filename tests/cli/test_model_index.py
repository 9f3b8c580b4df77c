"""The cached cards of ``ketasim models`` equal a fresh validation, and any change misses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ketasim.catalogue import available_models
from ketasim.catalogue.card import model_summary
from ketasim.cli import app
from ketasim.cli._model_index import cache_path, catalogue_key, model_cards


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KETASIM_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_cache_hit_equals_fresh_validation(cache: Path) -> None:
    fresh = [model_summary(m) for m in available_models()]
    first = model_cards()  # miss: validated now, written
    path = cache_path(catalogue_key())
    assert path.parent == cache and path.is_file()
    second = model_cards()  # hit
    assert [dict(c.summary) for c in first] == [dict(c.summary) for c in second]
    assert json.loads(json.dumps(fresh)) == [dict(c.summary) for c in second]


def test_a_stale_or_corrupt_cache_is_rebuilt(cache: Path) -> None:
    path = cache_path(catalogue_key())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert [c.id for c in model_cards()] == [m.id for m in available_models()]
    doc = json.loads(path.read_text())
    doc["key"] = "another catalogue"
    doc["cards"] = doc["cards"][:1]
    path.write_text(json.dumps(doc))
    assert len(model_cards()) == len(available_models())  # key mismatch: rebuilt


def test_listing_from_the_cache_matches_the_catalogue(cache: Path) -> None:
    runner = CliRunner()
    for _ in range(2):  # miss, then hit
        out = runner.invoke(
            app, ["models", "--output", "json", "--drug", "racemic", "--weight", "20"]
        )
        assert out.exit_code == 0, out.output
        ids = [c["id"] for c in json.loads(out.stdout)]
        from ketasim.catalogue.select import select_models

        chosen = select_models(drug="racemic", weight_kg=20, population="general")
        assert ids == [m.id for m in chosen]
