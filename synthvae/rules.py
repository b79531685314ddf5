"""Rules every training row keeps, found at fit time and kept by construction when sampling.

A VAE learns distributions, not rules: a column that is a function of another (an occupation
code's prestige score, a school's district) comes back consistent in most rows, not all, and
a classifier tells the synthetic rows apart by the few that break it. So `discover` looks for
rules that hold in every training row and are too well supported to hold by chance, and
`RuleSet.apply` rewrites each sampled chunk so that they hold there too:

- `equal`: a column that equals another in every row (nulls included) is copied from it;
- `lookup`: a column determined by one or two others whose sampled values are always seen
  ones (categories, booleans, numbers with few values) is looked up from them;
- `date_part`: a number that is the year, month, day... of a date column is computed from it;
- `order`: a pair of numbers (or dates of one form) kept in order (`low <= high`) is put in
  order by swapping the two values where the model drew them the wrong way round;
- `combination`: a column with many values that takes only a few of them beside each value
  of another, or of two others together (a storm's name beside its year, a survey's day
  beside its year and month) is redrawn, where the model paired them in a way no training
  row does, from the values training rows pair with the sources' values, in their
  proportions (two sources that no training row pairs are first made a seen pair);
- `exclusive`: two numbers never both non-zero (a capital gain and a capital loss): where the
  model drew both, one is set to 0, each kept in the share of rows the training rows give it;
- `null_together`: columns null in the same rows (a teacher's degree and experience, for a
  pupil not in the study that year): where the model drew some null and some not, all are
  made null or all given values, in the share of the group drawn null;
- `band`: a category set by ranges of a number with continuous values (a score band) is
  computed from the number (see `synthvae.derived`);
- `composed`: a text made of two others and a separator (a full name) is composed from them;
- `composed_number`: a whole number made of two others by place value (a clock time 1545
  from an hour and a minute: hour * 100 + minute) is computed from them.

The model still learns every column, so the dependent columns' marginals stay those the
model drew for their sources, and conditions on a dependent column can be met through its
source. Rules are data (JSON), saved with the model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import numpy as np
import pandas as pd

from .columns.base import ConditionError
from .columns.datetime import DatetimeEncoder
from .columns.identifier import IdEncoder
from .columns.numeric import NumericEncoder
from .columns.table import TableEncoder
from .declared import Declared
from .derived import (MAX_BAND_LEVELS, band_keys, band_span, band_values, composed_broken,
                      composed_number_values, composed_values, find_band, find_composed,
                      find_composed_number, whole_numbers)

# A rule must be far too well supported to hold by chance: with about C**2 column pairs
# tried, 1e-9 keeps the chance of one spurious rule on a 100-column table near 1e-5.
CHANCE = 1e-9
MAX_PAIR_LEVELS = 100  # two-column determinants are tried among columns with few values only
MAX_PAIR_COLUMNS = 40
# A combination rule needs the pairs seen to be few beside the pairs independent columns of
# the same shares would show (under a fifth), many of them missing (20 at least), and each
# pair held by many rows (10 on average): pairs of near-continuous values (humidity beside
# dew point, 6 rows a pair) are the joint distribution itself, which the model learns and a
# rule would only replay.
SPARSE = 0.2
MIN_MISSING_PAIRS = 20
MIN_ROWS_PER_PAIR = 10
MAX_COMBINATION_PAIRS = 50_000  # pairs a rule may store
LOWER_FROM_TIES = 0.1  # an order whose columns are equal in this share of rows is lowered
# Near-rules: a column determined by another in most rows but not all is learned by the model
# as usual; where the model breaks it more often than the training rows do, the surplus of
# rows breaking it take the value the source determines, so the rate matches the real one.
# Each is reported with its violation rate in real and synthetic rows.
NEAR_HOLDS = 0.99  # the share of rows a near-rule holds in, at least (and under 1)
NEAR_MODE_MAX = 0.95  # a target whose commonest value is this common is near-constant, no rule
NEAR_ROWS_PER_VALUE = 20  # rows per source value on average, so purity is not memorisation
MAX_NEAR = 20  # near-rules reported, those holding in most rows first
# Rules enforced at most: each costs a pass over every sampled chunk. A wide table of
# hundreds of dependencies keeps the best supported, the rest reported as not enforced.
MAX_RULES = 200
KINDS = ("equal", "lookup", "date_part", "order", "combination", "exclusive", "null_together",
         "band", "composed", "composed_number")
# Zones tried first when looking for the clock of local hour columns, then every other one.
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
         "Europe/London", "Europe/Paris", "Europe/Berlin", "Asia/Tokyo", "Asia/Shanghai",
         "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo"]
ZONE_PROBE_ROWS = 500
PARTS = ("year", "month", "day", "hour", "minute", "second", "dayofweek", "dayofyear", "quarter")
_NULL = "\x00null"  # a null as a lookup key (NaN is not equal to itself)


@dataclass
class Rule:
    """One rule: `kind`, the columns it reads (`sources`) and the one it sets (`target`);
    for `order`, sources = [low] and target = high. `support`: training rows it was seen in."""

    kind: str
    sources: list[str]
    target: str
    support: int
    part: str | None = None  # date_part's part
    zone: str | None = None  # date_part's clock, when not the column's own
    repair: str | None = None  # order's: "swap" (None) or "lower" the low value to the high
    separator: str | None = None  # composed's, between its two sources
    factor: int | None = None  # composed_number's: target = sources[0] * factor + sources[1]
    # lookup: the source values and the target's value, per entry; combination: the
    # (source, target) pairs seen and how many rows hold each; exclusive: the share of rows
    # with one of the two non-zero in which it is the source; band: each range's [low, high]
    # and the target's value there.
    keys: list[list[Any]] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    holds: float = 1.0  # the share of training rows that keep it (under 1: a near-rule)
    declared: bool = False  # declared in the schema, not found

    def describe(self) -> str:
        src = ", ".join(self.sources)
        if self.holds < 1:
            return f"{self.target} is determined by {src} in {self.holds:.2%} of rows"
        if self.kind == "composed_number":
            return f"{self.target} = {self.sources[0]} * {self.factor} + {self.sources[1]}"
        return {"equal": f"{self.target} = {src}",
                "lookup": f"{self.target} is determined by {src}",
                "date_part": f"{self.target} = {self.part} of {src}"
                + (f" in {self.zone}" if self.zone else ""),
                "order": f"{src} <= {self.target}",
                "combination": f"{self.target} takes only values seen beside {src}",
                "exclusive": f"{src} and {self.target} are never both non-zero",
                "null_together": f"{self.target}, {src} are null in the same rows",
                "band": f"{self.target} is set by ranges of {src}",
                "composed": f"{self.target} = "
                            + " + ".join([self.sources[0], repr(self.separator), *self.sources[1:]]),
                }[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RuleSet:
    """Rules in the order they are applied (a rule's sources are final before it runs)."""

    def __init__(self, rules: list[Rule], near: list[Rule] | None = None,
                 unenforced: list[Rule] | None = None):
        self.rules = rules
        self.near = near or []  # near-rules: reported, and held to their real rate
        self.unenforced = unenforced or []  # rules past MAX_RULES: reported, never applied
        self._unenforced = RuleSet(self.unenforced) if self.unenforced else None
        self._near_lookups = [_lookup_table(r) for r in self.near]
        # A near-rule's target that a rule reads or sets is left as drawn: changing it after
        # that rule ran could break it. But for a combination of the near-rule's own source
        # beside its target: a source value and the value it determines are a seen pair.
        self._near_held = [i for i, n in enumerate(self.near) if not any(
            n.target == r.target or (n.target in r.sources and not (
                r.kind == "combination" and r.sources == [n.target] and [r.target] == n.sources))
            for r in rules)]
        # Built once here, not per chunk: sampling threads share the set.
        self._lookups = {i: _lookup_table(r) for i, r in enumerate(rules) if r.kind == "lookup"}
        self._pairs = {i: _Pairs(r) for i, r in enumerate(rules) if r.kind == "combination"}
        # A condition on a combination's target is met by redrawing the source instead, where
        # no other rule reads or sets the source.
        fixed = {r.target for r in rules} | {r.sources[0] for r in rules if r.kind == "order"}
        self._reverse = {i: _Pairs(Rule(r.kind, [r.target], r.sources[0], r.support,
                                        keys=[[b, a] for a, b in r.keys], values=r.values))
                         for i, r in enumerate(rules)
                         if r.kind == "combination" and len(r.sources) == 1
                         and r.sources[0] not in fixed}
        # Two sources drawn as a pair no training row holds are first made a seen pair:
        # the first redrawn beside the second, or (when a condition sets the first) the
        # second beside the first.
        self._source_pairs = {i: _source_pairs(r) for i, r in enumerate(rules)
                              if r.kind == "combination" and len(r.sources) == 2}

    def __len__(self) -> int:
        return len(self.rules)

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rules]

    def near_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.near]

    def unenforced_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.unenforced]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]] | None,
                  near: list[dict[str, Any]] | None = None,
                  unenforced: list[dict[str, Any]] | None = None) -> RuleSet:
        return cls(*([Rule(**item) for item in group or []]
                     for group in (items, near, unenforced)))

    def apply(self, rows: pd.DataFrame, encoder: TableEncoder,
              skip: set[str] | frozenset = frozenset(),
              rng: np.random.Generator | None = None) -> pd.DataFrame:
        """`rows` (decoded from the model) with every rule made to hold, in place, but those
        setting a column in `skip` (see `through_sources`; a combination whose target is in
        `skip` redraws its source instead). `rng` draws what combination rules redraw."""
        if not len(rows):
            return rows
        rng = rng if rng is not None else np.random.default_rng(0)
        if self.rules:
            self._apply_rules(rows, encoder, skip, rng)
        for i in self._near_held:
            if self.near[i].target not in skip:
                self._hold_near(rows, i, rng)
        return rows

    def _apply_rules(self, rows: pd.DataFrame, encoder: TableEncoder, skip, rng) -> None:
        encoders = {e.name: e for e in encoder.encoders_}
        # Orders first (their columns are no other rule's target), then combinations (in
        # discovery order, which puts a rule's source before it), then the rest: each may
        # read a column an earlier one set.
        orders = [r for r in self.rules if r.kind == "order"]
        if orders:
            _put_in_order(rows, orders, encoders)
        for i, r in enumerate(self.rules):
            if r.kind != "combination":
                continue
            sources, target, pairs = r.sources, r.target, self._pairs[i]
            if target in skip:
                if i not in self._reverse or sources[0] in skip:
                    continue
                sources, target, pairs = [target], sources[0], self._reverse[i]
            if i in self._source_pairs:
                (a, b), (a_by_b, b_by_a) = sources, self._source_pairs[i]
                if a not in skip:
                    rows[a] = a_by_b.redraw(*a_by_b.codes([rows[b]], rows[a]), rows[a], rng)
                elif b not in skip:
                    rows[b] = b_by_a.redraw(*b_by_a.codes([rows[a]], rows[b]), rows[b], rng)
            rows[target] = pairs.redraw(*pairs.codes([rows[c] for c in sources], rows[target]),
                                        rows[target], rng)
        for r in self.rules:
            if r.kind == "exclusive":
                _keep_one(rows, r, skip, rng)
            elif r.kind == "null_together":  # before lookups: a source's null is final
                _null_together(rows, r, skip, rng)
        for i, r in enumerate(self.rules):
            if r.kind not in ("order", "combination", "exclusive", "null_together") \
                    and r.target not in skip:
                rows[r.target] = self._expected(i, r, rows, encoders)

    def _hold_near(self, rows: pd.DataFrame, i: int, rng: np.random.Generator) -> None:
        """Near-rule `i` broken in about as many of `rows` as in the training rows: of the
        rows breaking it beyond that share, a random choice take the value the source
        determines (the others keep what the model drew, exceptions as the real rows have)."""
        r = self.near[i]
        expected, known = self._near_expected(rows, i)
        actual = rows[r.target].astype(object).to_numpy()[known]
        broken = ~((expected == actual) | (pd.isna(expected) & pd.isna(actual)))
        surplus = int(broken.sum() - round((1 - r.holds) * known.sum()))
        if surplus <= 0:
            return
        fix = rng.choice(np.flatnonzero(broken), surplus, replace=False)
        out = rows[r.target].astype(object).to_numpy(copy=True)
        out[np.flatnonzero(known)[fix]] = expected[fix]
        rows[r.target] = _cast_like(out, rows[r.target])

    def _near_expected(self, df: pd.DataFrame, i: int) -> tuple[np.ndarray, np.ndarray]:
        """The value near-rule `i` expects in each row of `df` whose source value training
        rows hold, and which rows those are."""
        r = self.near[i]
        levels, index, values = self._near_lookups[i]
        codes = [_codes(df[s], lv) for s, lv in zip(r.sources, levels)]
        found = index.get_indexer(_combine(codes, levels))
        known = found >= 0
        return values[found[known]], known

    def _expected(self, i: int, r: Rule, rows: pd.DataFrame, encoders: dict) -> pd.Series:
        """The target column as rule `i` sets it from its sources in `rows`."""
        if r.kind == "equal":
            return _cast_like(rows[r.sources[0]].astype(object).to_numpy(), rows[r.target])
        if r.kind == "date_part":
            part = _date_part(encoders[r.sources[0]], rows[r.sources[0]], r.part, r.zone)
            return _cast_like(part, rows[r.target])
        if r.kind == "band":
            x = rows[r.sources[0]].to_numpy(dtype="float64", na_value=np.nan)
            drawn = rows[r.target].astype(object).to_numpy()
            return _cast_like(band_values(x, r.keys, r.values, drawn), rows[r.target])
        if r.kind == "composed":
            return _cast_like(composed_values(rows[r.sources[0]], r.separator,
                                              rows[r.sources[1]]), rows[r.target])
        if r.kind == "composed_number":
            return _cast_like(composed_number_values(rows[r.sources[0]], r.factor,
                                                     rows[r.sources[1]]), rows[r.target])
        levels, index, values = self._lookups[i]
        codes = [_codes(rows[s], lv) for s, lv in zip(r.sources, levels)]
        found = index.get_indexer(_combine(codes, levels))
        found[np.any([c < 0 for c in codes], axis=0)] = -1
        out = rows[r.target].astype(object).to_numpy(copy=True)
        hit = found >= 0
        out[hit] = values[found[hit]]
        return _cast_like(out, rows[r.target])

    def through_sources(self, conditions: dict[str, Any], encoder: TableEncoder
                        ) -> tuple[dict[str, Any], set[str]]:
        """Conditions on a column a rule sets, passed on to the rule's source: the source
        values whose looked-up (or copied) value meets the condition. Returns the conditions
        and the columns whose rule cannot be passed on that way (a two-column lookup, a date
        part, a source with continuous values): for those the condition is met and the rule
        is not applied. A combination's target is among them too: its source is passed the
        values seen beside one that meets the condition where it can take a set, and is
        redrawn to one seen beside the row's value after decoding (`apply`)."""
        conditions = dict(conditions)
        encoders = {e.name: e for e in encoder.encoders_}
        unruled: set[str] = set()
        for r in reversed(self.rules):  # last first: a condition passed on may pass on again
            if r.kind in ("exclusive", "null_together"):  # conditioned columns are kept, the
                continue                                   # others follow (after this loop)
            if r.kind == "combination" and len(r.sources) == 2:  # a condition's source is
                unruled.update(c for c in r.sources if c in conditions)  # kept, the other moved
            if r.kind == "order" or r.target not in conditions or r.target not in encoders:
                continue
            source = r.sources[0]
            if r.kind == "equal":
                conditions.setdefault(source, conditions[r.target])
                continue
            if r.kind == "composed_number":
                if not _number_through_sources(r, conditions, encoders):
                    unruled.add(r.target)
                continue
            if r.kind == "band":
                span = None if source in conditions else band_span(
                    r.keys, np.asarray(encoders[r.target].constrain(conditions[r.target])
                                       .matches(pd.Series(r.values, dtype=object))))
                if span is None:
                    unruled.add(r.target)
                else:
                    conditions[source] = span
                continue
            if r.kind not in ("lookup", "combination") or len(r.sources) > 1 \
                    or not _closed(encoders[source]) \
                    or isinstance(encoders[source], NumericEncoder):
                unruled.add(r.target)
                continue
            wanted = encoders[r.target].constrain(conditions[r.target])
            keys = pd.Series([k[0] for k in r.keys], dtype=object)
            values = r.values if r.kind == "lookup" else [k[1] for k in r.keys]
            ok = wanted.matches(pd.Series(values, dtype=object))
            if source in conditions:
                ok &= encoders[source].constrain(conditions[source]).matches(keys)
            if not ok.any():
                raise ConditionError(
                    f"conditions on {r.target!r} and {source!r} cannot both hold: in every "
                    f"training row {r.describe()}")
            if r.kind == "combination":  # the condition is met as drawn, beside a source
                unruled.add(r.target)    # value seen with a value that meets it
            conditions[source] = [None if pd.isna(k) else k for k in pd.unique(keys[ok])]
        for r in self.rules:
            if r.kind == "exclusive":
                unruled.update(c for c in (r.sources[0], r.target) if c in conditions)
            elif r.kind == "null_together":
                group = [c for c in (r.target, *r.sources) if c in conditions]
                unruled.update(group)
                nulls = {c: _null_condition(conditions[c]) for c in group}
                if {True, False} <= set(nulls.values()):
                    raise ConditionError(
                        f"conditions on {', '.join(map(repr, group))} cannot all hold: in "
                        f"every training row {r.describe()}")
        return conditions, unruled

    def violations(self, df: pd.DataFrame, encoder: TableEncoder) -> list[int]:
        """Per rule, how many rows of `df` break it."""
        encoders = {e.name: e for e in encoder.encoders_}
        return [int(self._broken(i, r, df, encoders).sum()) for i, r in enumerate(self.rules)]

    def _broken(self, i: int, r: Rule, df: pd.DataFrame, encoders: dict) -> np.ndarray:
        if r.kind == "order":
            lo = _ordered_values(df[r.sources[0]], encoders[r.sources[0]])
            return lo > _ordered_values(df[r.target], encoders[r.target])
        if r.kind == "combination":
            pairs = self._pairs[i]
            return ~pairs.seen(*pairs.codes([df[c] for c in r.sources], df[r.target]))
        if r.kind == "exclusive":
            return _non_zero(df[r.sources[0]]) & _non_zero(df[r.target])
        if r.kind == "null_together":
            nulls = np.column_stack([df[c].isna().to_numpy() for c in (r.target, *r.sources)])
            return nulls.any(axis=1) & ~nulls.all(axis=1)
        if r.kind == "composed":
            return composed_broken(df, r.sources[0], r.separator, r.sources[1], r.target)
        expected = self._expected(i, r, df, encoders)
        same = expected.astype(object).to_numpy() == df[r.target].astype(object).to_numpy()
        return ~(same | (expected.isna().to_numpy() & df[r.target].isna().to_numpy()))

    def report(self, real: pd.DataFrame, synthetic: pd.DataFrame, encoder: TableEncoder
               ) -> list[dict[str, Any]]:
        """Each rule with its violation rate in `real` and `synthetic` rows, the groups of
        rows a repeated key holds together first (see IdEncoder.group)."""
        rates = [_group_rates(enc, real, synthetic) for enc in encoder.encoders_
                 if isinstance(enc, IdEncoder) and enc.group_by_]
        near = [(r, self.near_violations(real, i), self.near_violations(synthetic, i), False)
                for i, r in enumerate(self.near)]
        past = [] if self._unenforced is None else zip(
            self.unenforced, self._unenforced.violations(real, encoder),
            self._unenforced.violations(synthetic, encoder), [False] * len(self.unenforced))
        for r, n_real, n_synth, enforced in [
                *zip(self.rules, self.violations(real, encoder),
                     self.violations(synthetic, encoder), [True] * len(self.rules)),
                *past, *near]:
            rates.append({"rule": r.describe(), "kind": r.kind if r.holds == 1 else "near",
                          "sources": r.sources, "target": r.target, "support": r.support,
                          "holds": r.holds, "enforced": enforced,
                          "real_violation_rate": round(n_real / max(1, len(real)), 6),
                          "synthetic_violation_rate": round(n_synth / max(1, len(synthetic)), 6)})
        return rates

    def near_violations(self, df: pd.DataFrame, i: int) -> int:
        """How many rows of `df` break near-rule `i` (take another value than the one most
        training rows with the same source value take)."""
        expected, known = self._near_expected(df, i)
        expected = pd.Series(expected, dtype=object)
        actual = df[self.near[i].target][known].astype(object).reset_index(drop=True)
        same = (expected == actual) | (expected.isna() & actual.isna())
        return int((~same).sum())


def _number_through_sources(r: Rule, conditions: dict[str, Any], encoders: dict) -> bool:
    """Whether a condition on a composed number passes to its two parts: one whole number
    does (1545: hour 15, minute 45), and the rule then computes the wanted value. A condition
    of another form (a range) does not: it is met as drawn, and the rule left unapplied."""
    value = conditions[r.target]
    high, low = r.sources
    number = isinstance(value, (int, float, np.integer, np.floating)) \
        and not isinstance(value, bool) and value >= 0 and float(value).is_integer()
    if not number:
        return False
    parts = {high: int(value // r.factor), low: int(value % r.factor)}
    for c, part in parts.items():
        if c not in conditions or encoders[c].constrain(conditions[c]).matches(
                pd.Series([part])).all():
            conditions[c] = part
        else:
            raise ConditionError(
                f"conditions on {r.target!r} and {c!r} cannot both hold: in every training "
                f"row {r.describe()}")
    return True


def _group_rates(enc: IdEncoder, real: pd.DataFrame, synthetic: pd.DataFrame
                 ) -> dict[str, Any]:
    """A repeated key's groups as a rule: the rows of a key that hold another value of a
    shared column than the key's first row break it."""
    def broken(df: pd.DataFrame) -> int:
        keyed = df[df[enc.name].notna()]
        shared = keyed[enc.group_by_].astype(object)
        first = shared.groupby(keyed[enc.name], sort=False).transform("first")
        same = (shared == first) | (shared.isna() & first.isna())
        return int((~same.all(axis=1)).sum())

    return {"rule": f"rows of one {enc.name} share {', '.join(enc.group_by_)}", "kind": "group",
            "sources": [enc.name], "target": ", ".join(enc.group_by_),
            "support": int(real[enc.name].duplicated(keep=False).sum()), "holds": 1.0,
            "enforced": True,
            "real_violation_rate": round(broken(real) / max(1, len(real)), 6),
            "synthetic_violation_rate": round(broken(synthetic) / max(1, len(synthetic)), 6)}


def with_declared(found: RuleSet, rules: list[Declared], df: pd.DataFrame,
                  encoder: TableEncoder) -> RuleSet:
    """The rules found in `df` with the declared ones (which `df` keeps) added; a found rule
    setting a column a declared one sets, or the same rule, gives way to it."""
    encoders = {e.name: e for e in encoder.encoders_}
    made = []
    for d in rules:
        if d.kind == "order":
            low, high = (_ordered_values(df[c], encoders[c]) for c in d.columns)
            if low is None or high is None:
                raise ValueError(f"declared rule {d.text!r}: an order needs two columns "
                                 f"modelled as numbers or dates (see column_kinds)")
            both = ~np.isnan(low) & ~np.isnan(high)
            repair = _order_repair(low[both], high[both]) if both.any() \
                and df[d.sources[0]].dtype == df[d.target].dtype else "lower"
            made.append(Rule("order", list(d.sources), d.target, len(df), repair=repair))
            continue
        if d.kind == "lookup":
            bad = [c for c in d.columns if not _json_plain(df[c])]
            if bad:
                raise ValueError(f"declared rule {d.text!r}: a column determined by others is "
                                 f"looked up among numbers, text or booleans; "
                                 f"{', '.join(map(repr, bad))} hold other values")
            made.append(_lookup_rule(df, list(d.sources), d.target))
        else:
            made.append(Rule("equal", list(d.sources), d.target, len(df)))
    for r in made:
        r.declared = True
    targets, same = {r.target for r in made}, {r.describe() for r in made}
    kept = [r for r in found.rules if r.target not in targets and r.describe() not in same
            and not (r.kind == "null_together" and targets & set(r.sources))]
    return RuleSet(kept + made, [r for r in found.near if r.target not in targets],
                   [r for r in found.unenforced if r.target not in targets])


def keeping(found: RuleSet, texts: list[str]) -> tuple[RuleSet, list[str]]:
    """The rules found, only those described by one of `texts` enforced (a schema's
    `discovered_rules`, edited by hand), the others reported as not enforced; and the texts
    no rule found matches."""
    wanted = set(texts)
    kept = [r for r in found.rules if r.describe() in wanted]
    described = {r.describe() for r in found.rules + found.unenforced}
    return (RuleSet(kept, found.near, [r for r in found.rules if r.describe() not in wanted]
                    + found.unenforced),
            [t for t in texts if t not in described])


# ------------------------------------------------------------------ discovery
def discover(df: pd.DataFrame, encoder: TableEncoder, kinds: tuple[str, ...] = KINDS
             ) -> RuleSet:
    """The rules every row of `df` keeps, each too well supported to hold by chance, of the
    given `kinds` (see KINDS)."""
    n = len(df)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown rule kinds {unknown}; the kinds are {list(KINDS)}")
    if n < 20:
        return RuleSet([])
    encoders = {e.name: e for e in encoder.encoders_}
    usable = [c for c in df.columns if encoders[c].kind not in ("id", "text", "constant")]
    codes = {c: pd.factorize(df[c], use_na_sentinel=False)[0] for c in usable}
    n_levels = {c: int(codes[c].max()) + 1 for c in usable}
    closed = [c for c in usable if _closed(encoders[c])]
    plain = {c for c in usable if _json_plain(df[c])}
    groups = _Groups(codes)
    parts = _Parts(df, encoders)
    # Determinants come before what they determine: more distinct values first, and of two
    # columns in one-to-one correspondence, the one whose sampled values are seen ones.
    order = sorted(usable, key=lambda c: (-n_levels[c], c not in closed,
                                          list(df.columns).index(c)))
    rank = {c: i for i, c in enumerate(order)}
    rules: list[Rule] = []
    derived: set[str] = set()
    # numbers with continuous values, sorted once for every category tried against them
    ranged = {c: (x, np.argsort(x, kind="stable")) for c in usable
              if isinstance(encoders[c], NumericEncoder) and c not in closed
              and pd.api.types.is_numeric_dtype(df[c])
              for x in [df[c].to_numpy(dtype="float64", na_value=np.nan)]} \
        if "band" in kinds else {}
    for target in order:
        if n_levels[target] < 2:
            continue
        rule = ("equal" in kinds and _find_equal(df, target, order[:rank[target]], codes)
                or "date_part" in kinds and _find_date_part(df, target, encoders, parts)
                or ("lookup" in kinds and target in plain
                    and _find_lookup(df, target, [c for c in closed if rank[c] < rank[target]],
                                     codes, n_levels, groups))
                or ("band" in kinds and target in plain and target in closed
                    and n_levels[target] <= MAX_BAND_LEVELS
                    and _find_band_rule(df, target, ranged, codes))) or None
        if rule is not None:
            rules.append(rule)
            derived.add(target)
    read = {s for r in rules for s in r.sources}
    targets = [c for c in usable if c in plain and n_levels[c] > 1
               and c not in derived and c not in read]
    small = sorted((c for c in closed if 1 < n_levels[c] <= MAX_PAIR_LEVELS),
                   key=lambda c: n_levels[c])[:MAX_PAIR_COLUMNS]
    for a, b, target in _pair_lookups(df, targets if "lookup" in kinds else [], small, codes,
                                      n_levels):
        rules.append(_lookup_rule(df, [a, b], target))
        derived.add(target)
    orders = _find_orders(df, [c for c in usable if c not in derived], encoders) \
        if "order" in kinds else []
    ordered = {c for r in orders for c in (r.sources[0], r.target)}
    free = [c for c in closed if c not in derived and c in plain and n_levels[c] > 1]
    combinations = _find_combinations(df, free, ordered, codes, n_levels) \
        if "combination" in kinds else []
    if "combination" in kinds:
        combinations += _find_two_source_combinations(df, free, ordered, combinations, codes,
                                                       n_levels)
    taken = derived | ordered | {c for r in rules + combinations for c in r.sources} \
        | {r.target for r in combinations}
    exclusive = _find_exclusive(df, [c for c in usable if c not in taken], encoders) \
        if "exclusive" in kinds else []
    taken |= {c for r in exclusive for c in (r.sources[0], r.target)}
    # a column another rule sets follows its sources' nulls already; a lookup's source may
    # be in a group (its looked-up columns then follow it)
    together = _find_null_together(df, [c for c in usable if c not in taken]) \
        if "null_together" in kinds else []
    # a column a rule determines needs no near-rule; any other may have one (it is reported,
    # not enforced, so it cannot fight a rule that reads or sets the same column)
    near = _find_near_lookups(df, [c for c in usable if c in plain and c not in derived],
                              closed, codes, n_levels) if "lookup" in kinds else []
    grouped = {c for r in together for c in (r.target, *r.sources)}
    composed = _find_composed(df, derived | taken | grouped, encoders) \
        if "composed" in kinds else []
    numbers = []
    if "composed_number" in kinds:
        # A part looked up from the number (a clock time's minute) is implied by the number
        # made of its parts, which also lets another rule set the other part (the hour of a
        # timestamp): the composition replaces that lookup. Any other rule reading or setting
        # the number keeps it.
        others = orders + combinations + exclusive + together + rules + composed
        for n in _find_composed_numbers(df, encoders):
            implied = [r for r in rules if r.kind == "lookup" and r.sources == [n.target]
                       and r.target in n.sources]
            if any(n.target in (r.target, *r.sources) for r in others
                   if not any(r is i for i in implied)):
                continue
            rules = [r for r in rules if not any(r is i for i in implied)]
            numbers.append(n)
    # composed texts and numbers last: their sources are final by then
    found = _without_protected(orders + combinations + exclusive + together + rules + composed
                               + numbers, encoders)
    near = _without_protected(near, encoders)
    if len(found) <= MAX_RULES:
        return RuleSet(found, near)
    strongest = set(sorted(range(len(found)), key=lambda i: -found[i].support)[:MAX_RULES])
    return RuleSet([r for i, r in enumerate(found) if i in strongest], near,
                   [r for i, r in enumerate(found) if i not in strongest])


def _without_protected(rules: list[Rule], encoders: dict) -> list[Rule]:
    """`rules` without the values value protection keeps from being generated (see
    `protect_below`): enforcing a rule must not write one, nor the model file keep one. A
    lookup or combination entry holding one is left out (a source value it held is never
    generated; rows drawing a source value left with no entry keep what the model drew); a
    band whose range sets one is not kept."""
    kept = []
    for r in rules:
        if r.kind not in ("lookup", "combination", "band") or not r.keys:
            kept.append(r)
            continue
        keys = np.array(r.keys, dtype=object).reshape(len(r.keys), -1)
        if r.kind == "band":
            if not encoders[r.target].protects(pd.Series(r.values, dtype=object)).any():
                kept.append(r)
            continue
        columns = [*r.sources, r.target]
        held = (keys if r.kind == "combination"
                else np.column_stack([keys, np.array(r.values, dtype=object)]))
        hit = np.zeros(len(keys), bool)
        for j, c in enumerate(columns):
            hit |= encoders[c].protects(pd.Series(held[:, j], dtype=object))
        if not hit.any():
            kept.append(r)
        elif not hit.all():
            keep = np.flatnonzero(~hit)
            kept.append(replace(r, keys=[r.keys[i] for i in keep],
                                values=[r.values[i] for i in keep]))
    return kept


def _find_band_rule(df, target, ranged, codes) -> Rule | None:
    for source, (x, order) in ranged.items():
        ranges = find_band(x, order, codes[target])
        if ranges is None:
            continue
        stored = band_keys(x, order, df[target], ranges, _plain)
        if stored is not None:
            return Rule("band", [source], target, int((~np.isnan(x)).sum()),
                        keys=stored[0], values=stored[1])
    return None


def _find_composed(df, taken, encoders) -> list[Rule]:
    """Texts made of two other text columns; a composed text is no other's source."""
    texts = [c for c in df.columns if df[c].dtype == object and encoders[c].kind != "constant"
             and pd.api.types.infer_dtype(df[c], skipna=True) == "string"]
    found: list[Rule] = []
    for target in texts:
        if target in taken:
            continue
        sources = [c for c in texts if c != target and c not in {r.target for r in found}]
        hit = find_composed(df, target, sources)
        if hit is not None:
            first, sep, second = hit
            found.append(Rule("composed", [first, second], target,
                              int(df[target].notna().sum()), separator=sep))
    return [r for r in found if not {r.target} & {s for f in found for s in f.sources}]


def _find_composed_numbers(df, encoders) -> list[Rule]:
    """Whole numbers made of two others by place value; such a number is no other's source,
    nor are its sources set by another rule of this kind."""
    numbers = {c: x for c in df.columns if encoders[c].kind not in ("id", "text", "constant")
               and (x := whole_numbers(df[c])) is not None}
    found: list[Rule] = []
    for target in numbers:
        made = {r.target for r in found}
        sources = [c for c in numbers if c != target and c not in made]
        hit = find_composed_number(numbers, target, sources)
        if hit is not None:
            high, factor, low = hit
            found.append(Rule("composed_number", [high, low], target,
                              int(df[target].notna().sum()), factor=factor))
    return [r for r in found if not {r.target} & {s for f in found for s in f.sources}]


def _find_exclusive(df, columns, encoders) -> list[Rule]:
    """Pairs of numbers never both non-zero where independent columns would be in far more
    than chance allows (-ln 1e-9 = 20.7 rows)."""
    numbers = [c for c in columns if _ordered_values(df[c], encoders[c]) is not None
               and not isinstance(encoders[c], DatetimeEncoder)]
    if len(numbers) < 2:
        return []
    hits = np.column_stack([_non_zero(df[c]) for c in numbers]).astype(np.float64)
    both = hits.T @ hits
    share = hits.mean(axis=0)
    rules = []
    for i, a in enumerate(numbers):
        for j in range(i + 1, len(numbers)):
            if both[i, j] == 0 and len(df) * share[i] * share[j] > -np.log(CHANCE):
                one = hits[:, i].sum() + hits[:, j].sum()
                rules.append(Rule("exclusive", [a], numbers[j], len(df),
                                  values=[float(hits[:, i].sum() / one)]))
    return rules


def _find_null_together(df, columns) -> list[Rule]:
    """Groups of columns null in exactly the same rows, where independent columns with that
    null share would differ in far more rows than chance allows (2k(n - k)/n > 20.7 for k
    nulls in n rows). The first column of a group is its rule's target, the rest sources."""
    n = len(df)
    groups: dict[bytes, list[str]] = {}
    for c in columns:
        mask = df[c].isna().to_numpy()
        k = int(mask.sum())
        if 0 < k < n and 2 * k * (n - k) / n > -np.log(CHANCE):
            groups.setdefault(np.packbits(mask).tobytes(), []).append(c)
    return [Rule("null_together", g[1:], g[0], n) for g in groups.values() if len(g) > 1]


def _null_condition(value: Any) -> bool | None:
    """Whether a condition asks for a null (True), a value (False), or allows either."""
    if isinstance(value, (list, set)):  # a set of values (a tuple is a range: values)
        flags = {v is None or (not isinstance(v, str) and bool(pd.isna(v))) for v in value}
        return flags.pop() if len(flags) == 1 else None
    return value is None


def _null_together(rows: pd.DataFrame, r: Rule, skip: set[str] | frozenset,
                   rng: np.random.Generator) -> None:
    """Where some of a group are null and some not: all null, or all given values copied
    from one row of the chunk that has them all (so they stay a combination the model
    drew). A column a condition holds decides; else null in the share of the group drawn
    null, which keeps each column's null rate."""
    columns = [r.target, *r.sources]
    nulls = np.column_stack([rows[c].isna().to_numpy() for c in columns])
    mixed = nulls.any(axis=1) & ~nulls.all(axis=1)
    if not mixed.any():
        return
    where = np.flatnonzero(mixed)
    held = [j for j, c in enumerate(columns) if c in skip]
    to_null = nulls[where, held[0]] if held \
        else rng.random(len(where)) < nulls[where].mean(axis=1)
    donors = np.flatnonzero(~nulls.any(axis=1))
    if not len(donors):  # no row of the chunk has them all
        to_null[:] = True
    fill = where[~to_null]
    donor = donors[rng.integers(len(donors), size=len(fill))] if len(fill) else fill
    blank = np.zeros(len(rows), bool)
    blank[where[to_null]] = True
    for j, c in enumerate(columns):
        s = rows[c].mask(blank & ~nulls[:, j]) if blank.any() else rows[c]
        gap = nulls[fill, j]  # the donor's value where this row has none
        if gap.any():
            s = s.copy()
            s.iloc[fill[gap]] = rows[c].iloc[donor[gap]].to_numpy()
        rows[c] = s


def _non_zero(s: pd.Series) -> np.ndarray:
    values = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return ~np.isnan(values) & (values != 0)


def _keep_one(rows: pd.DataFrame, r: Rule, skip: set[str] | frozenset,
              rng: np.random.Generator) -> None:
    """Where both columns of an exclusive rule are non-zero, one is set to 0: the one a
    condition holds is kept, else the source in the training rows' share of rows."""
    a, b = r.sources[0], r.target
    if a in skip and b in skip:
        return
    both = _non_zero(rows[a]) & _non_zero(rows[b])
    u = rng.random(int(both.sum()))
    if not both.any():
        return
    keep_a = np.full(len(u), a in skip) if a in skip or b in skip else u < r.values[0]
    for column, zero in ((b, keep_a), (a, ~keep_a)):
        where = np.flatnonzero(both)[zero]
        if len(where):
            values = rows[column].to_numpy(copy=True)
            values[where] = 0
            rows[column] = pd.Series(values, index=rows.index, dtype=rows[column].dtype)


class _Groups:
    """Per column, its rows sorted by value and which neighbours share one (cached)."""

    def __init__(self, codes: dict[str, np.ndarray]):
        self.codes, self._cache = codes, {}

    def pure(self, source: str, target: np.ndarray) -> bool:
        """Whether `target` takes one value per value of `source`."""
        if source not in self._cache:
            order = np.argsort(self.codes[source], kind="stable")
            k = self.codes[source][order]
            self._cache[source] = order, k[1:] == k[:-1]
        order, same = self._cache[source]
        t = target[order]
        return not np.any(same & (t[1:] != t[:-1]))


class _Parts:
    """Date parts of the date columns, computed once each, on each clock they may be read on."""

    def __init__(self, df: pd.DataFrame, encoders: dict):
        self.df, self.encoders, self._cache = df, encoders, {}
        self.sources = [c for c, e in encoders.items() if isinstance(e, DatetimeEncoder)]
        self._clocks: dict[str, list[str | None]] = {}

    def get(self, source: str, part: str, zone: str | None = None) -> np.ndarray:
        if (source, part, zone) not in self._cache:
            self._cache[source, part, zone] = _date_part(self.encoders[source], self.df[source],
                                                         part, zone)
        return self._cache[source, part, zone]

    def clocks(self, source: str) -> list[str | None]:
        """The column's own clock, and for a column of zoned instants the first time zone
        in which some numeric column is its hour (exported data often carries UTC
        instants beside local year, month, day and hour columns, as nyc_weather does)."""
        if source not in self._clocks:
            self._clocks[source] = [None] + self._zone_of_hours(source)
        return self._clocks[source]

    def _zone_of_hours(self, source: str) -> list[str]:
        enc = self.encoders[source]
        if not (enc.tz_ or (enc.values_ == "text" and enc.format_ and enc.format_[-1] in "zZ")):
            return []
        ns, nulls = enc._parse(self.df[source].head(ZONE_PROBE_ROWS), lenient=True)
        if nulls.all():
            return []
        ns = ns[~nulls]
        hours = {c: self.df[c].head(ZONE_PROBE_ROWS).to_numpy()[~nulls] for c in self.df.columns
                 if pd.api.types.is_integer_dtype(self.df[c]) and c != source}
        hours = {c: v for c, v in hours.items() if v.min() >= 0 and v.max() <= 23}
        if not hours:
            return []
        own = _date_part(enc, pd.Series(ns.astype("datetime64[ns]")), "hour")
        utc = pd.Series(ns.astype("datetime64[ns]")).dt.tz_localize("UTC")
        for zone in ZONES + sorted(available_timezones() - set(ZONES)):
            local = utc.dt.tz_convert(ZoneInfo(zone)).dt.hour.to_numpy()
            if np.array_equal(local, own):
                continue  # the column's own clock already reads these hours
            if any(np.array_equal(local, v) for v in hours.values()):
                return [zone]
        return []


def _closed(enc: Any) -> bool:
    """Whether the column's sampled values are always values the training rows had."""
    if enc.kind in ("categorical", "boolean", "discrete"):
        return True
    return isinstance(enc, NumericEncoder) and getattr(enc, "support_", None) is not None


def _json_plain(s: pd.Series) -> bool:
    return s.dtype == object and s.map(type).isin((str, float, int, bool)).all() \
        or pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s)


def _find_equal(df, target, earlier, codes) -> Rule | None:
    for source in earlier:
        if df[source].dtype == df[target].dtype and np.array_equal(codes[source], codes[target]) \
                and df[source].equals(df[target]):
            return Rule("equal", [source], target, len(df))
    return None


def _find_date_part(df, target, encoders, parts: _Parts) -> Rule | None:
    if encoders[target].kind not in ("numeric", "discrete") \
            or not pd.api.types.is_numeric_dtype(df[target]):
        return None
    values = df[target].to_numpy(dtype="float64", na_value=np.nan)
    nulls = np.isnan(values)
    for source in parts.sources:
        for zone in parts.clocks(source):
            for part in PARTS:
                got = parts.get(source, part, zone)
                if np.array_equal(np.isnan(got), nulls) \
                        and np.array_equal(got[~nulls], values[~nulls]):
                    return Rule("date_part", [source], target, int((~nulls).sum()), part, zone)
    return None


def _find_lookup(df, target, candidates, codes, n_levels, groups: _Groups) -> Rule | None:
    t = codes[target]
    p = np.bincount(t) / len(t)
    best = None
    for source in candidates:
        if n_levels[source] >= len(df) or (best is not None and n_levels[source] >= n_levels[best]):
            continue
        if groups.pure(source, t) and _chance(codes[source], p) < np.log(CHANCE):
            best = source
    return None if best is None else _lookup_rule(df, [best], target)


def _find_near_lookups(df, targets, sources, codes, n_levels) -> list[Rule]:
    """Per target, the source that determines it in the most rows, when that is at least
    NEAR_HOLDS of them (and not all: those are rules). The value a source value determines
    is the one most of its rows take."""
    n = len(df)
    found = []
    for target in targets:
        t, n_t = codes[target], n_levels[target]
        if n_t < 2 or np.bincount(t).max() > NEAR_MODE_MAX * n:
            continue
        best = None
        for source in sources:
            n_s = n_levels[source]
            if source == target or n_s * NEAR_ROWS_PER_VALUE > n or n_s * n_t > 4_000_000:
                continue
            table = np.bincount(codes[source] * n_t + t, minlength=n_s * n_t).reshape(n_s, n_t)
            holds = table.max(axis=1).sum() / n
            if NEAR_HOLDS <= holds < 1 and (best is None or holds > best[0]):
                best = (holds, source, table.argmax(axis=1))
        if best is not None:
            holds, source, mode = best
            first = pd.Series(np.arange(n)).groupby(codes[source]).first()
            keys = df[source].to_numpy(object)[first.to_numpy()]
            values = df[target].to_numpy(object)[_first_with(codes[source], t, mode)]
            found.append(Rule("lookup", [source], target, n, keys=[[_plain(k)] for k in keys],
                              values=[_plain(v) for v in values], holds=round(float(holds), 6)))
    return sorted(found, key=lambda r: -r.holds)[:MAX_NEAR]


def _first_with(source: np.ndarray, target: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Per source code, the first row whose target code is that source's commonest one."""
    rows = np.flatnonzero(target == mode[source])
    first = pd.Series(rows).groupby(source[rows]).first()
    return first.reindex(np.arange(len(mode))).to_numpy()


def _pair_lookups(df, targets, candidates, codes, n_levels) -> list[tuple[str, str, str]]:
    """(a, b, target) for targets determined by two columns together (neither alone)."""
    found, taken = [], set()
    shares = {t: np.bincount(codes[t]) / len(df) for t in targets}
    for i, a in enumerate(candidates):
        for b in candidates[i + 1:]:
            if n_levels[a] * n_levels[b] >= len(df) or {a, b} & taken:
                continue
            key = codes[a] * n_levels[b] + codes[b]
            groups = _Groups({"key": key})
            for target in targets:
                if target in (a, b) or target in taken:
                    continue
                if groups.pure("key", codes[target]) and _chance(key, shares[target]) < np.log(CHANCE):
                    found.append((a, b, target))
                    taken.add(target)  # found once; and a derived column reads nothing later
    return [f for f in found if not {f[0], f[1]} & {t for _, _, t in found}]


def _find_combinations(df, columns, ordered, codes, n_levels) -> list[Rule]:
    """Per column (not one kept in order), the column with fewer values beside which it
    takes the fewest of its values, when those pairs are far fewer than independence gives.
    Sources come before their targets (fewer values first), so a rule's source is final
    before the rule redraws its target."""
    n = len(df)
    position = {c: i for i, c in enumerate(df.columns)}
    rank = {c: (n_levels[c], position[c]) for c in columns}
    shares = {c: np.bincount(codes[c]) / n for c in columns}
    rules = []
    for target in sorted((c for c in columns if c not in ordered), key=rank.get):
        best = None
        for source in columns:
            if rank[source] >= rank[target] or n_levels[source] * n_levels[target] > 4_000_000:
                continue
            pairs = len(np.unique(codes[source] * n_levels[target] + codes[target]))
            # Pairs independent columns would show: each pair (i, j) in some row or not.
            expected = float(np.sum(-np.expm1(n * np.log1p(
                -np.minimum(np.outer(shares[source], shares[target]), 1 - 1e-12)))))
            ratio = pairs / expected
            if ratio < SPARSE and expected - pairs >= MIN_MISSING_PAIRS \
                    and pairs <= min(MAX_COMBINATION_PAIRS, n / MIN_ROWS_PER_PAIR) \
                    and (best is None or ratio < best[0]):
                best = (ratio, source)
        if best is not None:
            source = best[1]
            counts = df.groupby([source, target], dropna=False, sort=True).size()
            rules.append(Rule("combination", [source], target, n,
                              keys=[[_plain(a), _plain(b)] for a, b in counts.index],
                              values=[int(c) for c in counts]))
    return rules


def _find_two_source_combinations(df, columns, ordered, found, codes, n_levels) -> list[Rule]:
    """Per column that no combination reads or sets yet (and not kept in order), the two
    columns with fewer values whose values together allow the fewest of its values, on the
    same terms as one source (a survey's day beside its year and month: any day beside a
    year, any beside a month, two or three beside both). A source may be redrawn to make the
    pair a seen one, so each such rule's three columns are no other rule's, nor in order."""
    n = len(df)
    busy = {c for r in found for c in (*r.sources, r.target)} | set(ordered)
    position = {c: i for i, c in enumerate(df.columns)}
    rank = {c: (n_levels[c], position[c]) for c in columns}
    sources = sorted((c for c in columns if c not in busy), key=rank.get)[:MAX_PAIR_COLUMNS]
    keys = {}  # (a, b) -> dense codes of the two together, and their shares
    for i, a in enumerate(sources):
        for b in sources[i + 1:]:
            key, cells = codes[a] * n_levels[b] + codes[b], n_levels[a] * n_levels[b]
            if cells <= 4_000_000:  # counting beats sorting where the cells are few
                seen = np.bincount(key, minlength=cells) > 0
                if seen.sum() <= n / MIN_ROWS_PER_PAIR:
                    dense = (np.cumsum(seen) - 1)[key]
                    keys[a, b] = dense, np.bincount(dense) / n
                continue
            uniq, dense = np.unique(key, return_inverse=True)
            if len(uniq) <= n / MIN_ROWS_PER_PAIR:
                keys[a, b] = dense, np.bincount(dense) / n
    rules = []
    for target in sorted((c for c in columns if c not in busy and n_levels[c] > 2),
                         key=rank.get):
        if target in busy:  # a source of a rule found on this pass
            continue
        shares = np.bincount(codes[target]) / n
        best = None
        for (a, b), (dense, key_shares) in keys.items():
            if max(rank[a], rank[b]) >= rank[target] or a in busy or b in busy:
                continue
            cells = len(key_shares) * n_levels[target]
            if cells > 4_000_000:
                continue
            pairs = int(np.count_nonzero(np.bincount(dense * n_levels[target] + codes[target],
                                                     minlength=cells)))
            if pairs > min(MAX_COMBINATION_PAIRS, n / MIN_ROWS_PER_PAIR):
                continue
            expected = float(np.sum(-np.expm1(n * np.log1p(
                -np.minimum(np.outer(key_shares, shares), 1 - 1e-12)))))
            ratio = pairs / expected
            if ratio < SPARSE and expected - pairs >= MIN_MISSING_PAIRS \
                    and (best is None or ratio < best[0]):
                best = (ratio, a, b)
        if best is not None:
            _, a, b = best
            counts = df.groupby([a, b, target], dropna=False, sort=True).size()
            rules.append(Rule("combination", [a, b], target, n,
                              keys=[[_plain(x), _plain(y), _plain(t)] for x, y, t in counts.index],
                              values=[int(c) for c in counts]))
            busy |= {a, b, target}
    return rules


def _lookup_rule(df, sources, target) -> Rule:
    first = df.drop_duplicates(sources)
    keys = [[_plain(v) for v in row] for row in first[sources].itertuples(index=False)]
    return Rule("lookup", sources, target, len(df), keys=keys,
                values=[_plain(v) for v in first[target]])


def _chance(key: np.ndarray, p: np.ndarray) -> float:
    """Log-probability that every group of `key` is pure by chance, the target's values
    drawn independently with shares `p`."""
    sizes = np.bincount(key)
    sizes = sizes[sizes > 1]
    if not len(sizes):
        return 0.0
    size, count = np.unique(sizes, return_counts=True)
    pure = np.array([np.sum(p ** s) for s in size])
    return float(np.sum(count * np.log(np.maximum(pure, 1e-300))))


def _find_orders(df, columns, encoders) -> list[Rule]:
    numeric = {c: v for c in columns if (v := _ordered_values(df[c], encoders[c])) is not None}
    names = list(numeric)
    rules = []
    rng = np.random.default_rng(0)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if not _same_form(df[a], df[b], encoders[a], encoders[b]):
                continue
            x, y = numeric[a], numeric[b]
            both = ~np.isnan(x) & ~np.isnan(y)
            if both.sum() < 30:
                continue
            x, y = x[both], y[both]
            for low, high, lo, hi in ((a, b, x, y), (b, a, y, x)):
                if np.all(lo <= hi) and np.any(lo < hi):
                    # Would independent values break it often enough to show it is a rule?
                    broken = np.mean(lo[rng.permutation(len(lo))] > hi)
                    if len(lo) * broken > -np.log(CHANCE):
                        rules.append(Rule("order", [low], high, int(both.sum()),
                                          repair=_order_repair(lo, hi)))
                    break
    return _without_implied(rules, df)


def _order_repair(low: np.ndarray, high: np.ndarray) -> str:
    """How a row drawn out of order is put back: swapping suits two columns on one scale
    that are rarely equal (a day's low and high temperature); where the real rows are often
    equal (a first floor that is the whole living area) or the two scales hardly meet (cars
    beside garage square feet: a swap would make a 2 sq ft garage), the low value is lowered
    to the high one instead."""
    ties = float(np.mean(low == high))
    q_low, q_high = np.quantile(low, [0.25, 0.75]), np.quantile(high, [0.25, 0.75])
    overlap = max(q_low[0], q_high[0]) <= min(q_low[1], q_high[1])
    return "lower" if ties >= LOWER_FROM_TIES or not overlap else "swap"


def _without_implied(rules: list[Rule], df: pd.DataFrame) -> list[Rule]:
    """Drops `a <= c` where `a <= b <= c` with `b` present wherever `a` and `c` are: the
    others imply it, and swapping along it would move values between unrelated columns."""
    above = {}
    for r in rules:
        above.setdefault(r.sources[0], set()).add(r.target)
    present = {c: df[c].notna().to_numpy() for r in rules for c in (r.sources[0], r.target)}
    kept = []
    for r in rules:
        a, c = r.sources[0], r.target
        both = present[a] & present[c]
        if not any(c in above.get(b, ()) and present[b][both].all()
                   for b in above[a] if b != c):
            kept.append(r)
    return kept


def _ordered_values(s: pd.Series, enc: Any) -> np.ndarray | None:
    if isinstance(enc, DatetimeEncoder):
        ns, nulls = enc._parse(s, lenient=True)
        return np.where(nulls, np.nan, ns.astype("float64"))
    if enc.kind in ("numeric", "discrete") and pd.api.types.is_numeric_dtype(s) \
            and not pd.api.types.is_bool_dtype(s):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(np.isfinite(values), values, np.nan)
    return None


def _same_form(a: pd.Series, b: pd.Series, ea: Any, eb: Any) -> bool:
    """Values that can be swapped between the two columns without changing either's form."""
    if a.dtype != b.dtype:
        return False
    if isinstance(ea, DatetimeEncoder) or isinstance(eb, DatetimeEncoder):
        return isinstance(ea, DatetimeEncoder) and isinstance(eb, DatetimeEncoder) \
            and (ea.values_, ea.format_, ea.offset_, ea.tz_) == (eb.values_, eb.format_,
                                                                 eb.offset_, eb.tz_)
    return True


# ------------------------------------------------------------------ helpers
def _put_in_order(rows: pd.DataFrame, orders: list[Rule], encoders: dict) -> None:
    """Swap (or lower) values until `low <= high` for every order rule: each swap of an
    inverted pair lowers the number of inversions and lowering only lowers, so this ends
    (passes are capped all the same)."""
    names = sorted({c for r in orders for c in (r.sources[0], r.target)})
    values = {c: _ordered_values(rows[c], encoders[c]) for c in names}
    raw = {c: rows[c].to_numpy(copy=True) for c in names}
    whole = {c: pd.api.types.is_integer_dtype(rows[c].dtype) for c in names}
    for _ in range(len(orders) + 1):
        swapped = False
        for r in orders:
            lo, hi = r.sources[0], r.target
            bad = values[lo] > values[hi]  # NaN compares False: nulls are never swapped
            if bad.any() and r.repair == "lower":
                swapped = True
                if whole[lo]:  # an integer column takes the floor
                    values[lo][bad] = np.floor(values[hi][bad])
                    raw[lo][bad] = values[lo][bad].astype(np.int64)
                else:
                    values[lo][bad], raw[lo][bad] = values[hi][bad], raw[hi][bad]
            elif bad.any():
                swapped = True
                values[lo][bad], values[hi][bad] = values[hi][bad], values[lo][bad].copy()
                raw[lo][bad], raw[hi][bad] = raw[hi][bad], raw[lo][bad].copy()
        if not swapped:
            break
    for c in names:
        rows[c] = pd.Series(raw[c], index=rows.index, dtype=rows[c].dtype)


class _Pairs:
    """A combination rule's pairs as codes: which are seen and, per source value (the values
    of its one or two sources together), the target values seen beside it (non-null first,
    numbers in order) with cumulative shares."""

    def __init__(self, r: Rule):
        n_sources = len(r.sources)
        self.levels = [pd.Index(pd.unique(np.array([_key(k[j]) for k in r.keys], dtype=object)))
                       for j in range(n_sources)]
        composite = _combine([lv.get_indexer([_key(k[j]) for k in r.keys])
                              for j, lv in enumerate(self.levels)], self.levels)
        self.source = pd.Index(pd.unique(composite))
        targets = [_key(k[-1]) for k in r.keys]
        self.target = pd.Index(pd.unique(np.array(targets, dtype=object)))
        a = self.source.get_indexer(composite)
        b = self.target.get_indexer(targets)
        self.pairs = pd.Index(a * len(self.target) + b)
        null = np.array([v == _NULL for v in self.target])
        numbers = [v for v in self.target[~null]]
        # Numbers are redrawn to the nearest allowed value, so a near miss stays near.
        self.numeric = bool(numbers) and all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in numbers)
        if self.numeric:
            self.numbers = np.sort(np.asarray(numbers, np.float64))
            rank = np.zeros(len(self.target), np.int64)
            rank[~null] = np.searchsorted(self.numbers, np.asarray(numbers, np.float64))
        else:
            rank = np.arange(len(self.target))
        order = np.lexsort((rank[b], null[b], a))
        a, b = a[order], b[order]
        self.b = b
        self.cum = np.cumsum(np.asarray(r.values, np.float64)[order])
        ids = np.arange(len(self.source))
        self.first = np.searchsorted(a, ids, side="left")
        self.last = np.searchsorted(a, ids, side="right")
        self.nn_last = self.first + np.bincount(a[~null[b]], minlength=len(ids))
        self.width = len(self.target) + 1
        # Nulls sort after every value, keeping the keys in order for searchsorted.
        self.nn_key = a * self.width + np.where(null[b], len(self.target), rank[b])
        self.values = np.array([np.nan if v == _NULL else v for v in self.target], object)

    def codes(self, sources: list[pd.Series], target: pd.Series
              ) -> tuple[np.ndarray, np.ndarray]:
        each = [_codes(s, lv) for s, lv in zip(sources, self.levels)]
        a = self.source.get_indexer(_combine(each, self.levels))
        a[np.any([c < 0 for c in each], axis=0)] = -1
        return a, _codes(target, self.target)

    def seen(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ok = (a >= 0) & (b >= 0)
        return ok & (self.pairs.get_indexer(np.where(ok, a * len(self.target) + b, -1)) >= 0)

    def redraw(self, a: np.ndarray, b: np.ndarray, target: pd.Series,
               rng: np.random.Generator) -> pd.Series:
        """`target` with each value not seen beside its row's source value replaced by one
        that is. A null stays null where it can and a value stays a value: a number goes to
        the nearest allowed number, anything else is drawn in the training rows' proportions.
        A source value never seen keeps its row as it is."""
        bad = ~self.seen(a, b) & (a >= 0)
        u = rng.random(int(bad.sum()))
        if not bad.any():
            return target
        at = a[bad]
        was_null = target.isna().to_numpy()[bad]
        has_value = self.nn_last[at] > self.first[at]
        # Only values are allowed where the generated null is not; only nulls where no value is.
        stop = np.where(was_null | ~has_value, self.last[at], self.nn_last[at])
        start = np.where(self.first[at] > 0, self.cum[np.maximum(self.first[at] - 1, 0)], 0.0)
        end = self.cum[stop - 1]
        picked = np.searchsorted(self.cum, start + u * (end - start), side="right")
        picked = np.clip(picked, self.first[at], stop - 1)
        if self.numeric:
            near = ~was_null & has_value
            if near.any():
                picked[near] = self._nearest(at[near], target.to_numpy()[bad][near])
        out = target.astype(object).to_numpy(copy=True)
        out[bad] = self.values[self.b[picked]]
        return _cast_like(out, target)

    def _nearest(self, at: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per row, the position of the allowed value beside source `at` nearest `values`."""
        values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
        query = at * self.width + np.searchsorted(self.numbers, values)
        pos = np.searchsorted(self.nn_key, query)
        lo = np.clip(pos - 1, self.first[at], self.nn_last[at] - 1)
        hi = np.clip(pos, self.first[at], self.nn_last[at] - 1)
        level = lambda p: self.numbers[self.nn_key[p] - at * self.width]  # noqa: E731
        return np.where(np.abs(level(lo) - values) <= np.abs(level(hi) - values), lo, hi)


def _source_pairs(r: Rule) -> tuple[_Pairs, _Pairs]:
    """A two-source combination's sources as combinations of their own: the first beside
    the second, the second beside the first, with the rows each pair was seen in."""
    counts: dict[tuple, int] = {}
    for (x, y, _), c in zip(r.keys, r.values):
        counts[x, y] = counts.get((x, y), 0) + c
    a, b = r.sources
    return (_Pairs(Rule(r.kind, [b], a, r.support, keys=[[y, x] for x, y in counts],
                        values=list(counts.values()))),
            _Pairs(Rule(r.kind, [a], b, r.support, keys=[[x, y] for x, y in counts],
                        values=list(counts.values()))))


def _lookup_table(r: Rule) -> tuple[list[pd.Index], pd.Index, np.ndarray]:
    """Per source, its values' index; the combined index of the keys; the values looked up."""
    levels = [pd.Index(pd.unique(np.array([_key(k[j]) for k in r.keys], dtype=object)))
              for j in range(len(r.sources))]
    combined = _combine([lv.get_indexer([_key(k[j]) for k in r.keys])
                         for j, lv in enumerate(levels)], levels)
    return levels, pd.Index(combined), np.array([np.nan if v is None else v for v in r.values],
                                                object)


def _date_part(enc: DatetimeEncoder, s: pd.Series, part: str, zone: str | None = None
               ) -> np.ndarray:
    """The part of each date on its own wall clock (the column's offset) or in `zone`,
    NaN for nulls."""
    ns, nulls = enc._parse(s, lenient=True)
    if zone:
        stamps = pd.Series(ns.astype("datetime64[ns]")).dt.tz_localize("UTC").dt.tz_convert(
            ZoneInfo(zone))
    else:
        stamps = pd.Series((ns + enc.offset_ * 60_000_000_000).astype("datetime64[ns]"))
    got = getattr(stamps.dt, part).to_numpy(dtype="float64")
    got[nulls] = np.nan
    return got


def _key(v: Any) -> Any:
    return _NULL if v is None or (isinstance(v, float) and np.isnan(v)) else v


def _plain(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v


def _codes(s: pd.Series, levels: pd.Index) -> np.ndarray:
    if isinstance(s.dtype, pd.CategoricalDtype):
        by_category = levels.get_indexer([_key(v) for v in s.cat.categories])
        codes = s.cat.codes.to_numpy()
        out = np.where(codes >= 0, by_category[np.maximum(codes, 0)], -1)
        if (codes < 0).any():
            out[codes < 0] = levels.get_indexer([_NULL])[0]
        return out
    values = s.astype(object).to_numpy()
    values[pd.isna(values)] = _NULL
    return levels.get_indexer(values)


def _combine(codes: list[np.ndarray], levels: list[pd.Index]) -> np.ndarray:
    out = np.zeros(len(codes[0]), np.int64)
    for c, lv in zip(codes, levels):
        out = out * (len(lv) + 1) + np.maximum(c, 0)
    return out


def _cast_like(values: np.ndarray, like: pd.Series) -> pd.Series:
    """`values` (object) as a Series of `like`'s dtype and index."""
    if isinstance(like.dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical(values, categories=like.cat.categories), index=like.index,
                         name=like.name)
    s = pd.Series(values, index=like.index, name=like.name, dtype=object)
    nulls = s.isna()
    if like.dtype == object:
        s[nulls] = np.nan
        return s
    if nulls.any() and pd.api.types.is_integer_dtype(like.dtype) \
            and isinstance(like.dtype, np.dtype):
        return s.astype("float64")
    return s.astype(like.dtype)
