"""``MODEL@ALIAS`` follows the alias: the version swaps under load with no failed request."""

import threading
import time

import httpx

from mlops_desktop.services.project import Project
from tests.serving.conftest import ServerProcess

ROW = {
    "tenure": 3,
    "monthly": 50.5,
    "plan": "basic",
    "region": "north",
    "autopay": False,
    "signup": "2023-04-01",
}


def test_the_alias_moves_under_load_without_a_failure(served_project, serving_home, tmp_path):
    path = tmp_path / "moving.mlops"
    with Project.open(served_project, read_only=True) as project:
        project.save_copy(path)
    server = ServerProcess([path, "churn@production"], serving_home)
    results: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def load():
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                response = client.post("/invocations", json={"dataframe_records": [ROW]})
                results.append((response.status_code, response.headers.get("x-model-version")))

    threads = [threading.Thread(target=load) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        with Project.open(path) as project:
            project.models.promote("churn:2", "production", reason="testing the switch")
        switched = server.next_event("switched", 30)
        assert (switched["model"], switched["previous"]) == ("churn:2", "churn:1")
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(10)
        assert results
        assert {status for status, _ in results} == {200}
        versions = [version for _, version in results]
        assert versions[0] == "churn:1"
        assert versions[-1] == "churn:2"
        metadata = httpx.get(server.url + "/metadata").json()
        assert (metadata["label"], metadata["alias"]) == ("churn:2", "churn@production")
        stats = server.next_event("stats")
        assert stats["model"] == "churn:2"
    finally:
        stop.set()
        assert server.stop() == 0
