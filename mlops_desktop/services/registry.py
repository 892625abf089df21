"""The model registry: versions, notes and tags, aliases behind gates, comparison, lineage.

``project.models``. Nothing here loads a model except a gate check that must re-measure the
alias's holder on the candidate's hold-out rows; run that in a worker process
(``check_promotion_task``), never in the GUI's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops_desktop.domain import comparison
from mlops_desktop.domain.dataset import check_name
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.gates import Gate, GateResult, check_metric_names, parse_gates
from mlops_desktop.domain.lineage import LineageStep
from mlops_desktop.domain.model import Alias, Evaluation, ModelVersion, Promotion
from mlops_desktop.domain.serving import RUNNING
from mlops_desktop.domain.signature import Signature
from mlops_desktop.domain.tasks import TaskState

if TYPE_CHECKING:
    from mlops_desktop.services.project import Project

#: Aliases the GUI offers first; any other valid name works too.
STANDARD_ALIASES = ("candidate", "production")
MAX_TAG_LENGTH = 40


@dataclass(frozen=True)
class PromotionCheck:
    """What the gates of ``model@alias`` say about a candidate version, before it moves."""

    model: str
    alias: str
    version_label: str
    version_uuid: str
    holder_label: str | None
    holder_uuid: str | None
    gates: tuple[str, ...]
    results: tuple[GateResult, ...]
    basis: str  # where the holder's numbers came from
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: The hold-out metrics the gates compared: the candidate's, and the holder's (None
    #: without a holder) as measured per ``basis``.
    candidate_metrics: dict = field(default_factory=dict)
    holder_metrics: dict | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        if not self.results:
            return f"{self.model}@{self.alias} has no gates."
        if self.passed:
            return f"All {len(self.results)} gates of {self.model}@{self.alias} pass."
        return f"{len(self.failed)} of {len(self.results)} gates fail: " + "; ".join(
            f"{r.gate} ({r.message})" for r in self.failed
        )

    def to_json(self) -> dict:
        return {
            "alias": f"{self.model}@{self.alias}",
            "version": self.version_label,
            "holder": self.holder_label,
            "passed": self.passed,
            "basis": self.basis,
            "gates": [r.to_json() for r in self.results],
            "warnings": list(self.warnings),
        }


def _same_holdout(a: ModelVersion, b: ModelVersion) -> bool:
    """Whether two versions were measured on the very same hold-out rows."""
    return (
        a.dataset_version_uuid == b.dataset_version_uuid
        and a.spec.get("target") == b.spec.get("target")
        and a.spec.get("validation", {}).get("holdout")
        == b.spec.get("validation", {}).get("holdout")
        and a.spec.get("validation", {}).get("seed") == b.spec.get("validation", {}).get("seed")
        and a.spec.get("validation", {}).get("stratify")
        == b.spec.get("validation", {}).get("stratify")
    )


def primary_score(version: ModelVersion) -> str:
    """``CV f1_macro 0.953 ± 0.02``: the number a version is chosen by."""
    name = version.metrics.get("primary")
    score = version.metrics.get("cv", {}).get(name) or {}
    if score.get("mean") is None:
        return f"{version.estimator}, no CV score"
    return f"CV {name} {score['mean']:.4g} ± {score.get('std') or 0:.2g}"


def clean_tags(tags) -> list[str]:
    """Tags as typed: trimmed, duplicates and blanks dropped, order kept."""
    result = []
    for tag in tags:
        tag = str(tag).strip()
        if not tag or tag in result:
            continue
        if len(tag) > MAX_TAG_LENGTH or "," in tag:
            raise UserError(
                f"The tag {tag[:60]!r} is too long or has a comma: keep tags short, one word "
                f"or phrase each (under {MAX_TAG_LENGTH} characters)."
            )
        result.append(tag)
    return result


class Models:
    """The model versions of one project: ``project.models``."""

    def __init__(self, project: Project):
        self._project = project
        self._file = project.file
        self._repo = project.file.models

    # -- reading --------------------------------------------------------------------------------

    def list(self) -> list[ModelVersion]:
        return self._repo.all()

    def get(self, ref: str) -> ModelVersion:
        """``MODEL:N``, ``MODEL@ALIAS`` or ``MODEL`` (its latest version)."""
        return self._repo.get(ref)

    def by_uuid(self, version_uuid: str) -> ModelVersion:
        return self._repo.by_uuid(version_uuid)

    def browse(self) -> dict[str, list]:
        return self._repo.browse()

    def plots(self, version: ModelVersion) -> dict:
        if version.plots_sha256 is None:
            return {}
        return json.loads(self._file.blobs.get(version.plots_sha256))

    def evaluation_plots(self, evaluation: Evaluation) -> dict:
        if evaluation.plots_sha256 is None:
            return {}
        return json.loads(self._file.blobs.get(evaluation.plots_sha256))

    def evaluations(self, version: ModelVersion) -> list[Evaluation]:
        return self._file.evaluations.of_version(version.uuid)

    def aliases(self, model: str | None = None) -> list[Alias]:
        return self._file.aliases.all(self._repo.model_uuid(model) if model else None)

    def aliases_of(self, version: ModelVersion) -> list[Alias]:
        return self._file.aliases.of_version(version.uuid)

    def promotions(self, model: str) -> list[Promotion]:
        return self._file.aliases.promotions(self._repo.model_uuid(model))

    def compare(self, refs: list[str]) -> comparison.Comparison:
        if len(refs) < 2:
            raise UserError("Comparing needs at least two model versions: choose more.")
        versions = [self.get(ref) for ref in refs]
        labels = [v.label for v in versions]
        if len(set(labels)) < len(labels):
            raise UserError(f"{', '.join(refs)} name the same version twice: choose others.")
        return comparison.compare(versions)

    # -- notes and tags -------------------------------------------------------------------------

    def set_notes(self, ref: str, notes: str) -> ModelVersion:
        version = self.get(ref)
        notes = notes.strip()
        if notes == version.notes:
            return version
        with self._file.transaction():
            self._repo.set_notes(version.uuid, notes)
            self._file.events.record(
                "model.notes", f"Edited the notes of {version.label}", "model_version", version.uuid
            )
        return self._repo.by_uuid(version.uuid)

    def set_tags(self, ref: str, tags) -> ModelVersion:
        version = self.get(ref)
        tags = clean_tags(tags)
        if tags == version.tags:
            return version
        with self._file.transaction():
            self._repo.set_tags(version.uuid, tags)
            shown = ", ".join(tags) or "none"
            self._file.events.record(
                "model.tags", f"Tagged {version.label}: {shown}", "model_version", version.uuid
            )
        return self._repo.by_uuid(version.uuid)

    # -- gates and aliases ----------------------------------------------------------------------

    def gates(self, model: str, alias: str) -> list[str]:
        return self._file.aliases.gates(self._repo.model_uuid(model), alias)

    def all_gates(self, model: str) -> dict[str, list[str]]:
        return self._file.aliases.all_gates(self._repo.model_uuid(model))

    def set_gates(self, model: str, alias: str, texts) -> list[str]:
        """Replace the gates of ``model@alias`` (an empty list removes them)."""
        model_uuid = self._repo.model_uuid(model)
        alias = check_name(alias, "alias")
        gates = parse_gates(texts)
        known = {name for v in self._versions_of(model_uuid) for name in v.metrics["holdout"]}
        check_metric_names(gates, known)
        texts = [g.text for g in gates]
        with self._file.transaction():
            self._file.aliases.set_gates(model_uuid, alias, texts)
            shown = "; ".join(texts) or "none"
            self._file.events.record(
                "alias.gates", f"Set the gates of {model}@{alias}: {shown}", "model", model_uuid
            )
        return texts

    def _versions_of(self, model_uuid: str) -> list[ModelVersion]:
        return [v for v in self._repo.all() if v.model_uuid == model_uuid]

    def check_promotion(
        self,
        ref: str,
        alias: str,
        state: TaskState | None = None,
        same_rows: bool = False,
    ) -> PromotionCheck:
        """Run the gates of ``model@alias`` on version ``ref``; nothing is written.

        A relative gate compares with the current holder on the candidate's hold-out rows. When
        the two were measured on different rows, the holder is re-measured on the candidate's
        (which loads its model: call this in a worker process, as the GUI does); ``same_rows``
        re-measures it then even without a relative gate, for a like-for-like comparison.
        """
        version = self.get(ref)
        alias = check_name(alias, "alias")
        model_uuid = version.model_uuid
        holder_uuid = self._file.aliases.holder(model_uuid, alias)
        if holder_uuid == version.uuid:
            raise UserError(f"{version.name}@{alias} already points at {version.label}.")
        holder = self._repo.by_uuid(holder_uuid) if holder_uuid else None
        texts = self._file.aliases.gates(model_uuid, alias)
        gates = [Gate.parse(t) for t in texts]
        basis = "no current holder"
        holder_metrics = None
        if holder is not None:
            basis = f"{holder.label}'s hold-out metrics, measured on the same rows"
            holder_metrics = holder.metrics["holdout"]
            relative = same_rows or any(g.relative for g in gates)
            if relative and not _same_holdout(version, holder):
                holder_metrics = self._remeasure(holder, version, state)
                basis = f"{holder.label} re-measured on {version.label}'s hold-out rows"
        results = tuple(
            g.check(version.metrics["holdout"], holder_metrics, holder and holder.label)
            for g in gates
        )
        warnings = tuple(w for g in gates if (w := g.warning()))
        return PromotionCheck(
            version.name,
            alias,
            version.label,
            version.uuid,
            holder.label if holder else None,
            holder_uuid,
            tuple(texts),
            results,
            basis,
            warnings,
            dict(version.metrics["holdout"]),
            holder_metrics,
        )

    def _remeasure(self, holder: ModelVersion, candidate: ModelVersion, state) -> dict:
        from mlops_desktop.domain.experiment import ExperimentSpec
        from mlops_desktop.domain.metrics import measure
        from mlops_desktop.domain.pipeline import split_holdout
        from mlops_desktop.services.modelfiles import load_model

        if state is not None:
            state.set_progress(None, f"Measuring {holder.label} on {candidate.label}'s hold-out")
        spec = ExperimentSpec.from_json(candidate.spec)
        datasets = self._project.datasets
        frame = datasets.load_frame(datasets.by_uuid(candidate.dataset_version_uuid))
        split = split_holdout(frame, spec, candidate.task)
        model = load_model(self._file.blobs.get(holder.model_sha256))
        if state is not None:
            state.check_cancelled()
        required = Signature.from_json(holder.signature).required
        missing = [c for c in required if c not in split.X_test.columns]
        if missing:
            raise UserError(
                f"{holder.label} needs columns {', '.join(missing)}, which "
                f"{candidate.dataset_label} lacks, so the two cannot be compared on the same "
                "rows: use fixed-bound gates, or retrain the holder on this data."
            )
        return measure(
            model, split.X_test, split.y_test, holder.task, candidate.seed, plots=False
        ).metrics

    def promote(
        self,
        ref: str,
        alias: str,
        reason: str | None = None,
        check: PromotionCheck | None = None,
        state: TaskState | None = None,
    ) -> Promotion:
        """Point ``model@alias`` at ``ref`` if its gates pass, or if ``reason`` overrides them.

        Every attempt is recorded with each gate's result, a blocked one included (then
        ``GatesFailedError`` is raised and the alias stays where it was).
        """
        check = check or self.check_promotion(ref, alias, state)
        reason = (reason or "").strip() or None
        model_uuid = self._repo.model_uuid(check.model)
        with self._file.transaction():
            # What was checked must still hold now that the write lock is ours.
            holder = self._file.aliases.holder(model_uuid, check.alias)
            gates = self._file.aliases.gates(model_uuid, check.alias)
            if holder != check.holder_uuid or tuple(gates) != check.gates:
                raise UserError(
                    f"{check.model}@{check.alias} or its gates changed while its gates were "
                    "checked: check again, then promote."
                )
            results = [r.to_json() for r in check.results]
            if not check.passed and reason is None:
                outcome = "blocked"
            else:
                outcome = "promoted" if check.passed else "overridden"
            promotion = self._file.aliases.record_promotion(
                model_uuid,
                check.alias,
                check.version_uuid,
                check.version_label,
                check.holder_label,
                outcome,
                results,
                reason,
            )
            if outcome != "blocked":
                self._file.aliases.set(model_uuid, check.alias, check.version_uuid)
                was = f" (was {check.holder_label})" if check.holder_label else ""
                how = (
                    f"; gates failed, overridden: {reason}"
                    if outcome == "overridden"
                    else (f"; {len(results)} gates passed" if results else "")
                )
                self._file.events.record(
                    "alias.set",
                    f"Pointed {check.model}@{check.alias} at {check.version_label}{was}{how}",
                    "model_version",
                    check.version_uuid,
                    {"gates": results, "reason": reason, "previous": check.holder_label},
                )
        if outcome == "blocked":
            raise GatesFailedError(check)
        return promotion

    def remove_alias(self, model: str, alias: str) -> None:
        model_uuid = self._repo.model_uuid(model)
        with self._file.transaction():
            holder = self._file.aliases.holder(model_uuid, alias)
            if holder is None:
                raise UserError(f"Model {model} has no alias {alias!r}: nothing to remove.")
            label = self._repo.by_uuid(holder).label
            self._file.aliases.remove(model_uuid, alias)
            self._file.events.record(
                "alias.removed",
                f"Removed {model}@{alias} (it pointed at {label})",
                "model",
                model_uuid,
            )

    # -- deleting -------------------------------------------------------------------------------

    def delete(self, ref: str) -> str:
        """Delete one version; refused while an alias points at it or a server serves it.
        Returns its label."""
        version = self.get(ref)
        with self._file.transaction():
            aliases = self._file.aliases.of_version(version.uuid)
            if aliases:
                names = ", ".join(a.label for a in aliases)
                raise UserError(
                    f"{version.label} cannot be deleted while {names} "
                    f"{'points' if len(aliases) == 1 else 'point'} at it: move or remove "
                    "the alias first."
                )
            # A server following an alias is covered above: it serves what the alias names.
            serving = [
                s
                for s in self._file.serving.all(version.uuid)
                if s.state() == RUNNING and s.served_as == version.label
            ]
            if serving:
                raise UserError(
                    f"{version.label} cannot be deleted while it is served at "
                    f"{', '.join(s.url for s in serving)}: stop the server first."
                )
            self._repo.delete(version.uuid)
            self._file.events.record(
                "model.deleted",
                f"Deleted {version.label} ({version.estimator}, trained {version.created_at[:10]})",
                "model_version",
                version.uuid,
            )
        return version.label

    # -- lineage --------------------------------------------------------------------------------

    def lineage(self, ref: str) -> list[LineageStep]:
        """Raw file -> dataset versions -> experiment -> job -> this version -> aliases ->
        serving sessions (oldest first)."""
        version = self.get(ref)
        steps: list[LineageStep] = []
        datasets = self._project.datasets
        chain = (
            datasets.chain(datasets.by_uuid(version.dataset_version_uuid))
            if version.dataset_version_uuid
            else []
        )
        retrained = self._file.retrains.of_job(version.job_uuid) if version.job_uuid else None
        if retrained is not None:
            reason = f" ({retrained.reason})" if retrained.reason else ""
            steps.append(
                LineageStep(
                    "model_version",
                    retrained.source_label,
                    f"retrained on {retrained.data_label} by retraining #{retrained.number} "
                    f"for {retrained.model}@{retrained.alias}{reason}",
                    retrained.source_uuid,
                )
            )
        if chain and chain[0].source is not None:
            source = chain[0].source
            steps.append(
                LineageStep(
                    "raw_file",
                    source.name,
                    f"{source.format} file, sha256 {source.sha256[:12]}…",
                    chain[0].uuid,
                )
            )
        for data in chain:
            if data.recipe:
                detail = f"{len(data.recipe)} cleaning steps from {data.parent_label}"
            elif data.source is not None:
                detail = f"imported: {data.rows:,} rows × {data.columns} columns"
            else:
                detail = f"{data.rows:,} rows × {data.columns} columns"
            steps.append(LineageStep("dataset_version", data.label, detail, data.uuid))
        if not chain:
            steps.append(
                LineageStep(
                    "dataset_version", version.dataset_label or "?", "deleted", missing=True
                )
            )
        experiment_exists = any(
            e.name == version.experiment_name for e in self._project.experiments.list()
        )
        steps.append(
            LineageStep(
                "experiment",
                version.experiment_name,
                f"{version.estimator} on target {version.spec.get('target')}"
                + ("" if experiment_exists else " (experiment deleted or renamed since)"),
                version.experiment_name if experiment_exists else None,
                missing=not experiment_exists,
            )
        )
        job = self._file.jobs.find(version.job_uuid) if version.job_uuid else None
        if job is not None:
            steps.append(
                LineageStep(
                    "job",
                    f"#{job.number}",
                    f"trained by {job.created_by}, {version.fit_seconds:.1f} s to fit",
                    str(job.number),
                )
            )
        steps.append(
            LineageStep("model_version", version.label, primary_score(version), version.uuid)
        )
        for alias in self._file.aliases.of_version(version.uuid):
            steps.append(
                LineageStep(
                    "alias", alias.label, f"set by {alias.set_by} {alias.set_at[:10]}", alias.label
                )
            )
        serving = self._file.serving
        for session in reversed(serving.all(version.uuid)):
            # A session that followed an alias may have answered with several versions.
            answered = serving.version_requests(session.uuid)
            requests = answered.get(version.uuid, 0) if len(answered) > 1 else session.requests
            steps.append(
                LineageStep(
                    "serving_session", session.label_for(requests), session.detail(), session.uuid
                )
            )
        for retrain in self._file.retrains.of_source(version.uuid):
            how = f"retraining #{retrain.number} on {retrain.trained_on_label}"
            if retrain.version_label is None:
                steps.append(
                    LineageStep("job", f"#{retrain.job_number}", how, str(retrain.job_number))
                )
                continue
            verdict = f": {retrain.review.summary}" if retrain.review else ", not reviewed yet"
            steps.append(
                LineageStep(
                    "model_version",
                    retrain.version_label,
                    f"retrained from this version by {how}{verdict}",
                    retrain.version_uuid,
                )
            )
        return steps


class GatesFailedError(UserError):
    """A promotion the gates blocked; the attempt is recorded, the alias did not move."""

    def __init__(self, check: PromotionCheck):
        super().__init__(
            f"{check.version_label} was not promoted to {check.model}@{check.alias}: "
            f"{check.summary()} Improve the model, change the gates, or override with a reason."
        )
        self.check = check


def check_promotion_task(path: str, ref: str, alias: str, state: TaskState) -> PromotionCheck:
    from mlops_desktop.services.project import Project

    with Project.open(path, read_only=True) as project:
        return project.models.check_promotion(ref, alias, state)
