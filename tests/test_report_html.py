"""The HTML report: one self-contained page that fetches nothing, escapes every user string,
shows every column, scores pairs as report.json does, survives missing sections, and
renders in a real browser.

The browser test needs Chromium (Debian: `apt-get install -y chromium`; .ci/run installs
it). Without it the test fails: a report nobody has seen render is not tested."""

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthvae.evaluation.fidelity import score
from synthvae.report.html import REAL, SYNTHETIC, render_report, write_report

DATA = Path(__file__).resolve().parents[1] / "data"
XSS = "<script>alert(1)</script>"
XSS_VALUE = '<img src=x onerror="alert(2)">&amp;'


# ---------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def adult():
    """5,000 real Adult rows and a stand-in synthetic table: resampled real rows, ages
    jittered and 5% of workclass values shuffled, so real and synthetic differ a little."""
    real = pd.read_csv(DATA / "adult.csv.gz").sample(5000, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(1)
    synthetic = real.sample(6000, replace=True, random_state=1).reset_index(drop=True)
    synthetic["age"] = (synthetic["age"] + rng.integers(-2, 3, len(synthetic))).clip(17, 90)
    flip = rng.random(len(synthetic)) < 0.05
    synthetic.loc[flip, "workclass"] = rng.permutation(synthetic.loc[flip, "workclass"].to_numpy())
    return real, synthetic


def _privacy_report(failing: bool = False) -> dict:
    """The shape synthvae.evaluation.privacy.privacy_report returns (figures from a real run)."""
    attack = {
        "risk": 0.0048,
        "ci": [0.0, 0.0436],
        "attack_rate": 0.1683,
        "control_rate": 0.1643,
        "baseline_rate": 0.0806,
        "attacks": 1000,
        "successes": 167.0,
        "control_attacks": 1000,
        "control_successes": 163.0,
        "baseline_successes": 79.0,
        "p_value": 0.39,
        "seconds": 0.17,
    }
    return {
        "sdmetrics": {
            "dcr_baseline_protection": {
                "score": 0.1947,
                "median_dcr_synthetic": 0.0817,
                "median_dcr_random": 0.4194,
                "seconds": 3.3,
                "rows": {"synthetic": 500, "random": 500, "train": 750},
            },
            "dcr_overfitting_protection": {
                "score": 0.71 if failing else 1.0,
                "closer_to_training": 0.498,
                "closer_to_holdout": 0.502,
                "seconds": 2.6,
            },
            "new_row_synthesis": {"score": 1.0, "new_rows": 200, "matched_rows": 0},
            "disclosure_protection": {
                "age": {
                    "score": 0.8437,
                    "cap_protection": 0.7593,
                    "baseline_protection": 0.9,
                    "known_columns": ["income", "relationship", "marital-status"],
                },
            },
            "seconds": 12.68,
        },
        "closer_to_training": {
            "share": 0.8575 if failing else 0.7982,
            "expected": 0.8,
            "protection": 0.71 if failing else 1.0,
            "p_value": 1e-9 if failing else 0.61,
            "rows": {"train": 1500, "holdout": 375, "synthetic": 2000},
            "seconds": 0.4,
        },
        "exact_copies": {
            "synthetic_copies": 0,
            "synthetic_copy_rate": 0.0,
            "holdout_copies": 0,
            "holdout_copy_rate": 0.0,
            "training_repeat_rate": 0.0,
            "control_copy_rate": 0.0,
            "excess_copy_rate": 0.0,
            "p_value": 1.0,
            "seconds": 0.08,
        },
        "attacks": {
            "singling_out_univariate": attack | {"risk": 0.0, "ci": [0.0, 0.0038]},
            "singling_out_multivariate": attack,
            "linkability": {
                "risk": None,
                "ci": None,
                "skipped": "linkability needs two columns or more",
            },
            "inference": {"age": attack | ({"risk": 0.25, "ci": [0.2, 0.3], "p_value": 1e-6}
                                           if failing else {"ci": [0.0, 0.055]})},
            "seconds": 0.5,
        },
        "membership_inference": {
            "auc": 0.4856,
            "auc_ci": [0.4588, 0.5139],
            "dcr_mean_train": 0.8305,
            "dcr_mean_holdout": 0.7958,
            "bootstrap_rounds": 500,
            "p_value": 0.82,
            "seconds": 0.9,
        },
        "sensitive": ["age"],
        "random_state": 0,
        "rows": {"train": 1500, "holdout": 1500, "synthetic": 3000},
        "seconds": 14.1,
    }


THRESHOLDS = {
    "dcr_overfitting_protection_min": 0.9,
    "exact_copy_rate_max_over_holdout": 0.0,
    "attack_risk_max": 0.1,
    "membership_auc_max": 0.6,
    "false_alarm_rate": 0.002,
}


def _report(failing: bool = False) -> dict:
    """A report.json as flows.generate writes it, with the coming privacy sections."""
    failures = []
    if failing:
        failures = [
            {
                "name": "closer_to_training.protection",
                "value": 0.71,
                "threshold": 0.9,
                "rule": ">=",
                "by": 0.19,
                "p_value": 1e-9,
                "p_needed": 0.0004,
            },
            {
                "name": "attacks.inference.age.risk",
                "value": 0.25,
                "threshold": 0.1,
                "rule": "<=",
                "by": 0.15,
                "p_value": 1e-6,
                "p_needed": 0.0004,
            },
        ]
    return {
        "rows": 6000,
        "seed": 0,
        "format": "parquet",
        "output": "/tmp/runs/adult",
        "files": {"synthetic": "synthetic.parquet", "report": "report.json", "model": "model/"},
        "input": {
            "path": "/data/adult.csv.gz",
            "rows": 32561,
            "sha256": "f69148e3f55c4f81456b6b6ae04c38ada1485ad8388d141056264abacb037e50",
        },
        "schema": {"path": "/schemas/adult.yaml", "inferred": False},
        "holdout_fraction": 0.2,
        "train_rows": 26049,
        "holdout_rows": 6512,
        "fit": {
            "epochs_run": 78,
            "epochs_max": 78,
            "seconds": 137.88,
            "best_val_loss": 15.1094,
            "column_kinds": {"age": "numeric", "education-num": "discrete"},
        },
        "quality": 0.9936,
        "column_shapes": 0.9957,
        "column_pair_trends": 0.9915,
        "ml_efficacy": {"score": 0.9312, "real_f1": 0.81, "synthetic_f1": 0.754},
        "columns": {"age": 0.9952, "workclass": 0.9936, "hours-per-week": 0.9891},
        "pairs_worst": [
            {
                "columns": ["workclass", "occupation"],
                "metric": "ContingencySimilarity",
                "score": 0.9835,
            }
        ],
        "pairs_counted": 13,
        "pairs_total": 105,
        "privacy": {"dcr_ratio": 1.0598, "synthetic_copies": 0, "holdout_copies": 8},
        "privacy_report": _privacy_report(failing),
        "privacy_gate": {"thresholds": THRESHOLDS, "failures": failures, "passed": not failing},
        "timings": {"load": 0.1, "fit": 137.98, "sample": 2.53, "score": 2.38, "total": 143.7},
        "versions": {"python": "3.11.7", "synthvae": "0.1.0", "numpy": "2.4.6"},
        "model": {"latent_dim": 32, "hidden_dim": 256, "beta": 1.0},
        "some_future_field": {"nested": [1, 2, 3]},
    }


def _wide(n_rows: int, seed: int) -> pd.DataFrame:
    """69 columns of every kind: nulls, an all-null and a constant column, dates, ids,
    free text, 120-value categories, hostile names and values."""
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(40):
        x = rng.normal(i, 1 + i % 5, n_rows)
        x[rng.random(n_rows) < 0.1 * (i % 3)] = np.nan
        cols[f"num_{i:02d}"] = x
    for i in range(12):
        cols[f"cat_{i:02d}"] = pd.Series(rng.choice([f"v{k}" for k in range(3 + 10 * i)], n_rows))
    cols["wide_cat"] = rng.choice([f"value {k}" for k in range(120)], n_rows)
    cols["flag"] = rng.random(n_rows) < 0.3
    cols["when"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n_rows), "D")
    cols["when_text"] = cols["when"].astype(str).where(rng.random(n_rows) < 0.9, None)
    cols["row_id"] = [f"id-{seed}-{k}" for k in range(n_rows)]
    cols["comment"] = [f"free text number {k} " * 3 for k in rng.integers(0, 10**6, n_rows)]
    cols["always_7"] = 7
    cols["all_null"] = np.nan
    cols["small_int"] = rng.integers(0, 5, n_rows)
    cols[XSS] = rng.choice([XSS_VALUE, "plain", "ünïcødé ✓"], n_rows)
    cols[1234] = rng.integers(0, 100, n_rows)  # a column whose name is not a string
    cols["capital"] = np.where(rng.random(n_rows) < 0.9, 0, rng.integers(1, 99999, n_rows))
    # Other pandas dtypes: category, tz-aware dates, nullable integers, Arrow strings, lists.
    cols["cat_dtype"] = pd.Categorical(rng.choice(["a", "b", "c"], n_rows))
    cols["when_paris"] = pd.Series(cols["when"]).dt.tz_localize("Europe/Paris")
    cols["nullable_int"] = pd.array(
        np.where(rng.random(n_rows) < 0.2, None, rng.integers(0, 1000, n_rows)), dtype="Int64"
    )
    cols["arrow_text"] = pd.Series(rng.choice(["x", "y", None], n_rows), dtype="string[pyarrow]")
    cols["lists"] = [[int(k), "z"] for k in rng.integers(0, 4, n_rows)]
    return pd.DataFrame(cols)


@pytest.fixture(scope="module")
def wide():
    return _wide(3000, 0), _wide(2500, 1)


WIDE_KINDS = {"row_id": "id", "comment": "text", "when_text": "datetime", "flag": "boolean"}


@pytest.fixture(scope="module")
def wide_page(wide):
    real, synthetic = wide
    return render_report(_report(failing=True), real, synthetic, kinds=WIDE_KINDS)


@pytest.fixture(scope="module")
def adult_page(adult):
    real, synthetic = adult
    return render_report(_report(), real, synthetic)


def _cards(page: str) -> list[str]:
    return re.findall(r'<div class="card" id="c\d+">.*?</ul></div>', page, flags=re.DOTALL)


# ---------------------------------------------------------------------------------------
# Content


def test_page_shows_scores_privacy_gate_columns_pairs_and_provenance(adult, adult_page):
    page = adult_page
    for section in ("summary", "privacy", "columns", "pairs", "provenance"):
        assert f'<section id="{section}">' in page
    for text in (
        "0.9936",
        "0.9957",
        "0.9915",
        "ML efficacy",
        "0.9312",
        "PASSED",
        "f69148e3f55c4f81456b6b6ae04c38ada1485ad8388d141056264abacb037e50",
        "/schemas/adult.yaml",
        "/data/adult.csv.gz",
        "latent_dim",
        "137.98 s",
        "3.11.7",
        "some_future_field",
        "ContingencySimilarity",
        "Cramér&#x27;s V",
        "Pearson r",
        "DCRBaselineProtection",
        "singling_out_multivariate",
    ):
        assert text in page, text
    # Every gated figure with its threshold and verdict; the skipped attack says why.
    for figure in (
        "closer_to_training.protection",
        "exact_copies.excess_copy_rate",
        "membership_inference.auc",
        "attacks.singling_out_univariate.risk",
        "attacks.inference.age.risk",
    ):
        row = re.search(rf"<tr><td>{re.escape(figure)}</td>.*?</tr>", page)
        assert row and "pass" in row.group(0) and ("≤" in row.group(0) or "≥" in row.group(0))
    assert "skipped: linkability needs two columns or more" in page
    real, _ = adult
    cards = _cards(page)
    assert len(cards) == len(real.columns)
    for name, card in zip(real.columns, cards):
        assert f'<h3 title="{name}">{name}</h3>' in card
        assert "<svg" in card  # every Adult column is plotted
    assert page.count('<rect x="') > 500  # bars, histogram bins, heat-map cells


def test_failed_gate_names_each_failure(wide_page):
    assert ">FAILED<" in wide_page
    for figure, by in (
        ("closer_to_training.protection", "0.19"),
        ("attacks.inference.age.risk", "0.15"),
    ):
        row = re.search(rf"<tr><td>{re.escape(figure)}</td>.*?</tr>", wide_page).group(0)
        assert "FAIL" in row and by in row and "1e-" in row  # with the p-value behind it


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_fetches_nothing(wide_page, adult_page):
    for page in (wide_page, adult_page):
        assert "http://" not in page and "https://" not in page
        parser = _Tags()
        parser.feed(page)
        tags = {tag for tag, _ in parser.tags}
        assert not tags & {
            "script",
            "link",
            "img",
            "image",
            "iframe",
            "object",
            "embed",
            "video",
            "audio",
            "source",
            "use",
            "form",
            "base",
        }, tags
        for tag, attrs in parser.tags:
            assert not {"src", "srcset", "xlink:href", "action", "background"} & set(attrs)
            assert attrs.get("href", "#").startswith("#"), (tag, attrs)
            assert "url(" not in (attrs.get("style") or ""), (tag, attrs)
            assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "url(" not in page and "@import" not in page
        csp = [a for t, a in parser.tags if a.get("http-equiv") == "Content-Security-Policy"]
        assert csp and "default-src 'none'" in csp[0]["content"]


def test_every_column_appears_and_user_strings_are_escaped(wide, wide_page):
    real, _ = wide
    cards = _cards(wide_page)
    assert len(cards) == len(real.columns) == 69
    for name, card in zip(real.columns, cards):
        assert f'<h3 title="{_esc(name)}">{_esc(name)}</h3>' in card
    # The hostile column name and value appear only escaped.
    assert XSS not in wide_page and "<script" not in wide_page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in wide_page
    assert "<img" not in wide_page and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in wide_page
    assert "ünïcødé ✓" in wide_page


def _esc(name) -> str:
    return escape(str(name), quote=True)


def test_edge_columns(wide, wide_page):
    real, _ = wide
    cards = dict(zip(map(str, real.columns), _cards(wide_page)))
    for name in ("row_id", "comment", "always_7", "all_null"):
        assert "<svg" not in cards[name], name  # listed, not plotted
    assert "id column: not plotted" in cards["row_id"]
    assert "text column: not plotted" in cards["comment"]
    assert "constant: 7" in cards["always_7"]
    assert "all values null" in cards["all_null"]
    for name in (
        "num_01",
        "when",
        "when_text",
        "wide_cat",
        "flag",
        "small_int",
        "1234",
        "cat_dtype",
        "when_paris",
        "nullable_int",
        "arrow_text",
        "lists",
    ):
        assert "<svg" in cards[name], name
    assert "other (105 values)" in cards["wide_cat"]  # 120 values: top 15 and the rest
    assert "(null)" in cards["when_text"] or "null: real" in cards["when_text"]
    assert "2020-" in cards["when"] and "2020-" in cards["when_text"]  # date ticks
    assert "null: real" in cards["num_01"]
    assert ">datetime<" in cards["when_text"] and ">boolean<" in cards["flag"]
    # No report score for these columns: the page's own 1 − KS / 1 − TVD instead.
    assert "≈" in cards["num_00"] and "≈" in cards["cat_03"]


def test_missing_sections_degrade_gracefully(wide):
    real, synthetic = wide
    real, synthetic = real.iloc[:500], synthetic.iloc[:400]
    empty = render_report({}, real, synthetic)
    assert "not run" in empty and "No privacy figures" in empty and "not in the report" in empty
    assert len(_cards(empty)) == len(real.columns)
    report = _report()
    del report["privacy_report"]  # a gate without the figures behind it
    page = render_report(report, real, synthetic)
    assert "PASSED" in page and "no privacy_report section" in page
    report = _report(failing=True)
    del report["privacy_gate"]  # figures, no gate
    page = render_report(report, real, synthetic)
    assert "figures are not judged" in page and "not judged" in page
    odd = {
        "quality": None,
        "columns": None,
        "privacy": None,
        "fit": "?",
        "timings": {},
        "privacy_report": {"attacks": {"inference": {}}, "sdmetrics": {}},
        "privacy_gate": {"passed": False, "failures": [{"name": "new.figure", "value": None}]},
    }
    page = render_report(odd, real, synthetic)
    assert "new.figure" in page and "(not measured)" in page
    # Tables that differ in columns, and tables without rows.
    page = render_report({}, real.drop(columns=["num_00"]), synthetic.drop(columns=["cat_00"]))
    assert "missing from the synthetic table" in page and "only in the synthetic table" in page
    assert "<section" in render_report({}, real, synthetic.iloc[:0])
    assert "<section" in render_report({}, real.iloc[:0], synthetic)


def test_bad_arguments_are_refused(wide):
    real, synthetic = wide
    with pytest.raises(ValueError, match="max_rows"):
        render_report({}, real, synthetic, max_rows=0)
    with pytest.raises(ValueError, match="repeats column names"):
        render_report({}, pd.concat([real[["num_00"]]] * 2, axis=1), synthetic)


def test_write_report_is_atomic(tmp_path, wide):
    real, synthetic = (frame.iloc[:300] for frame in wide)
    path = write_report(tmp_path / "run" / "report.html", _report(), real, synthetic)
    assert path == tmp_path / "run" / "report.html" and path.read_text().startswith("<!DOCTYPE")
    assert write_report(tmp_path / "run", {}, real, synthetic) == path  # a directory
    before = path.read_text()
    repeated = pd.concat([real[["num_00"]]] * 2, axis=1)  # rendering it raises
    with pytest.raises(ValueError):
        write_report(path, {}, repeated, synthetic)
    assert path.read_text() == before  # a failed write leaves the last page
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]  # no temp files


def test_pair_scores_on_the_page_are_the_reports(adult):
    """Given the tables the run scored, every pair score the page computes is the one
    report.json has: the same statistic on the same rows."""
    real, synthetic = (frame.iloc[:3000] for frame in adult)
    report = score(real, synthetic, seed=3, max_rows=2000) | {"seed": 3}
    worst = report.pop("pairs_worst")
    assert len(worst) == 5
    page = render_report(report, real, synthetic)
    for pair in worst:
        a, b = pair["columns"]
        tip = re.search(rf"<title>{re.escape(a)} × {re.escape(b)}: (\w+) ([0-9.]+) \(", page)
        assert tip and tip.groups() == (pair["metric"], f"{pair['score']:g}"), (pair, tip)
    # The pairs the report averages are drawn as full squares, the others inset.
    assert "Full squares: the pairs column_pair_trends averages" in page
    assert page.count("averaged in column_pair_trends") == report["pairs_counted"]


def test_pair_scores_the_report_lists_are_shown_as_it_has_them(adult):
    real, synthetic = (frame.iloc[:1000] for frame in adult)
    report = {"pairs_worst": [{"columns": ["workclass", "occupation"],
                               "metric": "ContingencySimilarity", "score": 0.1234}]}
    page = render_report(report, real, synthetic)
    assert re.search(r"<title>workclass × occupation: ContingencySimilarity 0.1234 "
                     r"\(from report.json\)", page)
    row = re.search(r"<tr><td>workclass</td><td>occupation</td>.*?</tr>", page).group(0)
    assert "0.1234" in row and "≈" not in row  # first of the lowest, with the report's score
    assert re.search(r"<td class=num>≈0\.\d+</td>", page)  # the others: computed here


def test_model_parameters_come_from_the_model_dir_given(tmp_path, wide):
    """A run renders its page while the model is still in its staging folder: with
    model_dir the page reads the parameters there and names the model's published place."""
    real, synthetic = (frame.iloc[:200] for frame in wide)
    staging = tmp_path / ".staging-run" / "model"
    staging.mkdir(parents=True)
    saved = {"params": {"latent_dim": 7, "column_kinds": {"num_00": "numeric"}},
             "model_config": {"hidden_dim": 48}, "train_config": {"batch_size": 96},
             "encoders": {"num_00": {}}}
    (staging / "synthesizer.json").write_text(json.dumps(saved))
    report = {"output": str(tmp_path / "run"), "files": {"model": "model/"}}
    before = render_report(report, real, synthetic)
    assert '<h3>Model parameters</h3><p class="muted">not in the report</p>' in before
    path = write_report(tmp_path / "report.html", report, real, synthetic, model_dir=staging)
    page = path.read_text()
    section = re.search(r"<h3>Model parameters</h3>.*?<h3>", page, flags=re.DOTALL).group(0)
    published = tmp_path / "run" / "model" / "synthesizer.json"
    assert f"from {escape(str(published))}" in section
    for text in ("latent_dim", ">7<", "hidden_dim", ">48<", "batch_size", ">96<"):
        assert text in section, text
    assert "column_kinds" not in section and "encoders" not in section
    # Without a published place (a withheld run), the folder read is named.
    page = render_report({}, real, synthetic, model_dir=staging)
    assert f"from {escape(str(staging / 'synthesizer.json'))}" in page and "latent_dim" in page
    missing = render_report(report, real, synthetic, model_dir=tmp_path / "none")
    assert '<h3>Model parameters</h3><p class="muted">not in the report</p>' in missing


# ---------------------------------------------------------------------------------------
# In a browser


def _chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.fail(
        "Chromium is needed to test the HTML report in a browser and is not installed: "
        "run `apt-get install -y chromium` (Debian; .ci/run does this in CI), or set "
        "CHROMIUM to a Chrome/Chromium binary."
    )


def _read_png(path: Path) -> np.ndarray:
    """A 8-bit RGB or RGBA, non-interlaced PNG as an (h, w, channels) array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour)
        elif kind == b"IDAT":
            idat.append(body)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:  # Up
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + (left + prev[i]) // 2) & 255
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height, width, bpp)


def test_page_renders_in_headless_chromium(tmp_path, adult):
    chromium = _chromium()
    real, synthetic = adult
    page = write_report(tmp_path / "report.html", _report(failing=True), real, synthetic)
    shot = tmp_path / "screenshot.png"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert shot.exists() and shot.stat().st_size > 0, done.stderr[-2000:]
    pixels = _read_png(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    colours = (pixels.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])).ravel()
    values, counts = np.unique(colours, return_counts=True)
    assert len(values) >= 50, f"only {len(values)} colours: a blank or unstyled page"
    assert counts.max() / colours.size < 0.9, "one colour covers over 90% of the page"
    for colour in (REAL, SYNTHETIC, "#c62828"):  # the bars' colours and the FAILED verdict
        rgb = np.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)])
        near = np.abs(pixels.astype(int) - rgb).max(axis=-1) <= 8
        assert near.sum() > 200, f"{colour} is missing: the plots did not render"
    copy = os.environ.get("SYNTHVAE_REPORT_SCREENSHOT")  # keep the screenshot to look at
    if copy:
        shutil.copyfile(shot, copy)
