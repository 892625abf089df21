"""What the server is serving: the loaded version, swapped whole when an alias moves.

A request takes ``holder.current`` once when it arrives and finishes on that version; a new
version replaces it with one assignment, so no request ever sees half of each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

from mlops_desktop.services.predictors import (
    Predictor,
    ServedColumn,
    load_predictor,
    methods_of,
    served_columns,
)
from mlops_desktop.serving.batcher import DEFAULT_MAX_ROWS, Batcher

log = logging.getLogger("mlops_desktop.serving")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class ServedModel:
    """One loaded version with its own batcher."""

    predictor: Predictor
    columns: tuple[ServedColumn, ...]
    methods: tuple[str, ...]
    batcher: Batcher
    alias: str | None = None  # "churn@production" when served by alias
    loaded_at: str = field(default_factory=_now)

    @property
    def label(self) -> str:
        return self.predictor.version.label

    def metadata(self) -> dict:
        version = self.predictor.version
        signature = version.signature
        return {
            "model": version.name,
            "version": version.version,
            "label": version.label,
            "uuid": version.uuid,
            "alias": self.alias,
            "task": version.task,
            "classes": signature["output"].get("classes", []),
            "target": signature["output"].get("target"),
            "estimator": version.estimator,
            "signature": signature,
            "inputs": [c.to_json() for c in self.columns],
            "predict_methods": list(self.methods),
            "engine": self.predictor.engine,
            "engine_reason": self.predictor.reason,
            "loaded_at": self.loaded_at,
        }


def serve(
    predictor: Predictor,
    executor: Executor | None = None,
    alias: str | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ServedModel:
    """Wrap a predictor for serving; its predicts run on ``executor`` (one thread if None)."""
    executor = executor or ThreadPoolExecutor(1, thread_name_prefix="predict")
    return ServedModel(
        predictor=predictor,
        columns=served_columns(predictor.version),
        methods=methods_of(predictor.version),
        batcher=Batcher(predictor.predict, executor, max_rows),
        alias=alias,
    )


class ModelHolder:
    def __init__(self, served: ServedModel):
        self.current = served

    def swap(self, served: ServedModel) -> ServedModel:
        old, self.current = self.current, served
        return old


class AliasFollower:
    """Follows ``model@alias`` in the project: when it points at another version, that version
    is loaded off the event loop and swapped in. Its own read-only connection lives on its
    own thread (SQLite connections stay on the thread that opened them)."""

    def __init__(
        self,
        path: str,
        alias: str,
        holder: ModelHolder,
        executor: Executor,
        on_event: Callable[[dict], None],
        interval: float = 1.0,
        max_rows: int = DEFAULT_MAX_ROWS,
    ):
        self._path = path
        self._model, _, self._alias = alias.partition("@")
        self.alias = alias
        self._holder = holder
        self._executor = executor  # the predict thread, shared by every version
        self._on_event = on_event
        self._interval = interval
        self._max_rows = max_rows
        self._io = ThreadPoolExecutor(1, thread_name_prefix="alias")
        self._project = None
        self._failed: str | None = None  # a version that would not load: not tried again
        self._missing = False

    # -- on the follower's thread ----------------------------------------------------------------

    def _open(self):
        if self._project is None:
            from mlops_desktop.services.project import Project

            self._project = Project.open(self._path, read_only=True)
        return self._project

    def _holder_uuid(self) -> str | None:
        from mlops_desktop.domain.errors import UserError

        file = self._open().file
        try:
            model_uuid = file.models.model_uuid(self._model)
        except UserError:
            return None  # the model was deleted
        return file.aliases.holder(model_uuid, self._alias)

    def _load(self, version_uuid: str) -> Predictor:
        project = self._open()
        return load_predictor(project, project.models.by_uuid(version_uuid))

    def _close(self) -> None:
        if self._project is not None:
            self._project.close()
            self._project = None

    # -- on the event loop -----------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(self._interval)
                try:
                    await self.check(loop)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("checking %s failed; serving on", self.alias)
        finally:
            await loop.run_in_executor(self._io, self._close)
            self._io.shutdown(wait=False)

    async def check(self, loop=None) -> bool:
        """Look once; swap if the alias moved. True if a new version was swapped in."""
        loop = loop or asyncio.get_running_loop()
        target = await loop.run_in_executor(self._io, self._holder_uuid)
        current = self._holder.current
        if target is None:
            if not self._missing:
                self._missing = True
                log.warning("%s was removed; serving %s on", self.alias, current.label)
                self._on_event(
                    {"event": "alias_missing", "alias": self.alias, "model": current.label}
                )
            return False
        self._missing = False
        if target == current.predictor.version.uuid or target == self._failed:
            return False
        started = time.perf_counter()
        try:
            predictor = await loop.run_in_executor(self._io, self._load, target)
        except Exception as exc:
            self._failed = target
            message = getattr(exc, "message", None) or str(exc)
            log.error("could not load the version %s now points at: %s", self.alias, message)
            self._on_event(
                {
                    "event": "switch_failed",
                    "alias": self.alias,
                    "model": current.label,
                    "reason": message,
                }
            )
            return False
        served = serve(predictor, self._executor, self.alias, self._max_rows)
        old = self._holder.swap(served)
        seconds = time.perf_counter() - started
        log.info(
            "%s moved: serving %s instead of %s (loaded in %.1f s)",
            self.alias,
            served.label,
            old.label,
            seconds,
        )
        self._on_event(
            {
                "event": "switched",
                "alias": self.alias,
                "model": served.label,
                "previous": old.label,
                "engine": predictor.engine,
                "reason": predictor.reason,
            }
        )
        return True
