"""Does a synthetic table keep the forms of its input's values?

Checks a reviewer would make by eye, made on whole columns: the input's columns, order and
dtypes; dates and times written the input's way (zone notation, padding, separators);
leading-zero digit strings kept as strings of their widths; a fixed prefix every input value
shares kept by every synthetic value; null rates close to the input's. Each finding is one line
naming the column, what is broken and examples.
"""
from __future__ import annotations

import os
import re

import pandas as pd

NULL_DRIFT = 0.02
# ISO dates and timestamps (any zone notation), slash and dot dates with optional times, times
# of day. A column is a date/time column when every non-null input value matches one.
DATE_FORMS = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
    r"|^\d{1,4}[/.]\d{1,2}[/.]\d{1,4}( \d{1,2}:\d{2}(:\d{2}(\.\d+)?)?( ?[AaPp][Mm])?)?$"
    r"|^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")
TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")


def digit_shape(values: pd.Series) -> pd.Series:
    """Each value with its digits replaced by 9: the form of a date, a code or a zip code."""
    return values.astype(str).str.replace(r"\d", "9", regex=True)


def structure_problems(real: pd.DataFrame, synth: pd.DataFrame,
                       null_drift: float = NULL_DRIFT) -> list[str]:
    """Columns, order, dtypes and null rates of `synth` against `real` (as the library reads it)."""
    problems = []
    if list(synth.columns) != list(real.columns):
        missing = [c for c in real.columns if c not in synth]
        extra = [c for c in synth.columns if c not in real]
        problems.append(f"columns differ: missing {missing}, extra {extra}" if missing or extra
                        else "column order differs")
    common = [c for c in real.columns if c in synth]
    dtypes = [f"{c}: {real[c].dtype} -> {synth[c].dtype}" for c in common
              if synth[c].dtype != real[c].dtype]
    if dtypes:
        problems.append("dtypes differ: " + "; ".join(dtypes))
    drift = null_drifts(real[common], synth[common])
    over = drift[drift > null_drift]
    if len(over):
        problems.append(f"null rate drifts by more than {null_drift}: "
                        + ", ".join(f"{c} {v:.3f}" for c, v in over.items()))
    return problems


def null_drifts(real: pd.DataFrame, synth: pd.DataFrame) -> pd.Series:
    """|null rate in synth - null rate in real|, per column."""
    return (synth.isna().mean() - real.isna().mean()).abs()


def form_problems(raw: pd.DataFrame, synth: pd.DataFrame) -> list[str]:
    """What `synth` breaks of the value forms of `raw`, the input read as text exactly as
    written (`pd.read_csv(path, dtype=str, keep_default_na=False)`), so that the verdict does
    not depend on how the library itself reads the input."""
    problems = []
    for c in raw.columns:
        if c not in synth:
            continue
        real = raw[c][raw[c] != ""]
        fake = synth[c].dropna()
        if real.empty or fake.empty:
            continue
        text = fake.astype(str)
        if real.str.match(DATE_FORMS).all():
            problems += _date_problems(c, real, fake, text)
            continue
        digits = real.str.fullmatch(r"\d+").all()
        if digits and real.str.match(r"0\d").any():
            widths = set(real.str.len().unique())
            if synth[c].dtype != object or not text.str.len().isin(widths).all():
                problems.append(f"{c}: leading-zero strings not kept (dtype {synth[c].dtype}, "
                                f"e.g. {text.head(2).tolist()}, input {real.head(2).tolist()})")
            continue
        numbers = pd.to_numeric(real, errors="coerce").notna().all()
        prefix = fixed_prefix(real.unique().tolist())
        if prefix and not numbers and real.nunique() > 1:
            lost = ~text.str.startswith(prefix)
            if lost.any():
                problems.append(f"{c}: {lost.mean():.1%} lost the prefix {prefix!r} "
                                f"(e.g. {text[lost].head(2).tolist()})")
    return problems


def fixed_prefix(values: list[str]) -> str:
    """The prefix all `values` share, ending where a run of digits or of letters ends: a
    counter's leading zeros ("2015-000451", "2015-048620") are part of the counter, not fixed,
    so the fixed prefix there is "2015-"."""
    prefix = os.path.commonprefix(values)
    if not prefix or len(prefix) == min(map(len, values)):
        return prefix
    after = {v[len(prefix)] for v in values}
    last = prefix[-1]
    if (last.isdigit() and any(ch.isdigit() for ch in after)) or (
            last.isalpha() and any(ch.isalpha() for ch in after)):
        prefix = re.sub(r"\d+$" if last.isdigit() else r"[^\W\d_]+$", "", prefix)
    return prefix


def _date_problems(column: str, real: pd.Series, fake: pd.Series, text: pd.Series) -> list[str]:
    if pd.api.types.is_datetime64_any_dtype(fake):
        return []  # a datetime dtype has no text form to keep
    off = ~digit_shape(text).isin(set(digit_shape(real).unique()))
    if TIME_OF_DAY.match(real.iloc[0]):
        parsed = pd.to_datetime("2000-01-01 " + text, errors="coerce", format="mixed")
    else:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    bad = off.to_numpy() | parsed.isna().to_numpy()
    if not bad.any():
        return []
    return [f"{column}: {bad.mean():.1%} not in the input's date form (e.g. "
            f"{text[bad].head(2).tolist()}, input {real.head(2).tolist()})"]
