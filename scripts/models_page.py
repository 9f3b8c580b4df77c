"""Write docs/models.md from the model catalogue (run after changing a model file).

Run: .venv/bin/python scripts/models_page.py        (tests check the page is current)
"""

from __future__ import annotations

import sys
from pathlib import Path

from ketasim.catalogue import available_models
from ketasim.catalogue.schema import ModelSpec, Studied

PAGE = Path(__file__).resolve().parents[1] / "docs" / "models.md"


def _card(m: ModelSpec) -> list[str]:
    c = m.citation
    ids = ", ".join(
        x for x in (f"DOI {c.doi}" if c.doi else "", f"PMID {c.pmid}" if c.pmid else "") if x
    )
    lines = [
        f"## {m.id}",
        "",
        f"**{m.title}**",
        "",
        f"- Drug: {m.drug}; analytes: {', '.join(m.analyte_names)}; routes: "
        f"{', '.join(m.route_names)}; sampling: {m.sampling}",
        f"- Short names: {', '.join(f'`{s}`' for s in m.short_names)}",
        f"- Population: {m.population}",
        f"- Citation: {c.text}" + (f" ({ids})" if ids else ""),
        f"- Verified: {c.verified}",
    ]
    if m.validity:
        lines.append(
            "- Validated ranges: " + "; ".join(f"{k} {r.describe()}" for k, r in m.validity.items())
        )
    else:
        lines.append("- Validated ranges: none stated in the sources read")
    for e in m.effect_sites:
        kind = "assumed (not from a PK/PD study)" if e.assumed else "published"
        lines.append(f"- Effect site ({e.analyte}): ke0 `{e.ke0}`, {kind}: {e.source}")
    if m.evidence:
        lines.append(f"- Evidence: {m.evidence}")
    for st in m.studied:
        lines.append(f"- Studied regimen: {_studied(st)} ({st.source})")
    lines.append(
        f"- Inter-individual variability: "
        f"{', '.join(sorted(m.iiv)) if m.iiv else 'none published'}; residual error: "
        f"{', '.join(sorted(m.residual_error)) if m.residual_error else 'none published'}"
    )
    if m.iov:
        lines.append(
            "- Inter-occasion variability (omega^2 per occasion): "
            + ", ".join(f"{name} {entry.variance():g}" for name, entry in m.iov.items())
        )
    lines += ["", "| parameter | value | unit | source |", "|---|---|---|---|"]
    for name, p in m.parameters.items():
        lines.append(f"| {name} | {p.value:g} | {p.unit or '-'} | {p.source} |")
    if m.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in m.notes]
    return [*lines, ""]


def _studied(st: Studied) -> str:
    parts = [st.route] + ([st.regimen] if st.regimen != "any" else [])
    for label, rng in (
        ("mg", st.dose_mg),
        ("mg/kg", st.dose_mg_per_kg),
        ("mg/kg/h", st.rate_mg_per_kg_per_h),
    ):
        if rng is not None:
            parts.append(f"{rng.describe()} {label}")
    return " ".join(parts)


def render() -> str:
    """The whole page as text."""
    models = available_models()
    lines = [
        "# Model catalogue",
        "",
        "Generated from `src/ketasim/catalogue/data/` by `scripts/models_page.py`; do not "
        "edit by hand.",
        "",
        "| id | drug | analytes | routes | citation |",
        "|---|---|---|---|---|",
    ]
    for m in models:
        ref = m.citation.doi or (f"PMID {m.citation.pmid}" if m.citation.pmid else "")
        lines.append(
            f"| [{m.id}](#{m.id}) | {m.drug} | {', '.join(m.analyte_names)} | "
            f"{', '.join(m.route_names)} | {ref} |"
        )
    lines.append("")
    for m in models:
        lines += _card(m)
    return "\n".join(lines)


def main() -> int:
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(render(), encoding="utf-8")
    print(f"wrote {PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
