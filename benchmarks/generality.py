"""Generality check: synthvae's defaults on real tables unlike Adult.

    python benchmarks/generality.py [--only NAME ...]

Each table is built from real rows (the bundled Adult split, transformed) to carry one of the
hard column kinds: datetimes, many correlated nulls, ids, names, high-cardinality categories,
constant/all-null/boolean columns, a wide table and a small one. For each it fits
`Synthesizer(random_state=0)` with defaults, then prints: fit seconds; quality of the
synthetic rows against the training split next to the quality of the table's own real
holdout (the bar: within 0.05); the DCR ratio (bar: >= 1.0); and structural checks (every
column back with its name, order and dtype; ids unique and never copied; names never copied;
numeric bounds kept).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthvae import Synthesizer  # noqa: E402
from synthvae.evaluation.fidelity import distance_to_closest_record, quality, sdmetrics_metadata  # noqa: E402

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
         "Sarah", "Charles", "Karen", "Wei", "Aisha", "Carlos", "Yuki", "Olga", "Kwame", "Priya"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
        "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
        "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Clark",
        "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker"]


def adult(n: int, seed: int) -> pd.DataFrame:
    df = pd.read_csv(ROOT / "data" / "adult.csv.gz")
    return df.sample(n, random_state=seed).reset_index(drop=True) if n < len(df) else df


def with_datetimes(rng) -> pd.DataFrame:
    df = adult(12_000, 1)
    # A birth date consistent with age, and an event timestamp: ISO strings and a datetime64.
    birth = pd.Timestamp("1994-07-01") - pd.to_timedelta(df["age"] * 365.25 + rng.integers(0, 365, len(df)), unit="D")
    df.insert(1, "birth_date", birth.dt.strftime("%Y-%m-%d"))
    seconds = rng.integers(0, 365 * 86400, len(df))
    df["interviewed_at"] = pd.Series(pd.Timestamp("2013-01-01") + pd.to_timedelta(seconds, unit="s")).dt.strftime("%Y-%m-%d %H:%M:%S")
    df["recorded"] = pd.Timestamp("2014-01-01") + pd.to_timedelta(df["hours-per-week"] * 3 + rng.integers(0, 30, len(df)), unit="D")
    return df


def with_many_nulls(rng) -> pd.DataFrame:
    df = adult(12_000, 2)
    women = df["sex"].eq("Female").to_numpy()
    # Nullness tied to other columns: 50-99% missing.
    df["maiden_name_len"] = np.where(women & (rng.random(len(df)) < 0.6), rng.integers(3, 12, len(df)), np.nan)
    df["gain_detail"] = df["capital-gain"].where(df["capital-gain"] > 0)              # ~92% null
    df["loss_detail"] = df["capital-loss"].where(df["capital-loss"] > 0).astype("Int64")  # ~95% null
    df["union"] = np.where(df["workclass"].eq("Federal-gov") | (rng.random(len(df)) < 0.01), "member", None)
    return df


def with_ids_and_names(rng) -> pd.DataFrame:
    df = adult(10_000, 3)
    df.insert(0, "person_id", rng.permutation(len(df)) + 100_000)
    df.insert(1, "customer_code", [f"CUST-{i:06d}" for i in rng.permutation(len(df))])
    first = np.where(df["sex"].eq("Female"), rng.choice(FIRST[1::2], len(df)), rng.choice(FIRST[0::2], len(df)))
    df.insert(2, "full_name", pd.Series(first) + " " + rng.choice(LAST, len(df)))
    return df


def with_high_cardinality(rng) -> pd.DataFrame:
    df = adult(15_000, 4)
    # ~2,000 levels: occupation x native-country x an age band, a real-world-like long tail.
    df["job_place"] = df["occupation"].fillna("?") + "/" + df["native-country"].fillna("?") + "/" + (df["age"] // 5).astype(str)
    df["zip3"] = (df["fnlwgt"] // 1000).astype(str).str.zfill(4)
    return df


def with_odd_columns(rng) -> pd.DataFrame:
    df = adult(8_000, 5)
    df["dataset"] = "census-1994"
    df["always_missing"] = np.nan
    df["is_married"] = df["marital-status"].str.startswith("Married")
    df["hours_bounded"] = df["hours-per-week"].clip(20, 60)
    df["ratio"] = (df["education-num"] / 16).round(3)
    return df


def wide(rng) -> pd.DataFrame:
    df = adult(10_000, 6)
    out = df.copy()
    for i in range(3):  # 15 columns x 4 = 60 columns: real columns plus noisy derived copies
        for c in df.columns:
            v = df[c]
            if pd.api.types.is_numeric_dtype(v):
                out[f"{c}_{i}"] = (v * (1 + 0.1 * rng.standard_normal(len(v)))).round().astype("int64")
            else:
                out[f"{c}_{i}"] = v.where(rng.random(len(v)) > 0.2, v.sample(frac=1, random_state=i).to_numpy())
    return out


def small(rng) -> pd.DataFrame:
    return adult(400, 7)


TABLES = {"datetimes": with_datetimes, "many_nulls": with_many_nulls, "ids_names": with_ids_and_names,
          "high_cardinality": with_high_cardinality, "odd_columns": with_odd_columns,
          "wide": wide, "small": small}


def structural_checks(real: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, str]) -> list[str]:
    problems = []
    if list(synth.columns) != list(real.columns):
        problems.append("columns differ")
    bad = [c for c in real.columns if synth[c].dtype != real[c].dtype]
    if bad:
        problems.append(f"dtypes differ: {bad}")
    for c, k in kinds.items():
        if k == "id" and (synth[c].duplicated().any() or synth[c].isin(real[c]).any()):
            problems.append(f"id {c} duplicated or copied")
        if k == "text" and synth[c].dropna().isin(real[c].dropna()).any():
            problems.append(f"text {c} copied")
        if k == "numeric":
            lo, hi = real[c].min(), real[c].max()
            if (synth[c].dropna() < lo).any() or (synth[c].dropna() > hi).any():
                problems.append(f"{c} out of [{lo}, {hi}]")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(TABLES))
    args = parser.parse_args()
    rows = []
    for name in args.only or TABLES:
        rng = np.random.default_rng(0)
        table = TABLES[name](rng)
        holdout = table.sample(frac=0.2, random_state=0)
        train = table.drop(holdout.index).reset_index(drop=True)
        start = time.perf_counter()
        model = Synthesizer(random_state=0).fit(train)
        fit_s = time.perf_counter() - start
        synth = model.sample(len(train))
        kinds = model.column_kinds_
        md = sdmetrics_metadata(train, kinds)
        q_syn = quality(train, synth, md)["quality"]
        q_real = quality(train, holdout, md)["quality"]
        dcr = distance_to_closest_record(train, synth, holdout, md)["dcr_ratio"]
        problems = structural_checks(train, synth, kinds)
        ok = fit_s <= 300 and q_syn >= q_real - 0.05 and dcr >= 1.0 and not problems
        rows.append((name, train.shape, round(fit_s, 1), q_syn, q_real, dcr, problems, ok))
        print(f"{name}: {train.shape} fit {fit_s:.1f}s quality {q_syn} (holdout {q_real}) "
              f"dcr {dcr} {'PASS' if ok else 'FAIL'} {problems or ''}", flush=True)
    print("\n| table | rows x cols | fit s | quality | real holdout quality | DCR ratio | checks | bar |")
    print("|---|---|---|---|---|---|---|---|")
    for name, shape, fit_s, q_syn, q_real, dcr, problems, ok in rows:
        print(f"| {name} | {shape[0]} x {shape[1]} | {fit_s} | {q_syn} | {q_real} | {dcr} | "
              f"{'; '.join(problems) or 'ok'} | {'PASS' if ok else 'FAIL'} |")
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
