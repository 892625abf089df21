"""Monitoring a version: its reference, drift of its traffic or of new data, SLA and alerts."""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_desktop.domain import drift as d
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.model import ModelVersion
from mlops_desktop.domain.monitoring import (
    Alert,
    DriftPoint,
    LivePerformance,
    MonitorReport,
    Operations,
    bucket_seconds_for,
    drift_alerts,
)
from mlops_desktop.domain.serving import PREDICTION, epoch_us, iso_us, logged_name, parse_time
from mlops_desktop.domain.signature import Signature
from mlops_desktop.domain.tasks import TaskState, quiet_state

if TYPE_CHECKING:
    import pandas as pd

    from mlops_desktop.services.project import Project
    from mlops_desktop.store import ProjectFile

SERVED = "served"
DATASET = "dataset"
#: At most this many time buckets with requests are each compared in ``drift_over_time``.
MAX_BUCKETS = 1000

Moment = datetime | str | float | None


def reference_of(X_train: pd.DataFrame, signature: Signature, predictions) -> dict:
    """The reference of a version: its training rows' inputs, as the signature names their
    kinds, and its predictions (of the hold-out rows)."""
    kinds = {c.name: c.kind for c in signature.inputs if c.required}
    return d.reference_of(X_train, kinds, predictions, signature.task)


def store_reference(file: ProjectFile, version_uuid: str, reference: dict, source: str) -> None:
    """Keep ``reference`` for the version; call in a transaction."""
    # Plain floats, all finite by construction: no json_safe walk (it cost 12 ms a job).
    sha256 = file.blobs.put(json.dumps(reference, allow_nan=False).encode())
    file.monitoring.set_reference(version_uuid, sha256, source, reference["rows"])


def _compare_log(reference: dict, frame: pd.DataFrame, thresholds: d.Thresholds) -> d.DriftReport:
    """Drift of logged rows: their inputs (under the names they are logged by) and the
    labels predicted (``predict_proba`` requests have none)."""
    inputs = frame.rename(columns={logged_name(n): n for n in reference["columns"]})
    predictions = frame[PREDICTION].dropna() if PREDICTION in frame.columns else None
    if predictions is not None and predictions.empty:
        predictions = None
    with _pool() as pool:
        return d.drift(reference, inputs, thresholds, predictions, pool.map)


def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=max(os.cpu_count() or 1, 2))


def _text(moment: Moment) -> str | None:
    return None if moment is None else iso_us(parse_time(moment))


class Monitoring:
    """Drift, service level and alerts of model versions: ``project.monitoring``."""

    def __init__(self, project: Project):
        self._project = project
        self._file = project.file

    # -- thresholds ---------------------------------------------------------------------------

    def thresholds(self) -> d.Thresholds:
        """The project's thresholds: its settings over the defaults."""
        known = set(d.Thresholds.names())
        stored = {k: v for k, v in self._file.monitoring.thresholds().items() if k in known}
        return d.Thresholds().with_values(stored)

    def set_thresholds(self, values: dict, reset: list[str] | tuple = ()) -> d.Thresholds:
        """Change thresholds (name -> number) and put those in ``reset`` back to their
        defaults, all checked first and recorded in the history."""
        current = self.thresholds()
        defaults = d.Thresholds()
        for name in reset:
            d.Thresholds.check_name(name)
        restored = {name: getattr(defaults, name) for name in reset}
        changed = current.with_values({**restored, **values})
        if changed == current:
            return current
        with self._file.transaction():
            for name in d.Thresholds.names():
                value = getattr(changed, name)
                if value != getattr(current, name) or name in reset:
                    self._file.monitoring.set_threshold(
                        name, None if value == getattr(defaults, name) else value
                    )
            shown = ", ".join(
                f"{n} {getattr(changed, n):g}"
                for n in d.Thresholds.names()
                if getattr(changed, n) != getattr(current, n)
            )
            self._file.events.record(
                "monitoring.thresholds", f"Set the monitoring thresholds: {shown}"
            )
        return changed

    # -- references ---------------------------------------------------------------------------

    def reference(
        self, version: ModelVersion | str, state: TaskState | None = None, model=None
    ) -> dict:
        """The version's reference: stored when it was trained, or made now (and stored)
        from its training data for a version trained before references were kept (which
        loads the model, unless given it, to predict the hold-out rows)."""
        version = self._version(version)
        stored = self._file.monitoring.reference(version.uuid)
        if stored is not None:
            return json.loads(self._file.blobs.get(stored.sha256))
        return self._make_reference(version, state or quiet_state(), model)

    def _make_reference(self, version: ModelVersion, state: TaskState, model) -> dict:
        from mlops_desktop.domain.experiment import ExperimentSpec
        from mlops_desktop.domain.pipeline import split_holdout

        datasets = self._project.datasets
        if version.dataset_version_uuid is None:
            raise UserError(
                f"{version.label} has no reference and the data it was trained on is no "
                "longer in the project, so none can be made: retrain it, then monitor the "
                "new version."
            )
        data = datasets.by_uuid(version.dataset_version_uuid)
        state.set_progress(None, f"Making {version.label}'s reference from {data.label}")
        spec = ExperimentSpec.from_json(version.spec)
        split = split_holdout(datasets.load_frame(data), spec, version.task)
        state.check_cancelled()
        model = model if model is not None else self._load_model(version)
        reference = reference_of(
            split.X_train, Signature.from_json(version.signature), model.predict(split.X_test)
        )
        if not self._project.read_only:
            with self._file.transaction():
                store_reference(self._file, version.uuid, reference, "on demand")
        return reference

    def _load_model(self, version: ModelVersion):
        from mlops_desktop.services.modelfiles import load_version

        return load_version(self._file.blobs, version)

    def _reference_source(self, version: ModelVersion) -> str:
        stored = self._file.monitoring.reference(version.uuid)
        return "not stored" if stored is None else stored.source

    # -- drift --------------------------------------------------------------------------------

    def dataset_drift(
        self,
        version: ModelVersion | str,
        dataset: str,
        recipe: str = "auto",
        state: TaskState | None = None,
    ) -> MonitorReport:
        """Is ``dataset`` (``NAME[:N]``) like the data ``version`` was trained on? Its
        inputs, prepared by the version's recipe as an evaluation would, and the version's
        predictions for them, against the version's reference. Loads the model, so run it
        in a worker process from a window."""
        from mlops_desktop.services.evaluation import prepared_data

        state = state or quiet_state()
        version = self._version(version)
        data = self._project.datasets.get(dataset)
        frame, _, why = prepared_data(self._project, version, data, recipe, state)
        if frame.empty:
            raise UserError(f"{data.label} has no rows to compare: choose a version with data.")
        state.check_cancelled()
        state.set_progress(0.45, f"Predicting {len(frame):,} rows with {version.label}")
        model = self._load_model(version)
        inputs = frame.drop(columns=[version.spec.get("target")], errors="ignore")
        try:
            predictions = model.predict(inputs)
        except (ValueError, TypeError) as exc:
            raise UserError(
                f"{version.label} could not predict {data.label} ({exc}): check that its "
                "columns hold the kinds of values the model was trained on."
            ) from None
        state.check_cancelled()
        reference = self.reference(version, state, model)
        state.set_progress(0.8, "Comparing")
        thresholds = self.thresholds()
        with _pool() as pool:
            report = d.drift(reference, inputs, thresholds, predictions, pool.map)
        against = f"{data.label} ({why})"
        scope = f"{DATASET} {data.uuid}"
        return self._report(version, DATASET, against, None, None, thresholds, report, None, scope)

    def served_drift(
        self,
        version: ModelVersion | str,
        since: Moment = None,
        until: Moment = None,
        state: TaskState | None = None,
    ) -> MonitorReport:
        """Is what ``version`` was asked to predict in ``[since, until)`` (the prediction
        log; open-ended by default) like its training data, and did it keep to the SLA?"""
        state = state or quiet_state()
        version = self._version(version)
        frame = self._window(version, since, until)
        state.check_cancelled()
        reference = self.reference(version, state)
        thresholds = self.thresholds()
        state.set_progress(0.6, f"Comparing {len(frame):,} logged rows")
        report = _compare_log(reference, frame, thresholds)
        operations = self.operations(version, since, until, frame=frame)
        window = (_text(since), _text(until))
        return self._report(
            version, SERVED, "logged predictions", *window, thresholds, report, operations, SERVED
        )

    def drift_over_time(
        self,
        version: ModelVersion | str,
        since: Moment = None,
        until: Moment = None,
        bucket_seconds: float | None = None,
    ) -> list[DriftPoint]:
        """Each column's PSI and status per time bucket of the prediction log (those with
        requests), judged as ``served_drift`` judges a whole window: for a chart."""
        import numpy as np

        version = self._version(version)
        frame = self._window(version, since, until)
        reference = self.reference(version)
        thresholds = self.thresholds()
        at = frame["at"].to_numpy(dtype="datetime64[us]").astype(np.int64)
        width = self._bucket_us(at, bucket_seconds)
        keys = at // width
        buckets = np.unique(keys)
        if len(buckets) > MAX_BUCKETS:
            raise UserError(
                f"That would compare {len(buckets):,} time buckets one by one: choose longer "
                "buckets or a shorter time window."
            )
        points = []
        for key in buckets:
            report = _compare_log(reference, frame[keys == key], thresholds)
            every = [*report.columns, *([report.prediction] if report.prediction else [])]
            start = iso_us(parse_time(int(key) * width / 1_000_000))
            points.append(
                DriftPoint(
                    start,
                    report.rows,
                    {c.name: c.psi for c in every},
                    {c.name: c.status for c in every},
                    report.status,
                )
            )
        return points

    @staticmethod
    def _bucket_us(at, bucket_seconds: float | None) -> int:
        if bucket_seconds is None:
            bucket_seconds = bucket_seconds_for((int(at.max()) - int(at.min())) / 1_000_000)
        if bucket_seconds <= 0:
            raise UserError("A time bucket must last longer than zero seconds.")
        return max(1, round(bucket_seconds * 1_000_000))

    # -- the service level --------------------------------------------------------------------

    def operations(
        self,
        version: ModelVersion | str,
        since: Moment = None,
        until: Moment = None,
        bucket_seconds: float | None = None,
        frame: pd.DataFrame | None = None,
    ) -> Operations:
        """Requests, failures and latency of the version in ``[since, until)`` against the
        SLA thresholds, with the same per time bucket for a chart."""
        version = self._version(version)
        serving = self._project.serving
        if frame is None:
            frame = serving.predictions_frame(version.uuid, since, until)
        latencies = frame.loc[frame["row"] == 0, "latency_ms"].to_numpy()
        errors = serving.errors(version.uuid, since=since, until=until)
        if bucket_seconds is None:
            moments = [epoch_us(parse_time(e.at)) for e in errors]
            if len(frame):
                ends = frame["at"].iloc[[0, -1]]
                moments += [epoch_us(moment.to_pydatetime()) for moment in ends]
            span = (max(moments) - min(moments)) / 1_000_000 if moments else 0.0
            bucket_seconds = bucket_seconds_for(span)
        buckets = serving.traffic(version.uuid, None, bucket_seconds, since, until, logged=frame)
        return Operations.of(latencies, len(errors), self.thresholds(), buckets)

    def performance(
        self,
        version: ModelVersion | str,
        labels: str | os.PathLike,
        since: Moment = None,
        until: Moment = None,
    ) -> LivePerformance:
        """Metrics of ``version``'s logged predictions in ``[since, until)`` against the true
        values in ``labels``: a CSV file, or a dataset version (``NAME[:N]``), with a
        ``request_id`` column (the ``X-Request-Id`` of each answer), optionally ``row`` (the
        row's place in its request, 0 if absent) and the target (under its training name, or
        ``label``)."""
        from mlops_desktop.domain import metrics as m

        version = self._version(version)
        truth = self._labels(labels, version)
        logged = self._window(version, since, until)
        if PREDICTION not in logged.columns or logged[PREDICTION].isna().all():
            raise UserError(
                f"{version.label}'s log has no predicted labels or values to check (it was "
                "asked only for probabilities): ask it for predict."
            )
        joined = logged[["request_id", "row", PREDICTION]].merge(
            truth, on=["request_id", "row"], how="inner"
        )
        joined = joined[joined[PREDICTION].notna() & joined["truth"].notna()]
        if joined.empty:
            raise UserError(
                f"None of the {len(truth):,} labelled rows matches a prediction of "
                f"{version.label} in the log window: check the request ids (each answer's "
                "X-Request-Id header) and the window."
            )
        if version.task == "regression":
            try:
                y_true = joined["truth"].astype(float).to_numpy()
            except ValueError:
                raise UserError(
                    f"The labels for {version.label} must be numbers (it is a regression)."
                ) from None
            live = m.regression_metrics(y_true, joined[PREDICTION].astype(float).to_numpy())
        else:
            # Labels read from a file are text: compare classes by their text.
            classes = [str(c) for c in version.signature["output"].get("classes", [])]
            with warnings.catch_warnings():
                # A few labelled rows often lack a class the model predicted: balanced
                # accuracy then averages over the classes present, which is what to show.
                warnings.filterwarnings("ignore", "y_pred contains classes not in y_true")
                live = m.classification_metrics(
                    joined["truth"].astype(str).to_numpy(),
                    joined[PREDICTION].astype(str).to_numpy(),
                    None,
                    classes,
                )
        return LivePerformance(
            version=version.label,
            task=version.task,
            labelled=len(joined),
            unmatched=len(truth) - len(joined),
            live={k: v for k, v in live.items() if v is not None},
            training=dict(version.metrics.get("holdout", {})),
        )

    def _labels(self, labels: str | os.PathLike, version: ModelVersion) -> pd.DataFrame:
        """``request_id``, ``row`` and ``truth`` from a labels file or dataset version."""
        import pandas as pd

        path = Path(labels)
        if path.suffix.lower() in (".csv", ".tsv", ".txt") or path.exists():
            if not path.is_file():
                raise UserError(f"There is no labels file at {path}: check the path.")
            try:
                frame = pd.read_csv(
                    path, sep=None, engine="python", dtype={"request_id": str, "row": "Int64"}
                )
            except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
                raise UserError(f"{path.name} could not be read as CSV ({exc}).") from None
            source = path.name
        else:
            frame = self._project.datasets.load_frame(str(labels))
            source = str(labels)
        target = version.signature["output"].get("target")
        column = target if target in frame.columns else "label"
        missing = [c for c in ("request_id", column) if c not in frame.columns]
        if missing:
            raise UserError(
                f"{source} needs a request_id column and the true value under "
                f"{target!r} or 'label'; it has no {' or '.join(map(repr, missing))}."
            )
        rows = frame["row"] if "row" in frame.columns else 0
        return pd.DataFrame(
            {
                "request_id": frame["request_id"].astype(str),
                "row": pd.Series(rows, index=frame.index).fillna(0).astype("int32"),
                "truth": frame[column],
            }
        )

    # -- shared -------------------------------------------------------------------------------

    def _version(self, version: ModelVersion | str) -> ModelVersion:
        return version if isinstance(version, ModelVersion) else self._project.models.get(version)

    def _window(self, version: ModelVersion, since: Moment, until: Moment) -> pd.DataFrame:
        frame = self._project.serving.predictions_frame(version.uuid, since, until)
        if frame.empty:
            window = ""
            if since is not None or until is not None:
                window = f" from {_text(since) or 'the start'} until {_text(until) or 'now'}"
            raise UserError(
                f"No predictions of {version.label} were logged{window}: widen the time "
                "window, or serve the version with its log on and send it requests first."
            )
        return frame

    def _report(
        self, version, scope, against, since, until, thresholds, report, operations, key
    ) -> MonitorReport:
        crossed = drift_alerts(report) + (operations.alerts() if operations else [])
        alerts = self._record_alerts(version, key, against, crossed)
        return MonitorReport(
            version=version.label,
            version_uuid=version.uuid,
            scope=scope,
            against=against,
            since=since,
            until=until,
            reference=self._reference_source(version),
            thresholds=thresholds,
            drift=report,
            operations=operations,
            alerts=tuple(alerts),
        )

    def _record_alerts(
        self, version: ModelVersion, scope: str, against: str, crossed: list[Alert]
    ) -> list[Alert]:
        """Mark the crossings this look is the first to see (none before, or a lower level)
        and record each in the history; remember what is crossed now for the next look."""
        previous = self._file.monitoring.alerts(version.uuid, scope)
        order = d.STATUS_ORDER
        marked = [
            replace(a, new=order[a.status] > order[previous.get(a.key, d.GREEN)]) for a in crossed
        ]
        current = {a.key: a.status for a in marked}
        if self._project.read_only or current == previous:
            return marked
        with self._file.transaction():
            for alert in marked:
                if alert.new:
                    self._file.events.record(
                        "monitoring.alert",
                        f"{version.label} on {against}: {alert.sentence()}",
                        "model_version",
                        version.uuid,
                        {"scope": scope, **alert.to_json()},
                    )
            self._file.monitoring.set_alerts(version.uuid, scope, current)
        return marked


@dataclass(frozen=True)
class Look:
    """What the Monitoring panel shows of one look: the report and, for served traffic, the
    drift per time bucket (or why there is none)."""

    report: MonitorReport
    points: tuple[DriftPoint, ...] = ()
    points_note: str = ""


def look_task(
    project_path: str,
    ref: str,
    dataset: str | None,
    since: float | None,
    read_only: bool,
    state: TaskState,
) -> Look:
    """Task function (child process: the statistics, and for a dataset the model, are heavy):
    ``ref``'s served traffic since ``since`` (POSIX seconds; None for all of it), or with
    ``dataset`` that dataset version through the version's recipe."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=read_only) as project:
        monitoring = project.monitoring
        if dataset is not None:
            return Look(monitoring.dataset_drift(ref, dataset, state=state))
        report = monitoring.served_drift(ref, since, state=state)
        state.set_progress(0.85, "Comparing each time bucket")
        try:
            points = tuple(monitoring.drift_over_time(ref, since))
        except UserError as exc:
            return Look(report, (), exc.message)
        return Look(report, points)


def performance_task(
    project_path: str, ref: str, labels: str, since: float | None, state: TaskState
) -> LivePerformance:
    """Task function (child process: a long log is read and joined): ``ref``'s live metrics
    on its logged predictions since ``since`` whose true values ``labels`` holds."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        state.set_progress(None, f"Matching the labels with {ref}'s logged predictions")
        return project.monitoring.performance(ref, labels, since=since)
