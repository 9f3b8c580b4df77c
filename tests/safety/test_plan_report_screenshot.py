"""The HTML plan report opens in headless Chromium and shows its figures (a screenshot).

Needs /usr/bin/chromium (install with scripts/system-deps.sh); skipped only when it is absent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from ketasim.regimens.protocols import get_protocol
from ketasim.report.plan_report import write_plan_report
from ketasim.safety import default_rules, make_plan, parse_patient_record

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium not installed (run scripts/system-deps.sh)"
)
def test_report_screenshot_in_headless_chromium(tmp_path: Path) -> None:
    record = parse_patient_record(
        {"age_years": 45, "weight_kg": 72, "sbp_mmhg": 124, "dbp_mmhg": 78}, default_rules()
    )
    plan = make_plan(get_protocol("esketamine-trd-us"), record, n_samples=20, rng=1, weeks=2)
    html = write_plan_report(plan, tmp_path / "plan.html")
    png = tmp_path / "plan.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=1200,1600",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert png.exists() and png.stat().st_size > 20_000
    import matplotlib.image

    pixels = np.asarray(matplotlib.image.imread(png))[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    # non-trivial: not blank, many colours (the figures' lines and bands are drawn)
    assert pixels.std() > 0.05
    colours = np.unique((pixels.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 200
    # the esketamine line colour (#1f77b4) of the concentration figure is on screen
    blue = np.all(np.abs(pixels - np.array([0x1F, 0x77, 0xB4]) / 255) < 0.04, axis=-1)
    assert blue.sum() > 200
