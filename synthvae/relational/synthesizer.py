"""Related tables synthesized together: parents first, each child beside its parent row.

Each table gets its own `Synthesizer`, fitted on the table widened with what its keys point
to (`training_frame`):

- `<fk>.<column>` for every column of the row each foreign key points to, so a flight is
  learned beside its plane's make and its airports' places, and `<fk>.__link` ("parent",
  "null" or "orphan") where some rows point to no parent;
- `__n.<child>.<fk>`, the number of rows of each child table pointing to the row, so how many
  children a parent has is learned from the parent's own columns.

Parent columns come first, so every column of the child's own is decoded hearing them.

Sampling goes parents first. A table without foreign keys is sampled at `scale` times its
rows. A child's rows are drawn beside the rows of its context parent (`DatasetSchema.context`):
each generated parent row is repeated as many times as its `__n` column says and given to
`Synthesizer.sample_given`, which draws the child's own columns conditioned on the parent's.
Its other foreign keys are matched afterwards: the child drew the columns of the parent it
wants; each row is sent to the nearest generated parent row that still has room, room being
that parent's own `__n` count (`match`). Keys are never copied: every table's primary key is
an `id` column, regenerated, and each foreign key takes its matched parent's new key.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import MiniBatchKMeans
from sklearn.neighbors import NearestNeighbors

from ..io import atomic_dir
from ..synthesizer import Synthesizer
from .schema import DatasetSchema, DatasetSchemaError, ForeignKey, infer_dataset_schema

FORMAT, FORMAT_VERSION = "synthvae.dataset", 1
LINK = "__link"
PARENT, NULL, ORPHAN = "parent", "null", "orphan"
SHORTFALL = 0.5  # parents' counts below this share of the real children: rows drawn alone
FOLLOWS = 0.99  # a foreign key constant within this share of context groups: one per group
CANDIDATES = 16  # nearest parents each child row may be matched to before any with room


def count_column(fk: ForeignKey) -> str:
    return f"__n.{fk.child}.{fk.column}"


def attributes(table: str, schema: DatasetSchema, df: pd.DataFrame) -> list[str]:
    """A table's own columns that children learn beside: not its keys, not derived ones."""
    spec = schema.tables[table]
    return [c for c in df.columns if c != spec.primary_key and c not in spec.foreign_keys
            and not c.startswith("__")]


def training_frame(table: str, tables: dict[str, pd.DataFrame], schema: DatasetSchema
                   ) -> pd.DataFrame:
    """`table` widened with its parents' columns and its children's counts (module doc)."""
    df = tables[table]
    spec = schema.tables[table]
    parts = []
    context = schema.context(table)
    fks = [context] + [fk for fk in schema.foreign_keys if fk.child == table and fk != context] \
        if context else []
    for fk in fks:
        parent = tables[fk.parent].set_index(fk.parent_column)
        cols = attributes(fk.parent, schema, tables[fk.parent])
        joined = parent[cols].reindex(df[fk.column]).set_axis(df.index)
        joined.columns = [f"{fk.column}.{c}" for c in cols]
        link = np.where(df[fk.column].isna(), NULL,
                        np.where(df[fk.column].isin(parent.index), PARENT, ORPHAN))
        if (link != PARENT).any():
            joined.insert(0, f"{fk.column}.{LINK}", link)
        parts.append(joined)
    own = df[[c for c in df.columns if c not in spec.foreign_keys]]
    counts = {}
    for fk in schema.foreign_keys:
        if fk.parent == table:
            n = tables[fk.child][fk.column].value_counts()
            counts[count_column(fk)] = n.reindex(df[spec.primary_key]).fillna(0).astype(
                np.int64).to_numpy()
    return pd.concat([*parts, own, pd.DataFrame(counts, index=df.index)], axis=1)


class DatabaseSynthesizer:
    """Learns related tables together and samples whole consistent databases.

    `DatabaseSynthesizer(...).fit(tables, schema)` takes a dict of DataFrames and a
    `DatasetSchema` (inferred from the tables when None: `infer_dataset_schema`); `sample
    (scale)` returns a dict of DataFrames with the tables' columns, order and dtypes, about
    `scale` times as many rows of each table, every foreign key pointing to a generated
    parent (or null, or an orphan where the real rows had those, at their real rate).

    `orphans`: what to do with foreign key values missing from the parent: "error" refuses
    the tables (one line naming the key and the count), "keep" learns them as orphans,
    "drop" drops their rows. `particles`: see `Synthesizer.sample_given`. `table_params`
    maps a table to `Synthesizer` parameters for it alone; the other keyword arguments go to
    every table's `Synthesizer`. The same `random_state` gives the same database.
    """

    def __init__(self, *, orphans: str = "error", particles: int = 8,
                 table_params: dict[str, dict[str, Any]] | None = None,
                 random_state: int | None = None, **synthesizer_params: Any):
        self.orphans = orphans
        self.particles = particles
        self.table_params = table_params
        self.random_state = random_state
        self.synthesizer_params = synthesizer_params

    # ------------------------------------------------------------------ fitting
    def fit(self, tables: dict[str, pd.DataFrame], schema: DatasetSchema | None = None
            ) -> DatabaseSynthesizer:
        if not isinstance(tables, dict) or not tables or not all(
                isinstance(df, pd.DataFrame) for df in tables.values()):
            raise TypeError("tables must be a non-empty dict of table name to DataFrame")
        unknown = set(self.table_params or {}) - set(tables)
        if unknown:
            raise ValueError(f"table_params names tables not given: {sorted(unknown)}")
        self.schema_ = schema if schema is not None else infer_dataset_schema(tables)
        self.schema_.check_structure()
        tables, self.orphans_found_ = self.schema_.check(tables, self.orphans)
        start = time.perf_counter()
        self.order_ = self.schema_.order()
        seeds = np.random.SeedSequence(self.random_state).spawn(len(self.order_) + 1)
        self._sample_seed = int(seeds[-1].generate_state(1)[0])
        self._draws = 0
        self.synthesizers_: dict[str, Synthesizer] = {}
        self.columns_: dict[str, dict[str, str]] = {}
        self.n_rows_: dict[str, int] = {}
        self.links_: dict[str, dict[str, dict[str, int]]] = {}
        self.fit_seconds_: dict[str, float] = {}
        self.follows_: dict[str, list[str]] = {}
        # per table and foreign key: distinct parents referenced, distinct orphan keys
        self.referenced_: dict[str, dict[str, list[int]]] = {}
        for name, seed in zip(self.order_, seeds):
            df = tables[name]
            spec = self.schema_.tables[name]
            frame = training_frame(name, tables, self.schema_)
            kinds = dict(spec.column_kinds)
            if spec.primary_key:
                kinds[spec.primary_key] = "id"
            params = {**self.synthesizer_params, **(self.table_params or {}).get(name, {})}
            params["column_kinds"] = {**kinds, **(params.get("column_kinds") or {})}
            t = time.perf_counter()
            self.synthesizers_[name] = Synthesizer(
                **params, random_state=int(seed.generate_state(1)[0] % 2**31)).fit(frame)
            self.fit_seconds_[name] = round(time.perf_counter() - t, 2)
            self.follows_[name] = _follows(df, self.schema_, name)
            self.columns_[name] = {c: str(df[c].dtype) for c in df.columns}
            self.n_rows_[name] = len(df)
            self.referenced_[name] = {
                fk.column: _referenced(df[fk.column], tables[fk.parent][fk.parent_column])
                for fk in self.schema_.foreign_keys if fk.child == name}
            self.links_[name] = {
                fk.column: {k: int(v) for k, v in frame[f"{fk.column}.{LINK}"]
                            .value_counts().items()}
                for fk in self.schema_.foreign_keys
                if fk.child == name and f"{fk.column}.{LINK}" in frame}
        self.fit_seconds_["total"] = round(time.perf_counter() - start, 2)
        return self

    # ----------------------------------------------------------------- sampling
    def sample(self, scale: float = 1.0, random_state: int | None = None,
               conditions: dict[str, dict[str, Any]] | None = None) -> dict[str, pd.DataFrame]:
        """A whole database: about `scale` times the real rows of each table (a table
        without foreign keys exactly `round(scale * rows)`, children as their generated
        parents' counts say). `conditions` maps a table without foreign keys to
        `Synthesizer.sample` conditions for its rows (only planes of one manufacturer, say);
        their children follow them."""
        self._check_fitted()
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
            raise ValueError(f"scale must be a positive number, got {scale!r}")
        for name in conditions or {}:
            if name not in self.synthesizers_:
                raise ValueError(f"conditions name a table not in the dataset: {name!r}")
            if self.schema_.context(name):
                raise ValueError(f"conditions on table {name!r}: only tables without foreign "
                                 f"keys take conditions; their children follow them")
        if random_state is None:
            seed = np.random.SeedSequence([self._sample_seed, self._draws])
            self._draws += 1
        else:
            seed = np.random.SeedSequence(random_state)
        seeds = dict(zip(self.order_, seed.spawn(len(self.order_))))
        self.fallbacks_: list[str] = []
        wide: dict[str, pd.DataFrame] = {}
        out: dict[str, pd.DataFrame] = {}
        for name in self.order_:
            rng = np.random.default_rng(seeds[name])
            wide[name] = self._sample_table(name, wide, scale, rng, (conditions or {}).get(name))
        for name in self.order_:
            rng = np.random.default_rng(seeds[name].spawn(1)[0])
            out[name] = self._finish(name, wide, rng)
        return out

    def _sample_table(self, name: str, wide: dict[str, pd.DataFrame], scale: float,
                      rng: np.random.Generator, conditions: dict[str, Any] | None
                      ) -> pd.DataFrame:
        synth = self.synthesizers_[name]
        context = self.schema_.context(name)
        state = int(rng.integers(2**31))
        if context is None:
            return synth.sample(int(round(scale * self.n_rows_[name])), random_state=state,
                                conditions=conditions)
        parents = wide[context.parent]
        counts = parents[count_column(context)].fillna(0).clip(lower=0).round().astype(np.int64)
        expected = scale * self.links_[name].get(context.column, {}).get(
            PARENT, self.n_rows_[name])
        if counts.sum() < SHORTFALL * expected:
            # The parents' counts missed their children (3 airports of 1,458 hold all the
            # weather rows: too rare a pattern for the parent's model). The rows are drawn
            # on their own, with the columns of the parent they want, and matched to it.
            self.fallbacks_.append(name)
            rows = synth.sample(int(round(scale * self.n_rows_[name])), random_state=state)
            link = f"{context.column}.{LINK}"
            link_of = rows[link].astype(object).to_numpy() if link in rows \
                else np.full(len(rows), PARENT, object)
            rows[context.column] = self._matched(context, rows, link_of, parents, rng)
            return rows
        cols = attributes(context.parent, self.schema_, parents)
        given = parents[cols].loc[parents.index.repeat(counts.to_numpy())]
        given.columns = [f"{context.column}.{c}" for c in cols]
        keys = parents[self.schema_.tables[context.parent].primary_key]
        key_of = keys.loc[given.index].to_numpy()
        given = given.reset_index(drop=True)
        link = f"{context.column}.{LINK}"
        parts, links = [], []
        if len(given) or link not in synth.encoder_.columns_:
            if link in synth.encoder_.columns_:
                given.insert(0, link, PARENT)
            parts.append(synth.sample_given(given, random_state=state,
                                            particles=self.particles))
            links.append(np.full(len(given), PARENT, object))
        # Rows whose context key is null or an orphan hang from no parent: as many as the
        # real rows had, times the scale.
        loose = {k: v for k, v in self.links_[name].get(context.column, {}).items()
                 if k != PARENT}
        n_loose = {k: int(round(scale * v)) for k, v in loose.items()}
        if sum(n_loose.values()):
            kinds = np.repeat(list(n_loose), list(n_loose.values()))
            parts.append(synth.sample_given(pd.DataFrame({link: kinds}),
                                            random_state=state + 1, particles=self.particles))
            links.append(kinds)
        rows = pd.concat(parts, ignore_index=True) if parts else synth.sample(0)
        link_of = np.concatenate(links) if links else np.zeros(0, object)
        rows[context.column] = self._keys_for(context, link_of,
                                              np.concatenate([key_of, np.full(
                                                  len(rows) - len(key_of), None, object)]),
                                              parents, rng)
        return rows

    def _keys_for(self, fk: ForeignKey, link: np.ndarray, matched: np.ndarray,
                  parents: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
        """Foreign key values: the matched parent's key, null, or a fresh orphan key that no
        generated parent has."""
        values = pd.Series(matched, dtype=object)
        values[link == NULL] = None
        orphans = np.flatnonzero(link == ORPHAN)
        if len(orphans):
            ids = self.synthesizers_[fk.parent].encoder_
            enc = next(e for e in ids.encoders_ if e.name == fk.parent_column)
            taken = set(parents[fk.parent_column].dropna().tolist())
            fresh, position = [], len(parents)
            key = int(rng.integers(2**62))
            # as many distinct orphan keys, for as many rows, as the real rows had
            real_rows = self.links_[fk.child].get(fk.column, {}).get(ORPHAN, 1)
            pool = max(1, int(round(self.referenced_[fk.child][fk.column][1]
                                    * len(orphans) / max(real_rows, 1))))
            while len(fresh) < pool:
                batch = enc.ids(position + 1_000_000_007, pool, key).tolist()
                fresh += [v for v in batch if v not in taken][:pool - len(fresh)]
                position += pool
            # every key of the pool used at least once, the rest drawn at random
            which = np.concatenate([rng.permutation(pool),
                                    rng.integers(pool, size=max(0, len(orphans) - pool))])
            values.iloc[orphans] = np.asarray(fresh, object)[rng.permutation(which[:len(orphans)])]
        return values

    def _matched(self, fk: ForeignKey, rows: pd.DataFrame, link: np.ndarray,
                 parents: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Foreign key values for `rows`, which drew the columns of the parent they want:
        the nearest generated parent's key with room (`match`), or null or an orphan as
        their link says."""
        linked = np.flatnonzero(link == PARENT)
        cols = attributes(fk.parent, self.schema_, parents)
        wanted = rows.iloc[linked][[f"{fk.column}.{c}" for c in cols]].set_axis(cols, axis=1)
        distinct = self.referenced_[fk.child][fk.column][0]
        pick = match(wanted, parents[cols], parents[count_column(fk)].to_numpy(), rng,
                     max(1, int(round(distinct * len(linked) / max(1, self.links_[fk.child].get(
                         fk.column, {}).get(PARENT, self.n_rows_[fk.child]))))))
        matched = np.full(len(rows), None, object)
        matched[linked] = parents[fk.parent_column].to_numpy()[pick]
        return self._keys_for(fk, link, matched, parents, rng).to_numpy()

    def _finish(self, name: str, wide: dict[str, pd.DataFrame], rng: np.random.Generator
                ) -> pd.DataFrame:
        """The table in its real columns: foreign keys other than the context matched to
        generated parents, the wide columns dropped, the dtypes restored."""
        rows = wide[name]
        context = self.schema_.context(name)
        for fk in self.schema_.foreign_keys:
            if fk.child != name or fk == context:
                continue
            link_col = f"{fk.column}.{LINK}"
            link = rows[link_col].astype(object).to_numpy() if link_col in rows \
                else np.full(len(rows), PARENT, object)
            rows[fk.column] = self._matched(fk, rows, link, wide[fk.parent], rng)
            if context and fk.column in self.follows_.get(name, []):
                # one value per context parent, as in the real rows (a plane flies for one
                # airline): its first child's
                group = rows[context.column].astype(object)
                first = rows[fk.column].groupby(group, sort=False, dropna=True).transform("first")
                rows[fk.column] = first.where(group.notna(), rows[fk.column])
        out = pd.DataFrame(index=rows.index)
        for column, dtype in self.columns_[name].items():
            out[column] = _as_dtype(rows[column], dtype)
        return out.reset_index(drop=True)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Writes `dataset.json` (format, schema, parameters) and each table's synthesizer
        under `tables/<name>/`: data only, nothing that runs on load. The folder appears
        whole or not at all (written beside it, then renamed)."""
        self._check_fitted()
        path = Path(path)
        with atomic_dir(path) as tmp:
            for name, synth in self.synthesizers_.items():
                synth.save(tmp / "tables" / name)
            meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "schema": self.schema_.to_dict(), "order": self.order_,
                    "params": {"orphans": self.orphans, "particles": self.particles,
                               "table_params": self.table_params,
                               "random_state": self.random_state, **self.synthesizer_params},
                    "columns": self.columns_, "n_rows": self.n_rows_, "links": self.links_,
                    "orphans_found": self.orphans_found_, "follows": self.follows_,
                    "referenced": self.referenced_, "fit_seconds": self.fit_seconds_,
                    "sample_seed": self._sample_seed}
            (tmp / "dataset.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> DatabaseSynthesizer:
        path = Path(path)
        meta_file = path / "dataset.json"
        if not meta_file.is_file():
            raise FileNotFoundError(f"no saved dataset synthesizer at {path} "
                                    f"(missing dataset.json)")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise DatasetSchemaError(f"{meta_file}: unsupported format {meta.get('format')!r} "
                                     f"version {meta.get('format_version')!r}")
        self = cls(**meta["params"])
        self.schema_ = DatasetSchema.from_dict(meta["schema"])
        self.order_ = meta["order"]
        self.synthesizers_ = {name: Synthesizer.load(path / "tables" / name)
                              for name in self.order_}
        self.columns_, self.n_rows_ = meta["columns"], meta["n_rows"]
        self.links_, self.orphans_found_ = meta["links"], meta["orphans_found"]
        self.follows_, self.referenced_ = meta["follows"], meta["referenced"]
        self.fit_seconds_, self._sample_seed = meta["fit_seconds"], meta["sample_seed"]
        self._draws = 0
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "synthesizers_"):
            raise RuntimeError("this DatabaseSynthesizer is not fitted yet; call fit first")


def _referenced(keys: pd.Series, parent_keys: pd.Series) -> list[int]:
    """[distinct parents the keys point to, distinct orphan keys (pointing to no parent)]."""
    found = keys.isin(parent_keys)
    return [int(keys[found].nunique()), int(keys[~found & keys.notna()].nunique())]


def _follows(df: pd.DataFrame, schema: DatasetSchema, name: str) -> list[str]:
    """The foreign keys other than the context that hold one value among a context parent's
    children (in FOLLOWS of the parents with two children or more)."""
    context = schema.context(name)
    if context is None:
        return []
    keyed = df[df[context.column].notna()]
    sizes = keyed.groupby(context.column).size()
    if not (sizes > 1).any():
        return []
    out = []
    for fk in schema.foreign_keys:
        if fk.child == name and fk != context:
            distinct = keyed.groupby(context.column)[fk.column].nunique(dropna=False)
            if (distinct[sizes > 1] <= 1).mean() >= FOLLOWS:
                out.append(fk.column)
    return out


def match(wanted: pd.DataFrame, parents: pd.DataFrame, room: np.ndarray,
          rng: np.random.Generator, distinct: int = 0) -> np.ndarray:
    """For each row of `wanted` (the parent columns a child row drew), the position of a row
    of `parents` to point to: the nearest one with room left, room being the parents'
    counts scaled to the rows wanted, so each parent gets about as many children as it was
    generated to have. Rows propose to their nearest parents in rounds (nearest first); a
    parent with more proposals than room takes a random subset. Rows left over go to the
    parents with room left, then anywhere.

    When the parents' counts hold less than SHORTFALL of the rows (3 airports of 1,458
    are the origin of every flight: the parent model misses so rare a pattern), the rows are
    cut into `distinct` clusters of what they want (as many parents as the real rows pointed
    to), and each cluster, largest first, goes to its nearest parent not yet taken."""
    n, m = len(wanted), len(parents)
    if n == 0 or m == 0:
        if n:
            raise DatasetSchemaError("child rows point to a parent table with no rows")
        return np.zeros(0, np.int64)
    room = np.nan_to_num(np.asarray(room, np.float64), nan=0.0).clip(min=0)
    features_w, features_p = _features(wanted, parents)
    if room.sum() < SHORTFALL * n and distinct > 0:
        return _clustered(features_w, features_p, min(distinct, n, m), rng)
    room = _apportion(room, n) if room.sum() > 0 else np.full(m, n, np.int64)
    k = min(CANDIDATES, m)
    _, near = NearestNeighbors(n_neighbors=k).fit(features_p).kneighbors(features_w)
    pick = np.full(n, -1, np.int64)
    for j in range(k):
        todo = np.flatnonzero(pick < 0)
        if not len(todo):
            break
        target = near[todo, j]
        # random priority among rows proposing to one parent; accept up to its room
        order = np.lexsort((rng.random(len(todo)), target))
        target, rows = target[order], todo[order]
        first = np.searchsorted(target, target, side="left")
        rank = np.arange(len(target)) - first
        ok = rank < room[target]
        pick[rows[ok]] = target[ok]
        np.subtract.at(room, target[ok], 1)
    todo = np.flatnonzero(pick < 0)
    if len(todo):
        spare = np.repeat(np.arange(m), room.clip(min=0).astype(np.int64))
        rng.shuffle(spare)
        pick[todo[:len(spare)]] = spare[:len(todo)]
        rest = todo[len(spare):]
        pick[rest] = near[rest, 0]
    return pick


def _clustered(features_w: np.ndarray, features_p: np.ndarray, k: int,
               rng: np.random.Generator) -> np.ndarray:
    """Rows cut into k clusters (k-means), each cluster sent to its own nearest parent."""
    km = MiniBatchKMeans(n_clusters=k, n_init=3, random_state=int(rng.integers(2**31)),
                         batch_size=4096).fit(features_w)
    sizes = np.bincount(km.labels_, minlength=k)
    _, near = NearestNeighbors(n_neighbors=min(len(features_p), k + 1)).fit(
        features_p).kneighbors(km.cluster_centers_)
    taken = np.zeros(len(features_p), bool)
    parent_of = np.empty(k, np.int64)
    for c in np.argsort(-sizes, kind="stable"):  # k clusters: a loop over parents, not rows
        free = near[c][~taken[near[c]]]
        parent_of[c] = free[0] if len(free) else near[c][0]
        taken[parent_of[c]] = True
    return parent_of[km.labels_]


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers in proportion to `weights` summing to `total` (largest remainders)."""
    share = weights / weights.sum() * total
    out = np.floor(share).astype(np.int64)
    left = total - int(out.sum())
    if left > 0:
        out[np.argsort(-(share - out), kind="stable")[:left]] += 1
    return out


def _features(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Both frames of the same columns as numbers for a nearest-neighbour search: numbers
    scaled by the parents' spread, with a null flag; other values one-hot (the 50 most
    common parent values, each weighted 1)."""
    cols_a, cols_b = [], []
    for c in b.columns:
        x, y = a[c], b[c]
        numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
        if pd.api.types.is_datetime64_any_dtype(y):
            x, y = _epoch(x), _epoch(y)
            numeric = True
        if numeric:
            xa = pd.to_numeric(x, errors="coerce").to_numpy(np.float64)
            yb = y.to_numpy(np.float64)
            mu, sd = np.nanmean(yb) if np.isfinite(yb).any() else 0.0, np.nanstd(yb)
            sd = sd if np.isfinite(sd) and sd > 0 else 1.0
            cols_a += [np.nan_to_num((xa - mu) / sd), np.isnan(xa).astype(np.float64)]
            cols_b += [np.nan_to_num((yb - mu) / sd), np.isnan(yb).astype(np.float64)]
        else:
            top = y.astype(str).value_counts().index[:50]
            xs, ys = x.astype(str).to_numpy(), y.astype(str).to_numpy()
            cols_a += [(xs == v).astype(np.float64) for v in top]
            cols_b += [(ys == v).astype(np.float64) for v in top]
    if not cols_b:
        return np.zeros((len(a), 1)), np.zeros((len(b), 1))
    return np.column_stack(cols_a), np.column_stack(cols_b)


def _epoch(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, errors="coerce", utc=True)
    return (s - pd.Timestamp(0, tz="UTC")).dt.total_seconds()


def _as_dtype(s: pd.Series, dtype: str) -> pd.Series:
    """A generated column in the real column's dtype; integers with nulls stay floats, as
    pandas reads them."""
    try:
        if dtype.startswith(("int", "uint")) and s.isna().any():
            return pd.to_numeric(s, errors="coerce").astype(np.float64)
        return s.astype(dtype)
    except (TypeError, ValueError):
        return s
