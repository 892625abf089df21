"""Network helpers shared by the benchmarks."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request


def free_port() -> int:
    """A TCP port nobody listens on now (on the loopback interface)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Load:
    """Clients that post one body to a model server without pause, from threads, until
    ``stop``; a client ends when the server is gone (killed, or stopped)."""

    def __init__(self, url: str, body: bytes, clients: int = 4):
        self.url, self.body = url + "/invocations", body
        self.answered: list[tuple[float, str]] = []  # (monotonic time, request id)
        self.failed: list[int] = []  # the status of each error answer
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def _post(self) -> None:
        headers = {"content-type": "application/json"}
        while not self._stop.is_set():
            request = urllib.request.Request(self.url, data=self.body, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    self.answered.append((time.monotonic(), response.headers["x-request-id"]))
            except urllib.error.HTTPError as exc:
                self.failed.append(exc.code)
                time.sleep(0.1)  # an error answer is quick: do not flood the server with them
            except OSError:
                return  # the server is gone
