"""Malformed model files give an error naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketasim.catalogue import load_model_file, resolve_model
from ketasim.catalogue.loader import load_model_text
from ketasim.errors import ModelError, ModelNotFoundError
from ketasim.expressions import Expression, ExpressionError

DOMINO = (Path(__file__).parents[2] / "src/ketasim/catalogue/data/domino-1982.toml").read_text()


def test_user_model_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(DOMINO.replace('id = "domino-1982"', 'id = "my-copy"'))
    model = resolve_model(str(path))
    assert model.id == "my-copy"
    assert load_model_file(path).parameters["k10"].value == 0.4381


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (('unit = "1/min"', 'unit = "furlongs"'), "parameters.k10.unit"),
        (('rate = "k10"', 'rate = "k10 * NOPE"'), "flows"),
        (('compartment = "central"\n', 'compartment = "nowhere"\n'), "routes"),
        (("[citation]\n", "[citationx]\n"), "citation"),
        (('V1 = "V1_per_kg * WT"', 'V1 = "__import__(1)"'), "derived"),
        (('drug = "racemic ketamine"', 'drug = "caffeine"'), "drug"),
    ],
)
def test_malformed_file_names_file_and_field(change: tuple[str, str], field: str) -> None:
    text = DOMINO.replace(change[0], change[1], 1)
    assert text != DOMINO
    with pytest.raises(ModelError) as info:
        load_model_text(text, origin="broken.toml")
    message = str(info.value)
    assert message.startswith("broken.toml")
    assert field in message


def test_invalid_toml() -> None:
    with pytest.raises(ModelError, match="not valid TOML"):
        load_model_text("id = ", origin="x.toml")


def test_unknown_and_ambiguous_names() -> None:
    with pytest.raises(ModelNotFoundError, match="unknown model 'nope'"):
        resolve_model("nope")
    with pytest.raises(ModelNotFoundError, match="ambiguous"):
        resolve_model("h")  # herd, hijazi, hornik


@pytest.mark.parametrize(
    "text", ["__import__('os')", "a.b", "x[0]", "lambda: 1", "open(1)", "'text'"]
)
def test_expressions_refuse_code(text: str) -> None:
    with pytest.raises(ExpressionError):
        Expression(text)


def test_expression_arithmetic() -> None:
    e = Expression("CL * (WT / 70) ** 0.75 * where(AGE > 60, 0.9, 1.0)")
    assert e.names == {"CL", "WT", "AGE"}
    assert e.evaluate({"CL": 1.5, "WT": 35.0, "AGE": 70.0}) == pytest.approx(1.5 * 0.5**0.75 * 0.9)
