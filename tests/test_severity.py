"""Severity classes by standard (sac.measure.severity): every rule set's numbers and boundaries as its source
states them, the resolution flag, the scale requirement, and the classes in every export and the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from sac.cli import main
from sac.data.io import write_mask_png
from sac.errors import ConfigError
from sac.measure import (
    STANDARDS,
    check_gradable,
    get_standard,
    grade_measurement,
    measure_mask,
    standards_table,
    summary_row,
    write_measurement,
)
from sac.measure.severity import BELOW_RESOLUTION, MIN_RELIABLE_PX

# The published limits, as the module docstring cites them (EN 1992-1-1 Table 7.1N; ACI 224R-01 Table 4.1).
EN = {"x0": 0.4, "xc1": 0.4, "xc2": 0.3, "xc3": 0.3, "xc4": 0.3, "xd1": 0.3, "xd2": 0.3, "xs1": 0.3, "xs2": 0.3,
      "xs3": 0.3, "prestressed": 0.2}
ACI = {"dry-air": 0.41, "humid": 0.30, "deicing": 0.18, "seawater": 0.15, "water-retaining": 0.10}


def _code(key: str, width_mm: float) -> str:
    return get_standard(key).grade(width_mm, width_px=10.0).code


@pytest.mark.parametrize(("family", "limits"), [("en1992-1-1", EN), ("aci224r", ACI)])
def test_limit_standards_at_their_published_values(family, limits):
    assert {k.split(":")[1] for k in STANDARDS if k.startswith(family + ":")} == set(limits)
    for exposure, w in limits.items():
        key = f"{family}:{exposure}"
        assert _code(key, w) == "within"  # "up to w_max" includes the limit itself
        assert _code(key, w + 0.005) == "exceeds"
        assert _code(key, 0.01) == "within"
        assert f"{w:g} mm" in get_standard(key).grade(w, 10.0).label


def test_bre251_categories_at_0_1_1_5_15_25_mm():
    cases = [(0.05, "0"), (0.0999, "0"), (0.1, "1"), (1.0, "1"), (1.01, "2"), (5.0, "2"), (5.5, "3"), (15.0, "3"),
             (15.1, "4"), (25.0, "4"), (25.1, "5"), (80.0, "5")]
    for width, code in cases:
        assert _code("bre251", width) == code, width


def test_narrow_cracks_are_flagged_not_classified():
    std = get_standard("bre251")
    assert std.grade(0.05, width_px=MIN_RELIABLE_PX - 0.1).label == BELOW_RESOLUTION
    assert std.grade(0.05, width_px=MIN_RELIABLE_PX).code == "0"


def test_names_and_scale_are_checked():
    assert get_standard("EN1992-1-1:XC3").key == "en1992-1-1:xc3"  # case-insensitive
    with pytest.raises(ConfigError, match="with an exposure: en1992-1-1:x0"):
        get_standard("en1992-1-1")
    with pytest.raises(ConfigError, match="known: aci224r, bre251, en1992-1-1"):
        get_standard("din1045")
    with pytest.raises(ConfigError, match="need the photo's scale"):
        check_gradable("bre251", None)
    m = np.zeros((60, 60), bool)
    m[20:26, 5:55] = True
    with pytest.raises(ConfigError, match="need the photo's scale"):
        measure_mask(m, standard="bre251")
    rows = standards_table()
    assert len(rows) == len(STANDARDS) and all(r["source"] for r in rows)


def _three_cracks() -> np.ndarray:
    m = np.zeros((200, 200), bool)
    m[30:31, 20:180] = True  # 1 px: below reliable resolution
    m[80:84, 20:180] = True  # 4 px
    m[140:160, 20:180] = True  # 20 px
    return m


def test_measurement_graded_totals_and_regraded():
    meas = measure_mask(_three_cracks(), mm_per_px=0.1, standard="bre251")
    by_width = {round(c.width_p95_px): c.severity for c in meas.cracks}
    assert by_width[1].label == BELOW_RESOLUTION
    assert by_width[4].code == "1" and by_width[4].width_mm == pytest.approx(0.4)
    assert by_width[20].code == "2" and by_width[20].width_mm == pytest.approx(2.0)
    t = meas.totals
    assert list(t["severity_counts"].values()) == [1, 1, 1] and t["worst_severity"].startswith("category 2")
    grade_measurement(meas, "aci224r:water-retaining")  # another rule set, no re-measuring
    assert [c.severity.code for c in sorted(meas.cracks, key=lambda c: c.width_p95_px)] == ["below", "exceeds",
                                                                                           "exceeds"]
    grade_measurement(meas, None)
    assert meas.standard is None and all(c.severity is None for c in meas.cracks)
    assert "worst_severity" not in meas.totals


def test_severity_in_every_export(tmp_path):
    meas = measure_mask(_three_cracks(), mm_per_px=0.1, standard="en1992-1-1:xc3")
    paths = write_measurement(meas, tmp_path, "p", image=np.zeros((200, 200, 3), np.uint8))
    rows = list(csv.DictReader(paths["csv"].open()))
    assert {r["severity_class"] for r in rows} == {"below", "exceeds"}
    doc = json.loads(paths["json"].read_text())
    assert doc["standard"] == "en1992-1-1:xc3" and all("severity" in c for c in doc["cracks"])
    gj = json.loads(paths["geojson"].read_text())
    assert all("severity" in f["properties"] for f in gj["features"])
    row = summary_row(meas, "p")
    assert row["standard"] == "en1992-1-1:xc3" and row["worst_severity"] == "exceeds w_max (0.3 mm)"
    plain = measure_mask(_three_cracks(), mm_per_px=0.1)  # ungraded: no severity columns at all
    rows = list(csv.DictReader(write_measurement(plain, tmp_path / "plain", "p")["csv"].open()))
    assert "severity" not in rows[0]


def test_cli_measure_standard_and_its_errors(tmp_path, capsys):
    write_mask_png(tmp_path / "m.png", _three_cracks())
    assert main(["measure", str(tmp_path / "m.png"), "--mm-per-px", "0.1", "--standard", "bre251"]) == 0
    out = capsys.readouterr().out
    assert "[category 2 - slight (<= 5 mm)]" in out and "graded on the 95th-percentile width" in out
    assert main(["measure", str(tmp_path / "m.png"), "--standard", "bre251"]) == 2
    assert "need the photo's scale" in capsys.readouterr().err
    assert main(["measure", "--list-standards"]) == 0
    assert "aci224r:deicing" in capsys.readouterr().out


def test_cli_predict_standard(tmp_path, capsys):
    from pathlib import Path

    photo = sorted((Path(__file__).resolve().parents[1] / "examples" / "images").glob("*.jpg"))[0]
    out = tmp_path / "pred"
    assert main(["predict", str(photo), "--out", str(out), "--mm-per-px", "0.2", "--standard", "bre251",
                 "--quiet"]) == 0  # --standard implies --measure
    rows = list(csv.DictReader((out / f"{photo.stem}_cracks.csv").open()))
    assert rows and all(r["severity"] for r in rows)
    summary = list(csv.DictReader((out / "summary.csv").open()))
    assert summary[0]["standard"] == "bre251" and summary[0]["worst_severity"]
    capsys.readouterr()
    assert main(["predict", str(photo), "--out", str(out), "--standard", "bre251", "--quiet"]) == 2
    assert "need the photo's scale" in capsys.readouterr().err
