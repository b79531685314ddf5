"""Reversible per-column encoders, one small class per column kind, and the table encoder."""
from .base import KINDS, ColumnEncoder, ConditionError, Constraint, Encoded, UnsupportedColumnError
from .categorical import BooleanEncoder, CategoricalEncoder, DiscreteNumericEncoder
from .constant import ConstantEncoder
from .datetime import DatetimeEncoder
from .identifier import IdEncoder
from .numeric import NumericEncoder
from .table import TableEncoder
from .text import TextEncoder
from .timeofday import TimeOfDayEncoder, detect_time_format

__all__ = ["KINDS", "BooleanEncoder", "CategoricalEncoder", "ColumnEncoder", "ConditionError", "ConstantEncoder", "Constraint",
           "DatetimeEncoder", "DiscreteNumericEncoder", "Encoded", "IdEncoder", "NumericEncoder",
           "TableEncoder", "TextEncoder", "TimeOfDayEncoder", "UnsupportedColumnError",
           "detect_time_format"]
