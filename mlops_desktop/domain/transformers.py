"""The project's own scikit-learn transformers, used inside compiled pipelines.

They are plain estimators with no state beyond their parameters and fitted names, so model
files can list them among the trusted types to load.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from mlops_desktop.domain.experiment import DATETIME_PARTS

_ACCESSORS = {"weekday": "day_of_week", "dayofyear": "day_of_year"}


def _moments(column: pd.Series) -> pd.Series:
    """Dates, times of day or durations as timestamps: a time of day falls on 1970-01-01 and
    a duration counts from it, so their hour is right and their date parts are constant."""
    if pd.api.types.is_timedelta64_dtype(column.dtype):
        return pd.Timestamp(0) + column
    if pd.api.types.is_object_dtype(column.dtype):
        column = column.map(
            lambda v: dt.datetime.combine(dt.date(1970, 1, 1), v) if isinstance(v, dt.time) else v
        )
    return pd.to_datetime(column, errors="coerce")


def _stack(columns: list[np.ndarray], rows: int) -> np.ndarray:
    return np.column_stack(columns) if columns else np.empty((rows, 0))


class _ColumnTransformer(TransformerMixin, BaseEstimator):
    """Remembers the names of the columns it is fitted on and, unless told otherwise, gives
    them back as its output's names."""

    def fit(self, X, y=None):
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def get_feature_names_out(self, input_features=None):
        return np.asarray(
            input_features if input_features is not None else self.feature_names_in_, dtype=object
        )


class DatetimeParts(_ColumnTransformer):
    """Dates as numbers a model can use: year, month, day, weekday, hour, day of year.

    Missing dates give NaN in every part (impute afterwards).
    """

    def __init__(self, parts=("year", "month", "weekday")):
        self.parts = parts

    def fit(self, X, y=None):
        unknown = sorted(set(self.parts) - set(DATETIME_PARTS))
        if unknown:
            raise ValueError(f"unknown datetime part {unknown[0]!r}; use {DATETIME_PARTS}")
        return super().fit(X, y)

    def transform(self, X):
        frame = pd.DataFrame(X)
        columns = []
        for name in frame.columns:
            values = _moments(frame[name])
            for part in self.parts:
                numbers = getattr(values.dt, _ACCESSORS.get(part, part))
                columns.append(numbers.astype("float64").to_numpy())
        return _stack(columns, len(frame))

    def get_feature_names_out(self, input_features=None):
        names = super().get_feature_names_out(input_features)
        return np.asarray([f"{n}_{p}" for n in names for p in self.parts], dtype=object)


class TextColumn(_ColumnTransformer):
    """One text column as the 1-D array of strings TF-IDF expects (missing text is empty)."""

    def fit(self, X, y=None):
        if pd.DataFrame(X).shape[1] != 1:
            raise ValueError("TextColumn takes exactly one column")
        return super().fit(X, y)

    def transform(self, X):
        column = pd.DataFrame(X).iloc[:, 0]
        return column.where(column.notna(), "").astype(str).to_numpy()


class BooleanColumns(_ColumnTransformer):
    """True/false columns as 1.0 and 0.0, missing as NaN (impute afterwards).

    scikit-learn's imputer refuses a bool dtype, and true/false with gaps arrives as objects.
    """

    def transform(self, X):
        frame = pd.DataFrame(X)
        columns = [
            frame[name].astype("boolean").to_numpy(dtype="float64", na_value=np.nan)
            for name in frame.columns
        ]
        return _stack(columns, len(frame))
