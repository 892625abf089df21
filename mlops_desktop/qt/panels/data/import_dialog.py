"""The import dialog: detected settings with their reasons, overrides, and a live preview."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.dataset import check_name, name_from_file
from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.models.arrow_table import ArrowTableModel
from mlops_desktop.qt.workers.tasks import TaskRunner
from mlops_desktop.services.importing import PREVIEW_ROWS, read_source
from mlops_desktop.services.sniffing import (
    DELIMITERS,
    ENCODINGS,
    FORMATS,
    THOUSANDS,
    ImportSettings,
    detect,
)

_FORMAT_NAMES = {
    "csv": "Delimited text",
    "parquet": "Parquet",
    "jsonl": "JSON Lines",
    "xlsx": "Excel workbook",
}


def detect_and_preview(path: str, settings: dict | None, state) -> tuple:
    """Task function: the settings (detected unless given), their reasons, a preview table
    and why there is none (a file the settings cannot read can still be re-set)."""
    reasons = {}
    if settings is None:
        detection = detect(Path(path))
        parsed, reasons = detection.settings, detection.reasons
    else:
        parsed = ImportSettings.from_json(settings)
    sheets = []
    if parsed.format == "xlsx":
        import zipfile

        import pandas as pd

        try:
            sheets = pd.ExcelFile(path, engine="openpyxl").sheet_names
        except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
            raise UserError(
                f"{Path(path).name} is not a readable Excel workbook ({exc}): save it as "
                ".xlsx from your spreadsheet program and try again."
            ) from None
    try:
        table, error = read_source(path, parsed, state, rows=PREVIEW_ROWS).table, None
    except UserError as exc:
        table, error = None, exc.message
    return parsed, reasons, table, sheets, error


class ImportDialog(QDialog):
    """Shows how a file will be read; ``settings()`` and ``name()`` after it is accepted."""

    def __init__(self, path: Path, runner: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.path = path
        self._runner = runner
        self._handle = None
        self._settings: ImportSettings | None = None
        self._text_columns: list[int] = []
        self.setWindowTitle(f"Import {path.name}")
        self.resize(900, 620)

        self.name_edit = QLineEdit(name_from_file(path.stem))
        self.format_box = QComboBox()
        for key in FORMATS:
            self.format_box.addItem(_FORMAT_NAMES[key], key)
        self.encoding_box = QComboBox()
        self.encoding_box.setEditable(True)
        self.encoding_box.addItems(ENCODINGS)
        self.delimiter_box = QComboBox()
        self.delimiter_box.setEditable(True)
        for character, name in DELIMITERS.items():
            self.delimiter_box.addItem(f"{name} ({character!r})", character)
        self.header_box = QCheckBox("The first row holds column names")
        self.decimal_box = QComboBox()
        self.decimal_box.addItem("point (3.14)", ".")
        self.decimal_box.addItem("comma (3,14)", ",")
        self.thousands_box = QComboBox()
        for separator, name in THOUSANDS.items():
            self.thousands_box.addItem(
                f"{name} (1{separator}000)" if separator else name, separator
            )
        self.sheet_box = QComboBox()
        self.reason_labels = {
            key: QLabel()
            for key in (
                "format",
                "encoding",
                "delimiter",
                "header",
                "decimal",
                "thousands",
                "text_columns",
            )
        }
        for label in self.reason_labels.values():
            label.setObjectName("hint")
        form = QFormLayout()
        form.addRow("Dataset name", self.name_edit)
        form.addRow("Format", self._with_reason(self.format_box, "format"))
        form.addRow("Encoding", self._with_reason(self.encoding_box, "encoding"))
        form.addRow("Delimiter", self._with_reason(self.delimiter_box, "delimiter"))
        form.addRow("Header", self._with_reason(self.header_box, "header"))
        form.addRow("Decimal mark", self._with_reason(self.decimal_box, "decimal"))
        form.addRow("Thousands", self._with_reason(self.thousands_box, "thousands"))
        form.addRow("Sheet", self.sheet_box)
        form.addRow("Codes", self.reason_labels["text_columns"])

        self.preview_model = ArrowTableModel(self)
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        self.preview.horizontalHeader().setDefaultSectionSize(110)
        self.message = QLabel("Reading the start of the file…")
        self.message.setWordWrap(True)
        self.message.setObjectName("preview-summary")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"Preview of the first {PREVIEW_ROWS} rows"))
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        # 1,000.5 or 1.000,5: choosing the other decimal mark swaps the separator too (first).
        self.decimal_box.activated.connect(lambda _i: self._swap_thousands())
        for box in (
            self.format_box,
            self.encoding_box,
            self.delimiter_box,
            self.decimal_box,
            self.thousands_box,
            self.sheet_box,
        ):
            box.activated.connect(lambda _i: self.refresh())
        self.encoding_box.lineEdit().editingFinished.connect(self.refresh)
        self.delimiter_box.lineEdit().editingFinished.connect(self.refresh)
        self.header_box.toggled.connect(lambda _on: self.refresh())
        self.format_box.activated.connect(lambda _i: self._enable_text_settings())
        self._set_busy(True)
        self._run(None)

    def _with_reason(self, widget: QWidget, key: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(widget)
        layout.addWidget(self.reason_labels[key], 1)
        return row

    def _set_busy(self, busy: bool) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not busy)

    def current_settings(self) -> ImportSettings:
        box = self.delimiter_box
        delimiter, text = box.currentData(), box.currentText()
        if delimiter is None or text != box.itemText(box.currentIndex()):
            delimiter = text.replace("\\t", "\t")  # typed by hand; \t stands for a tab
        return ImportSettings(
            format=self.format_box.currentData(),
            encoding=self.encoding_box.currentText().strip(),
            delimiter=delimiter,
            header=self.header_box.isChecked(),
            decimal=self.decimal_box.currentData(),
            thousands=self.thousands_box.currentData(),
            sheet=self.sheet_box.currentText() or None,
            text_columns=list(self._text_columns),
        )

    def _swap_thousands(self) -> None:
        decimal = self.decimal_box.currentData()
        if self.thousands_box.currentData() == decimal:
            other = "," if decimal == "." else "."
            self.thousands_box.setCurrentIndex(self.thousands_box.findData(other))

    def refresh(self) -> None:
        if self._settings is None:
            return
        try:
            settings = self.current_settings()
            settings.check()
        except UserError as exc:
            self._show_error(exc.message)
            return
        self._run(settings.to_json())

    def _run(self, settings: dict | None) -> None:
        if self._handle is not None and self._handle.running:
            self._handle.cancel()
        self._set_busy(True)
        handle = self._runner.start(
            "Reading preview", detect_and_preview, str(self.path), settings, owner=self
        )
        self._handle = handle
        detected = settings is None
        handle.succeeded.connect(lambda result, h=handle: self._show(h, result, detected))
        handle.failed.connect(lambda message, h=handle: self._failed(h, message))

    def _failed(self, handle, message: str) -> None:
        if handle is self._handle:
            self._show_error(message)

    def _show(self, handle, result, detected: bool) -> None:
        if handle is not self._handle:
            return
        settings, reasons, table, sheets, error = result
        self._settings = settings
        if detected:
            self._apply(settings, reasons, sheets)
        if error is not None:
            self._show_error(error)
            return
        self.preview_model.set_table(table)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        csv = settings.format == "csv"
        self.message.setText(
            f"{table.num_columns} columns. Types are worked out from the whole file when it "
            "is imported." + ("" if csv else " Settings for text files do not apply.")
        )
        self._set_busy(False)

    def _apply(self, settings: ImportSettings, reasons: dict, sheets: list[str]) -> None:
        widgets = (
            self.format_box,
            self.encoding_box,
            self.delimiter_box,
            self.decimal_box,
            self.thousands_box,
            self.header_box,
            self.sheet_box,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.format_box.setCurrentIndex(self.format_box.findData(settings.format))
        self.encoding_box.setCurrentText(settings.encoding)
        index = self.delimiter_box.findData(settings.delimiter)
        if index >= 0:
            self.delimiter_box.setCurrentIndex(index)
        else:
            self.delimiter_box.setCurrentText(settings.delimiter)
        self.decimal_box.setCurrentIndex(self.decimal_box.findData(settings.decimal))
        self.thousands_box.setCurrentIndex(self.thousands_box.findData(settings.thousands))
        self.header_box.setChecked(settings.header)
        self.sheet_box.clear()
        self.sheet_box.addItems(sheets)
        self.sheet_box.setEnabled(bool(sheets))
        self._enable_text_settings()
        for widget in widgets:
            widget.blockSignals(False)
        for key, label in self.reason_labels.items():
            label.setText(f"detected: {reasons[key]}" if key in reasons else "")
        self.reason_labels["text_columns"].setText(reasons.get("text_columns", "none"))
        self._text_columns = settings.text_columns

    def _enable_text_settings(self) -> None:
        """Encoding, delimiter and number marks only mean something for delimited text."""
        csv = self.format_box.currentData() == "csv"
        for widget in (self.encoding_box, self.delimiter_box, self.decimal_box, self.thousands_box):
            widget.setEnabled(csv)

    def _show_error(self, message: str) -> None:
        self.preview_model.set_table(None)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setText(f"This file cannot be imported with these settings: {message}")
        self._set_busy(True)

    def _accept(self) -> None:
        try:
            check_name(self.name_edit.text())
        except UserError as exc:
            # Only the name is wrong: the preview stays, and so does Import.
            self.message.setTextFormat(Qt.TextFormat.PlainText)
            self.message.setText(exc.message)
            self.name_edit.setFocus()
            return
        try:
            self.current_settings().check()
        except UserError as exc:
            self._show_error(exc.message)
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)
            return
        self.accept()

    def settings(self) -> ImportSettings:
        return self.current_settings()

    def name(self) -> str:
        return self.name_edit.text().strip()
