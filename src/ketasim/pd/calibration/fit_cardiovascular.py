"""Calibrate the EMPIRICAL cardiovascular model (BP, HR vs ketamine plasma concentration).

Run ``python -m ketasim.pd.calibration.fit_cardiovascular``: prints, for each published summary
in ``cardiovascular_data.csv``, the linear slope (per ng/mL) that reproduces it with the
domino-1982 PK model (typical 70-kg adult, 0.5 mg/kg IV over 40 min), and checks the shape
against the timing findings. The default row's slopes are those stored in
``pd/data/cardiovascular-iv-empirical.toml``.

Why linear and plasma-driven: only the size of the mean peak is reported (no dose-response and
no concentration-response), and the reported timing (peak at 30-40 min of a 40-min infusion,
back to baseline within 1.5 h of the end, Szarmach 2020) leaves no room for a measurable
effect-site delay: a delayed effect would peak after the infusion ends.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.pk import Dose, Regimen, simulate

__all__ = ["CardiovascularCalibration", "calibrate_cardiovascular", "main"]


@dataclass(frozen=True, slots=True)
class CardiovascularCalibration:
    """One calibrated slope and its checks."""

    study: str
    quantity: str
    target: float
    unit: str
    slope_per_ng_per_ml: float
    peak_time_min: float
    fraction_left_90_min_after_end: float
    default: bool
    source: str


def calibrate_cardiovascular() -> list[CardiovascularCalibration]:
    """Slopes reproducing each published mean peak with domino-1982 exposure."""
    text = (resources.files("ketasim.pd.calibration") / "cardiovascular_data.csv").read_text(
        encoding="utf-8"
    )
    t = np.arange(0.0, 240.0 + 0.25, 0.25)
    sim = simulate(
        resolve_model("domino-1982"),
        Patient(weight_kg=70.0),
        Regimen((Dose(0.5, "mg/kg", 0.0, "iv", 40.0),)),
        times_min=t,
    )
    c = sim.concentrations_ng_per_ml["ketamine_plasma"]
    i_peak = int(np.argmax(c))
    left = float(c[np.searchsorted(t, 130.0)] / c[i_peak])
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        target = float(row["value"])
        out.append(
            CardiovascularCalibration(
                row["study"],
                row["quantity"],
                target,
                row["unit"],
                target / float(c[i_peak]),
                float(t[i_peak]),
                left,
                row["default"] == "true",
                row["source"],
            )
        )
    return out


def main() -> None:
    """Print the calibration report."""
    print(
        "EMPIRICAL cardiovascular model (ketasim; not a published PK/PD model): change = "
        "slope x ketamine plasma concentration; exposure: domino-1982, 70 kg, "
        "0.5 mg/kg IV over 40 min"
    )
    rows = calibrate_cardiovascular()
    print(
        f"predicted peak at {rows[0].peak_time_min:g} min (published: 30-40 min); "
        f"{100 * rows[0].fraction_left_90_min_after_end:.0f}% of the peak change remains "
        "90 min after the end of the infusion (published: back to baseline within 1.5 h, "
        "Szarmach 2020)"
    )
    for r in rows:
        flag = "  <- default (pd/data/cardiovascular-iv-empirical.toml)" if r.default else ""
        print(
            f"  {r.study:<24} {r.quantity:<11} target {r.target:>5g} {r.unit:<9} slope "
            f"{r.slope_per_ng_per_ml:.5f} per ng/mL{flag}"
        )
    print(
        "Spread between sources is about 5-fold (definitions differ: mean change at a fixed "
        "time vs each patient's peak); the default uses the only source giving SBP, DBP and "
        "HR together."
    )


if __name__ == "__main__":
    main()
