"""Project data is never unpickled: models load through skops' allow-list only."""

import json
import subprocess
import sys

PROBE = r"""
import json, sys

unpickled = []


def from_dask_tokenize():
    # Dask (imported by a library on the way) fingerprints its own functions by pickling
    # and unpickling them; that is no project data.
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.replace("\\", "/").endswith("dask/tokenize.py"):
            return True
        frame = frame.f_back
    return False


def audit(event, args):
    # Every class an unpickler looks up, pickle's, joblib's or cloudpickle's.
    if event == "pickle.find_class" and not from_dask_tokenize():
        unpickled.append(f"{args[0]}.{args[1]}")


sys.addaudithook(audit)
from mlops_desktop.services.predictors import SklearnPredictor
from mlops_desktop.services.project import Project

with Project.open(sys.argv[1], read_only=True) as project:
    for version in project.datasets.list():
        project.datasets.load_frame(version)
        project.datasets.profile(version)
    for version in project.models.list():
        detail = project.models.get(version.label)
        predictor = SklearnPredictor.load(project, detail)
        frame = project.datasets.load_frame(detail.dataset_label)
        predictor.model.predict(frame.drop(columns=[detail.spec["target"]]).head(5))
        project.models.plots(detail)
print(json.dumps(unpickled))
"""


def test_browsing_loading_and_predicting_unpickle_nothing(demo_project):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(demo_project)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
