"""Related tables synthesized together: a dataset schema and `DatabaseSynthesizer`."""
from .schema import DatasetSchema, DatasetSchemaError, ForeignKey, TableSpec, infer_dataset_schema
from .synthesizer import DatabaseSynthesizer

__all__ = ["DatabaseSynthesizer", "DatasetSchema", "DatasetSchemaError", "ForeignKey",
           "TableSpec", "infer_dataset_schema"]
