"""Rules a user declares, for what the training rows alone cannot show.

A schema's `rules:` (or `Synthesizer(declared_rules=...)`) lists them as text, one of:

- `A <= B` (or `B >= A`): where both are present, A is at most B (numbers, or dates);
- `A == B`: the two columns are equal in every row, nulls included;
- `B is determined by A` (or `by A, C`): rows with the same A (and C) have the same B.

The real rows must keep each one (`broken` says which rows do not): a declared rule the data
breaks is refused before training, never learned around. Each becomes a `synthvae.rules.Rule`
the sampled rows are made to keep, beside those found in the data, and a dataframe-wide
Pandera check (`synthvae.schema`) that input and output tables are validated against. No
expression is evaluated: the three forms are parsed, so a schema cannot run code.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

FORMS = "'A <= B', 'A >= B', 'A == B', 'B is determined by A' or 'B is determined by A, C'"
_COMPARISON = re.compile(r"^\s*(?P<left>\S.*?)\s+(?P<op><=|>=|==)\s+(?P<right>\S.*?)\s*$")
_DETERMINED = re.compile(r"^\s*(?P<target>\S.*?)\s+is\s+determined\s+by\s+(?P<sources>\S.*?)\s*$")


@dataclass(frozen=True)
class Declared:
    """A parsed declared rule, in the kinds of `synthvae.rules`: `order` (sources[0] <=
    target), `equal` (target == sources[0]) or `lookup` (target determined by sources)."""
    text: str
    kind: str
    sources: tuple[str, ...]
    target: str

    @property
    def columns(self) -> list[str]:
        return [*self.sources, self.target]


def parse(text: str, columns: Collection[str]) -> Declared:
    """`text` as a rule over `columns`; ValueError naming the rule and what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"declared rule {text!r} must be text, one of {FORMS}")
    found = _DETERMINED.match(text)
    if found:
        sources = tuple(s.strip() for s in found["sources"].split(","))
        rule = Declared(text, "lookup", sources, found["target"])
        if len(sources) > 2 or not all(sources):
            raise ValueError(f"declared rule {text!r}: a column is determined by one or two "
                             f"others, comma-separated")
    else:
        found = _COMPARISON.match(text)
        if not found:
            raise ValueError(f"declared rule {text!r} is not one of {FORMS}")
        left, op, right = found["left"], found["op"], found["right"]
        rule = (Declared(text, "order", (left,), right) if op == "<=" else
                Declared(text, "order", (right,), left) if op == ">=" else
                Declared(text, "equal", (left,), right))
    unknown = [c for c in rule.columns if c not in columns]
    if unknown:
        raise ValueError(f"declared rule {text!r}: no column {', '.join(map(repr, unknown))} "
                         f"in the table")
    if len(set(rule.columns)) < len(rule.columns):
        raise ValueError(f"declared rule {text!r} names a column twice")
    return rule


def broken(rule: Declared, df: pd.DataFrame) -> np.ndarray:
    """Which rows of `df` break `rule`. An order holds where either value is null; a
    determined column is broken in every row of a group that holds two of its values."""
    if rule.kind == "order":
        low, high = df[rule.sources[0]], df[rule.target]
        present = (low.notna() & high.notna()).to_numpy()
        out = np.zeros(len(df), bool)
        out[present] = (low[present].to_numpy() > high[present].to_numpy())
        return out
    if rule.kind == "equal":
        a, b = df[rule.sources[0]], df[rule.target]
        same = (a.astype(object).to_numpy() == b.astype(object).to_numpy())
        return ~(same | (a.isna() & b.isna()).to_numpy())
    group = df.groupby(list(rule.sources), dropna=False, sort=False,
                       observed=True).ngroup().to_numpy()
    value = pd.factorize(df[rule.target], use_na_sentinel=False)[0]
    width = int(value.max()) + 1 if len(value) else 1
    pairs = np.unique(group.astype(np.int64) * width + value)
    values_per_group = np.bincount(pairs // width, minlength=int(group.max()) + 1 if len(group)
                                   else 0)
    return values_per_group[group] > 1 if len(group) else np.zeros(0, bool)
