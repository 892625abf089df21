"""The Serving panel: start and stop model servers, and watch the ones this window started."""

from __future__ import annotations

import logging
import re
import secrets
import socket

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mlops_desktop.domain.errors import UserError
from mlops_desktop.qt.context import ProjectContext
from mlops_desktop.qt.models.servers import ServerTableModel
from mlops_desktop.qt.panels.base import Panel
from mlops_desktop.qt.panels.serving.detail import ServerDetailView
from mlops_desktop.services.servers import (
    CRASHED,
    ENDED,
    SERVING,
    ServerManager,
    ServerProcess,
    example_task,
)
from mlops_desktop.serving.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MIN_TOKEN_BITS,
    check_token,
    is_loopback,
    next_free_port,
)

log = logging.getLogger(__name__)

#: How ``serve`` refuses a port in use (``serving.server.bind``), naming the next free one.
_BUSY = re.compile(r"already in use: try --port (?P<free>\d+)")

#: How often the servers' states and figures are shown (their lines arrive once a second).
POLL_MS = 500
#: Seconds a stopping server gets before it is killed; closing the window waits that long.
STOP_SECONDS = 5.0


def choices_task(project_path: str, state) -> list[tuple[str, str]]:
    """Task function (thread): what can be served, as (MODEL@ALIAS or MODEL:N, description);
    aliases first, as they follow promotions."""
    from mlops_desktop.services.project import Project

    with Project.open(project_path, read_only=True) as project:
        aliases = [
            (a.label, f"{a.label}  → {a.model}:{a.version}") for a in project.models.aliases()
        ]
        versions = [
            (v.label, f"{v.label}  ({v.estimator}, {v.dataset_label or 'no dataset'})")
            for v in sorted(project.models.list(), key=lambda v: (v.name, -v.version))
        ]
    return sorted(aliases) + versions


def check_port_task(host: str, port: int, state) -> int | None:
    """Task function (thread; a host name may take a while to look up): None if host:port is
    free, else the next free port (0 if none is near)."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UserError(
            f"{host} is not an address or name this machine knows: use 127.0.0.1 to serve on "
            "this machine only, or 0.0.0.0 to serve on every network it is on."
        ) from None
    if next_free_port(host, port, tries=1) == port:
        return None
    return next_free_port(host, port + 1) or 0


class ServingPanel(Panel):
    title = "Serving"

    def __init__(self, context: ProjectContext, parent: QWidget | None = None):
        super().__init__(context, parent)
        self.manager = ServerManager()
        self._examples: dict[str, dict | str] = {}  # model ref -> request body, or why none
        self._asked: set[str] = set()  # refs whose example is being prepared
        self._states: dict[int, str] = {}  # id(server) -> the state last seen
        self._checking = None
        self._choosing = None
        self._choices: list[tuple[str, str]] | None = None
        self._closed = False  # the project closed: start nothing more

        self.model_choice = QComboBox()
        self.model_choice.setObjectName("serve-model")
        self.model_choice.setMinimumContentsLength(28)
        self.model_choice.setToolTip(
            "A version (MODEL:N) is served as it is; an alias (MODEL@ALIAS) is followed: the "
            "server switches when the alias moves to another version"
        )
        self.host = QLineEdit(DEFAULT_HOST)
        self.host.setObjectName("serve-host")
        self.host.setToolTip(
            "127.0.0.1 serves this machine only; 0.0.0.0 (or one of this machine's addresses) "
            "opens the model to the network and needs a token"
        )
        self.port = QSpinBox()
        self.port.setObjectName("serve-port")
        self.port.setRange(1, 65535)
        self.port.setValue(DEFAULT_PORT)
        self.log_predictions = QCheckBox("Log predictions")
        self.log_predictions.setObjectName("serve-log")
        self.log_predictions.setChecked(True)
        self.log_predictions.setToolTip(
            "Write each request's inputs, outputs and latency to the project, for monitoring"
        )
        self.log_hint = QLabel()
        self.log_hint.setObjectName("hint")
        self.token = QLineEdit()
        self.token.setObjectName("serve-token")
        self.token.setPlaceholderText("a token clients must send (Authorization: Bearer …)")
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("serve-generate")
        self.generate_button.setToolTip(f"Make a random token ({8 * 32} random bits)")
        self.generate_button.clicked.connect(self.generate_token)
        token_row = QWidget()
        token_layout = QHBoxLayout(token_row)
        token_layout.setContentsMargins(0, 0, 0, 0)
        token_layout.addWidget(self.token, 1)
        token_layout.addWidget(self.generate_button)
        self.token_row = token_row
        self.toggle_button = QPushButton()
        self.toggle_button.setObjectName("serve-toggle")
        self.toggle_button.setMinimumWidth(150)
        self.toggle_button.clicked.connect(self.toggle)
        self.clear_button = QPushButton("Clear ended")
        self.clear_button.setToolTip("Remove stopped and crashed servers from the list")
        self.clear_button.clicked.connect(self.clear_ended)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_choice)
        self.host.setMaximumWidth(260)
        where = QHBoxLayout()
        where.addWidget(self.host, 1)
        where.addSpacing(8)
        where.addWidget(QLabel("Port"))
        where.addWidget(self.port)
        where.addStretch(1)
        form.addRow("Host", where)
        self.token_label = QLabel("Token")
        form.addRow(self.token_label, token_row)
        logging_row = QHBoxLayout()
        logging_row.addWidget(self.log_predictions)
        logging_row.addWidget(self.log_hint, 1)
        form.addRow("", logging_row)
        self.form = form
        actions = QVBoxLayout()
        actions.addWidget(self.toggle_button)
        actions.addWidget(self.clear_button)
        actions.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(form, 1)
        top.addSpacing(12)
        top.addLayout(actions)

        self.model = ServerTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("server-table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((200, 90, 190, 110, 80, 70)):
            header.resizeSection(column, width)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selected_changed())
        self.empty = QLabel(
            "No servers yet. Choose a model version or alias and press Start serving: it is "
            "served over HTTP, as MLflow serves models, until you stop it or close the project."
        )
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.detail = ServerDetailView()
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(top)
        upper_layout.addWidget(self.table, 1)
        upper_layout.addWidget(self.empty, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 510])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(splitter)

        if context.project.read_only:
            self.log_predictions.setChecked(False)
            self.log_predictions.setEnabled(False)
            self.log_hint.setText(
                "The project is open read-only, so servers cannot write a prediction log to it."
            )
        self.host.textChanged.connect(lambda _text: self._update_form())
        self.port.valueChanged.connect(lambda _value: self._update_form())
        self.model_choice.currentIndexChanged.connect(lambda _index: self._update_form())

        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        context.changed.connect(self.refresh_choices)
        context.closing.connect(self.shut_down)
        self._update_form()
        self.poll()
        QTimer.singleShot(0, self.refresh_choices)

    # -- the form --------------------------------------------------------------------------------

    def refresh_choices(self) -> None:
        """Read what can be served, off the event loop."""
        if self._choosing is not None and self._choosing.running:
            return
        handle = self.context.runner.start(
            "Reading models to serve", choices_task, str(self.context.project.path), owner=self
        )
        self._choosing = handle
        handle.succeeded.connect(self._show_choices)
        handle.failed.connect(self.context.notifications.show_error)

    def _show_choices(self, choices: list[tuple[str, str]]) -> None:
        # A serving project changes every second (its prediction log): rebuilding the same
        # list would close the drop-down under the user's pointer.
        if self._closed or choices == self._choices:
            return
        self._choices = choices
        current = self.model_choice.currentData()
        self.model_choice.blockSignals(True)
        self.model_choice.clear()
        for ref, text in choices:
            self.model_choice.addItem(text, ref)
        if not choices:
            self.model_choice.addItem("No model versions yet: train one first", None)
        index = self.model_choice.findData(current)
        self.model_choice.setCurrentIndex(max(index, 0))
        self.model_choice.blockSignals(False)
        self._update_form()

    def choose(self, ref: str) -> bool:
        """Select ``ref`` (MODEL:N or MODEL@ALIAS) in the form; False if it is not listed."""
        index = self.model_choice.findData(ref)
        if index >= 0:
            self.model_choice.setCurrentIndex(index)
        return index >= 0

    def generate_token(self) -> None:
        self.token.setText(secrets.token_urlsafe(32))

    def _needs_token(self) -> bool:
        host = self.host.text().strip()
        return bool(host) and not is_loopback(host)

    def _form_server(self) -> ServerProcess | None:
        """A running server of this window on the form's host and port."""
        return self.manager.on_port(self.host.text().strip(), self.port.value())

    def _update_form(self) -> None:
        needs_token = self._needs_token()
        self.token_row.setVisible(needs_token)
        self.token_label.setVisible(needs_token)
        running = self._form_server()
        checking = self._checking is not None and self._checking.running
        if running is not None:
            self.toggle_button.setText("Stop serving")
            self.toggle_button.setToolTip(f"Stop the server for {running.model} on this port")
        else:
            self.toggle_button.setText("Start serving")
            self.toggle_button.setToolTip("Serve the chosen model on this host and port")
        self.toggle_button.setEnabled(
            not checking
            and (running is not None or self.model_choice.currentData() is not None)
            and (running is None or running.state not in ENDED)
        )
        self.clear_button.setEnabled(any(s.state in ENDED for s in self.manager.servers))

    # -- starting and stopping -----------------------------------------------------------------

    def toggle(self) -> None:
        running = self._form_server()
        if running is not None:
            self.stop(running)
        else:
            self.start()

    def start(self) -> None:
        """Check the form, then the port (off the event loop), then start the server."""
        ref = self.model_choice.currentData()
        host = self.host.text().strip()
        if ref is None:
            self.context.notifications.show_error(
                "There is no model version to serve yet: train one in the Training queue first."
            )
            return
        if not host:
            self.context.notifications.show_error(
                "Give a host to serve on: 127.0.0.1 serves this machine only."
            )
            return
        token = None
        if self._needs_token():
            token = self.token.text().strip()
            if not token:
                self.context.notifications.show_error(
                    f"Serving on {host} opens the model to the network, so it needs a token: "
                    "press Generate (or type one), or serve on 127.0.0.1."
                )
                self.token.setFocus()
                return
            try:
                check_token(token)
            except UserError:
                self.context.notifications.show_error(
                    f"That token is too easy to guess or has spaces: a token needs at least "
                    f"{MIN_TOKEN_BITS} random bits, such as 22 random letters and digits. "
                    "Press Generate to have one made."
                )
                self.token.setFocus()
                return
        port = self.port.value()
        handle = self.context.runner.start(
            "Checking the port", check_port_task, host, port, owner=self
        )
        self._checking = handle
        log_on = self.log_predictions.isChecked()
        handle.succeeded.connect(
            lambda busy: self._port_checked(ref, host, port, token, log_on, busy)
        )
        handle.failed.connect(self.context.notifications.show_error)
        handle.finished.connect(self._update_form)
        self._update_form()

    def _port_checked(
        self, ref: str, host: str, port: int, token: str | None, log_on: bool, busy: int | None
    ) -> None:
        if self._closed:
            return
        if busy is not None:
            if busy:
                self.port.setValue(busy)
                self.context.notifications.show_error(
                    f"Port {port} on {host} is already in use, so the port is now {busy}, the "
                    "next free one: press Start serving again to use it."
                )
            else:
                self.context.notifications.show_error(
                    f"Port {port} on {host} and the 50 after it are in use: choose another port."
                )
            return
        try:
            server = self.manager.start(
                self.context.project.path,
                ref,
                host=host,
                port=port,
                token=token,
                log_predictions=log_on,
                # Classroom mode: the server may not record its session either.
                extra_args=["--read-only"] if self.context.project.read_only else [],
            )
        except OSError as exc:
            self.context.notifications.show_error(
                f"Could not start the model server ({exc.strerror or exc}): check that "
                "mlops_desktop is installed completely, then try again."
            )
            return
        log.info("serving %s on %s:%s from the Serving panel", ref, host, port)
        self.poll()
        self.select(server)

    def stop(self, server: ServerProcess) -> None:
        """Ask ``server`` to stop; it ends in the background (killed if it hangs)."""
        server.terminate(kill_after=STOP_SECONDS)
        self.poll()

    def clear_ended(self) -> None:
        for server in list(self.manager.servers):
            self.manager.forget(server)
        self.poll()

    def shut_down(self) -> None:
        """Stop every server this window started (the project is closing)."""
        self._closed = True
        self._timer.stop()
        if self.manager.running():
            log.info("stopping %d server(s) as the project closes", len(self.manager.running()))
        self.manager.stop_all(timeout=STOP_SECONDS)

    # -- the live view ---------------------------------------------------------------------------

    def poll(self) -> None:
        servers = self.manager.servers
        selected = self.selected()
        self.model.set_servers(servers)
        if selected is not None and selected in servers:
            self.select(selected)
        elif servers and selected is None and not self.table.selectionModel().hasSelection():
            self.select(servers[-1])
        self.table.setVisible(bool(servers))
        self.detail.setVisible(bool(servers))  # an empty chart would say nothing
        self.empty.setVisible(not servers)
        for server in servers:
            self._announce(server)
        self._show_selected()
        self._update_form()

    def _announce(self, server: ServerProcess) -> None:
        """Tell the user once when a server starts serving or crashes."""
        state, before = server.state, self._states.get(id(server))
        if state == before:
            return
        self._states[id(server)] = state
        if state == SERVING:
            self.context.notifications.show_info(
                f"Serving {server.model} at {server.url} ({server.engine})."
            )
            self._prepare_example(server.model)
        elif state == CRASHED:
            error = server.error or "The model server crashed."
            taken = _BUSY.search(error)
            if taken:
                # Another program took the port between the check and the start.
                self.port.setValue(int(taken["free"]))
                error = (
                    f"Port {server.port} on {server.host} was taken just before the server "
                    f"started, so the port is now {taken['free']}, the next free one: press "
                    "Start serving again to use it."
                )
            self.context.notifications.show_error(error)

    def _prepare_example(self, ref: str) -> None:
        if ref in self._examples or ref in self._asked:
            return
        self._asked.add(ref)
        handle = self.context.runner.start(
            "Preparing request examples",
            example_task,
            str(self.context.project.path),
            ref,
            owner=self,
        )
        handle.succeeded.connect(lambda body: self._example_ready(ref, body))
        handle.failed.connect(lambda message: self._example_ready(ref, f"No examples: {message}"))
        handle.finished.connect(lambda: self._asked.discard(ref))

    def _example_ready(self, ref: str, body: dict | str) -> None:
        self._examples[ref] = body
        if self._closed:
            return
        self._show_selected()

    def _selected_changed(self) -> None:
        server = self.selected()
        if server is not None:
            # The form shows the selected server, so the one button stops it.
            self.host.setText(server.host)
            self.port.setValue(server.port)
            self.choose(server.model)
            if server.token:
                self.token.setText(server.token)
            if self.log_predictions.isEnabled():
                self.log_predictions.setChecked(server.log_predictions)
            if server.started is not None or server.state not in ENDED:
                self._prepare_example(server.model)
        self._show_selected()
        self._update_form()

    def _show_selected(self) -> None:
        server = self.selected()
        self.detail.show_server(server, self._examples.get(server.model) if server else None)

    def selected(self) -> ServerProcess | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.servers[rows[0].row()] if rows else None

    def select(self, server: ServerProcess) -> None:
        if server in self.model.servers:
            row = self.model.servers.index(server)
            if self.selected() is not server:
                self.table.selectRow(row)

    def reveal(self, key: str) -> None:
        """Show ``key``: a serving session (from a version's lineage), or MODEL:N/MODEL@ALIAS
        to put in the form."""
        for server in self.model.servers:
            if server.started is not None and server.started.get("session") == key:
                self.select(server)
                return
        try:
            session = self.context.project.serving.session(key)
        except UserError:
            self.choose(key)
            return
        # A session of another window, another machine, or an earlier run: say what it was,
        # and set the form to serve the same again.
        self.choose(session.served_as)
        self.context.notifications.show_info(
            f"That session, {session.label}, was started {session.detail()}. This window did "
            "not start it; the form is set to serve the same again."
        )
