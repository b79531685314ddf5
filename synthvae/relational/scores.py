"""How faithful a synthetic database is: SDMetrics' multi-table quality (column shapes,
column pair trends, cardinality, inter-table trends), referential integrity per foreign key,
the children-per-parent KS complement per relationship, and per table the detection AUC
(a classifier two-sample test: 0.5 = indistinguishable) of the table joined to its context
parent's columns."""
from __future__ import annotations

import time
import warnings

import pandas as pd

from ..evaluation.detection import detection
from ..evaluation.fidelity import sdmetrics_metadata
from .schema import DatasetSchema


def multi_table_metadata(tables: dict[str, pd.DataFrame], schema: DatasetSchema) -> dict:
    """SDMetrics (and SDV) multi-table metadata: keys as ids, the other columns as the
    single-table scores read them."""
    meta: dict = {"tables": {}, "relationships": []}
    for name, spec in schema.tables.items():
        keys = sorted({c for c in [spec.primary_key, *spec.foreign_keys] if c})
        cols = sdmetrics_metadata(tables[name].drop(columns=keys))["columns"]
        cols.update({c: {"sdtype": "id"} for c in keys})
        meta["tables"][name] = {"columns": {c: cols[c] for c in tables[name].columns}}
        if spec.primary_key:
            meta["tables"][name]["primary_key"] = spec.primary_key
    for fk in schema.foreign_keys:
        meta["relationships"].append({"parent_table_name": fk.parent,
                                      "parent_primary_key": fk.parent_column,
                                      "child_table_name": fk.child,
                                      "child_foreign_key": fk.column})
    return meta


def integrity(tables: dict[str, pd.DataFrame], schema: DatasetSchema) -> dict[str, float]:
    """Per foreign key, the share of its non-null values that find their parent row."""
    out = {}
    for fk in schema.foreign_keys:
        values = tables[fk.child][fk.column].dropna()
        found = values.isin(tables[fk.parent][fk.parent_column])
        out[fk.describe()] = round(float(found.mean()) if len(values) else 1.0, 4)
    return out


def joined_with_context(tables: dict[str, pd.DataFrame], schema: DatasetSchema, name: str
                        ) -> tuple[pd.DataFrame, list[str]]:
    """`name`'s rows with their context parent's columns (prefixed `parent.`; inner join),
    and the columns to score: not keys."""
    spec = schema.tables[name]
    keys = {c for c in [spec.primary_key, *spec.foreign_keys] if c}
    own = [c for c in tables[name].columns if c not in keys]
    fk = schema.context(name)
    if fk is None:
        return tables[name], own
    parent = tables[fk.parent]
    pspec = schema.tables[fk.parent]
    pcols = [c for c in parent.columns if c != pspec.primary_key and c not in pspec.foreign_keys]
    renamed = parent[[fk.parent_column, *pcols]].rename(
        columns={c: f"{fk.parent}.{c}" for c in pcols})
    joined = tables[name].merge(renamed, left_on=fk.column, right_on=fk.parent_column,
                                how="inner", suffixes=("", "__parent"))
    return joined, own + [f"{fk.parent}.{c}" for c in pcols]


def score_database(real: dict[str, pd.DataFrame], synth: dict[str, pd.DataFrame],
                   schema: DatasetSchema, seed: int = 0) -> dict:
    from sdmetrics.multi_table import CardinalityShapeSimilarity
    with warnings.catch_warnings():  # its deprecation notice is SDMetrics' to act on, not the user's
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.multi_table import QualityReport

    start = time.perf_counter()
    synth = {name: synth[name][list(real[name].columns)] for name in real}
    meta = multi_table_metadata(real, schema)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, synth, meta, verbose=False)
        parts = report.get_properties().set_index("Property")["Score"].round(4).to_dict()
        cardinality = CardinalityShapeSimilarity.compute_breakdown(real, synth, meta)
    tables = {}
    for name in schema.order():
        r, columns = joined_with_context(real, schema, name)
        s, _ = joined_with_context(synth, schema, name)
        table_meta = {"columns": sdmetrics_metadata(r[columns])["columns"]}
        try:
            det = detection(r[columns], s[columns], table_meta, seed=seed)
        except ValueError as err:  # scikit-learn on a degenerate table: say so, score the rest
            det = {"auc": None, "not_available": f"detection failed: {err}"}
        tables[name] = {"rows_real": len(real[name]), "rows_synthetic": len(synth[name]),
                        "detection_auc": det["auc"],
                        "detection_with": schema.context(name).parent
                        if schema.context(name) else None,
                        "giveaways": det.get("giveaways", [])[:3],
                        "not_available": det.get("not_available")}
    return {"quality": round(float(report.get_score()), 4), "quality_parts": parts,
            "referential_integrity": integrity(synth, schema),
            "referential_integrity_real": integrity(real, schema),
            "cardinality_ks_complement": {_relation(k): round(float(v["score"]), 4)
                                          for k, v in cardinality.items()},
            "tables": tables, "seconds": round(time.perf_counter() - start, 1)}


def _relation(key) -> str:
    """SDMetrics keys cardinality by (parent, child) table pairs."""
    return " -> ".join(map(str, key)) if isinstance(key, tuple) else str(key)
