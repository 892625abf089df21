"""The composition root: display check, stylesheet and the excepthook."""

import sys

import pytest

from mlops_desktop import app
from mlops_desktop.domain.errors import UserError


def test_no_display_is_a_user_error_not_a_crash(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError, match="No display was found"):
        app.check_display()


def test_unexpected_errors_reach_the_notification_area_not_a_console(window, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    app.install_excepthook(window)
    try:
        raise KeyError("column")
    except KeyError:
        sys.excepthook(*sys.exc_info())
    kind, message = window.notifications.messages()[0]
    assert kind == "error"
    assert message.startswith("Something unexpected went wrong (KeyError: 'column')")
    assert "log file" in message


def test_user_errors_raised_in_slots_show_their_own_sentence(window, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    app.install_excepthook(window)
    try:
        raise UserError("The port 5005 is busy: choose another.")
    except UserError:
        sys.excepthook(*sys.exc_info())
    assert window.notifications.messages()[0] == ("error", "The port 5005 is busy: choose another.")


def test_notices_can_be_dismissed(window, qtbot):
    item = window.notifications.show_error("Something to read.")
    assert window.notifications.isVisible()
    item.dismiss()
    qtbot.waitUntil(lambda: not window.notifications.messages())
    assert not window.notifications.isVisible()
