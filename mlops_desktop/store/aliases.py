"""Aliases, the gates that guard them, and the record of every promotion."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from mlops_desktop.domain.model import Alias, Promotion
from mlops_desktop.store.clock import utc_now
from mlops_desktop.store.damage import reads
from mlops_desktop.store.identity import current_actor

if TYPE_CHECKING:
    from mlops_desktop.store.project_file import ProjectFile

_ALIASES = """
    SELECT m.name, a.name, v.version, a.version_uuid, a.set_at, a.set_by
    FROM aliases a
    JOIN models m ON m.uuid = a.model_uuid
    JOIN model_versions v ON v.uuid = a.version_uuid
"""
_PROMOTIONS = """
    SELECT p.uuid, m.name, p.alias, p.version_label, p.previous_label, p.outcome, p.gates,
           p.reason, p.created_at, p.created_by
    FROM promotions p
    JOIN models m ON m.uuid = p.model_uuid
"""


class AliasRepository:
    def __init__(self, project: ProjectFile):
        self._project = project

    @property
    def _conn(self):
        return self._project.conn

    def all(self, model_uuid: str | None = None) -> list[Alias]:
        where, args = ("WHERE a.model_uuid = ?", (model_uuid,)) if model_uuid else ("", ())
        rows = self._conn.execute(
            f"{_ALIASES} {where} ORDER BY m.name COLLATE NOCASE, a.name", args
        )
        return [Alias(*row) for row in rows]

    def of_version(self, version_uuid: str) -> list[Alias]:
        rows = self._conn.execute(
            f"{_ALIASES} WHERE a.version_uuid = ? ORDER BY a.name", (version_uuid,)
        )
        return [Alias(*row) for row in rows]

    def holder(self, model_uuid: str, name: str) -> str | None:
        row = self._conn.execute(
            "SELECT version_uuid FROM aliases WHERE model_uuid = ? AND name = ?", (model_uuid, name)
        ).fetchone()
        return row[0] if row else None

    def set(self, model_uuid: str, name: str, version_uuid: str) -> None:
        """Point the alias at the version; call in a transaction."""
        self._conn.execute(
            "INSERT INTO aliases (model_uuid, name, version_uuid, set_at, set_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_uuid, name) DO UPDATE SET "
            "version_uuid = excluded.version_uuid, set_at = excluded.set_at, "
            "set_by = excluded.set_by",
            (model_uuid, name, version_uuid, utc_now(), current_actor()),
        )

    def remove(self, model_uuid: str, name: str) -> bool:
        cursor = self._conn.execute(
            "DELETE FROM aliases WHERE model_uuid = ? AND name = ?", (model_uuid, name)
        )
        return cursor.rowcount > 0

    # -- gates ----------------------------------------------------------------------------------

    @reads("promotion gates")
    def gates(self, model_uuid: str, alias: str) -> list[str]:
        row = self._conn.execute(
            "SELECT gates FROM alias_gates WHERE model_uuid = ? AND alias = ?", (model_uuid, alias)
        ).fetchone()
        return json.loads(row[0]) if row else []

    @reads("promotion gates")
    def all_gates(self, model_uuid: str) -> dict[str, list[str]]:
        rows = self._conn.execute(
            "SELECT alias, gates FROM alias_gates WHERE model_uuid = ? ORDER BY alias",
            (model_uuid,),
        )
        return {alias: json.loads(gates) for alias, gates in rows}

    def set_gates(self, model_uuid: str, alias: str, gates: list[str]) -> None:
        if not gates:
            self._conn.execute(
                "DELETE FROM alias_gates WHERE model_uuid = ? AND alias = ?", (model_uuid, alias)
            )
            return
        self._conn.execute(
            "INSERT INTO alias_gates (model_uuid, alias, gates, updated_at, updated_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (model_uuid, alias) DO UPDATE SET "
            "gates = excluded.gates, updated_at = excluded.updated_at, "
            "updated_by = excluded.updated_by",
            (model_uuid, alias, json.dumps(gates), utc_now(), current_actor()),
        )

    # -- promotions -----------------------------------------------------------------------------

    def record_promotion(
        self,
        model_uuid: str,
        alias: str,
        version_uuid: str,
        version_label: str,
        previous_label: str | None,
        outcome: str,
        gates: list[dict],
        reason: str | None,
    ) -> Promotion:
        promotion_uuid = str(uuid.uuid4())
        self._conn.execute(
            "INSERT INTO promotions (uuid, model_uuid, alias, version_uuid, version_label, "
            "previous_label, outcome, gates, reason, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                promotion_uuid,
                model_uuid,
                alias,
                version_uuid,
                version_label,
                previous_label,
                outcome,
                json.dumps(gates),
                reason,
                utc_now(),
                current_actor(),
            ),
        )
        return self.promotions(promotion_uuid=promotion_uuid)[0]

    @reads("promotions")
    def promotions(
        self, model_uuid: str | None = None, promotion_uuid: str | None = None
    ) -> list[Promotion]:
        if promotion_uuid:
            where, args = "WHERE p.uuid = ?", (promotion_uuid,)
        elif model_uuid:
            where, args = "WHERE p.model_uuid = ?", (model_uuid,)
        else:
            where, args = "", ()
        rows = self._conn.execute(f"{_PROMOTIONS} {where} ORDER BY p.created_at DESC", args)
        return [Promotion(*row[:6], json.loads(row[6]), *row[7:]) for row in rows]
