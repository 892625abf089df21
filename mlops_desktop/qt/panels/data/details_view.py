"""The Details tab: a version's lineage (raw file, parents, recipes), notes and schema."""

from __future__ import annotations

import html

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from mlops_desktop.domain.dataset import DatasetVersion, type_label
from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.recipe import recipe_from_json
from mlops_desktop.qt.models.events import local_time


def _recipe_items(version: DatasetVersion) -> str:
    try:
        steps = recipe_from_json(version.recipe)
    except UserError as exc:
        return f"<li>{html.escape(exc.message)}</li>"
    return "".join(f"<li>{html.escape(step.describe())}</li>" for step in steps)


def lineage_html(chain: list[DatasetVersion]) -> str:
    """``chain`` runs from the raw import to the version shown (last)."""
    version = chain[-1]
    e = html.escape
    parts = [
        f"<h2>{e(version.label)}</h2>",
        f"<p>{version.rows:,} rows × {version.columns} columns · created "
        f"{e(local_time(version.created_at))} by {e(version.created_by)}</p>",
        "<h3>Lineage</h3><ol>",
    ]
    for item in chain:
        link = (
            f"<b>{e(item.label)}</b>"
            if item is version
            else f'<a href="version:{item.uuid}">{e(item.label)}</a>'
        )
        if item.source is not None:
            origin = (
                f"imported from <b>{e(item.source.name)}</b> "
                f"<small>(sha256 {e(item.source.sha256[:16])}…, {e(item.source.format)})</small>"
            )
        elif item.parent_label:
            origin = f"cleaned from {e(item.parent_label)} with:<ol>{_recipe_items(item)}</ol>"
        else:
            origin = "saved from the Python API"
        parts.append(f"<li>{link}: {origin}</li>")
    parts.append("</ol>")
    if version.notes:
        parts.append("<h3>Notes</h3><ul>")
        parts += [f"<li>{e(note)}</li>" for note in version.notes]
        parts.append("</ul>")
    parts.append("<h3>Columns</h3><table cellspacing='0' cellpadding='3'>")
    parts.append(
        "<tr><th align='left'>Name</th><th align='left'>Type</th><th align='left'>Kind</th></tr>"
    )
    parts += [
        f"<tr><td>{e(c.name)}</td><td>{e(type_label(c.type))}</td><td>{e(c.kind)}</td></tr>"
        for c in version.schema
    ]
    parts.append("</table>")
    return "".join(parts)


class DetailsView(QWidget):
    version_clicked = Signal(str)  # uuid

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)

    def show_chain(self, chain: list[DatasetVersion] | None) -> None:
        self.browser.setHtml(lineage_html(chain) if chain else "")

    def _clicked(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("version:"):
            self.version_clicked.emit(text.removeprefix("version:"))
