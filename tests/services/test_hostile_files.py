"""Hostile project files: a model blob that is a pickle, or skops naming a dangerous
function, is refused by name when the version is loaded, and nothing runs."""

import pickle
import shutil

import pytest

from mlops_desktop.domain.errors import UserError
from mlops_desktop.domain.tasks import quiet_state
from mlops_desktop.services.exports import export_version
from mlops_desktop.services.predictors import load_predictor
from mlops_desktop.services.project import Project
from tests.services.crafting import with_triggers_lifted


class _RunsCode:
    def __reduce__(self):
        return (exec, ("open(__import__('sys').argv[0] + '.pwned', 'w')",))


def _skops_naming(name: str) -> bytes:
    import io
    import json
    import zipfile

    buffer = io.BytesIO()
    schema = {
        "__class__": name.rsplit(".", 1)[1],
        "__module__": name.rsplit(".", 1)[0],
        "__loader__": "TypeNode",
        "protocol": 2,
        "_skops_version": "0.10",
    }
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def _swap_model_blob(path, payload: bytes) -> str:
    """Point the first model version at ``payload``, as a crafted file would."""
    with Project.open(path) as project:
        label = project.models.list()[0].label
        sha = project.file.blobs.put(payload)
    name, number = label.rsplit(":", 1)
    with_triggers_lifted(
        path,
        [
            (
                "UPDATE model_versions SET model_sha256 = ? WHERE version = ? AND model_uuid = "
                "(SELECT uuid FROM models WHERE name = ?)",
                (sha, int(number), name),
            )
        ],
    )
    return label


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (pickle.dumps(_RunsCode()), "damaged"),
        (_skops_naming("posix.system"), "posix.system"),
        (_skops_naming("builtins.eval"), "builtins.eval"),
    ],
    ids=["pickle", "posix.system", "builtins.eval"],
)
def test_a_hostile_model_blob_is_refused_by_name_and_runs_nothing(
    demo_project, tmp_path, payload, says
):
    path = tmp_path / "hostile.mlops"
    shutil.copy(demo_project, path)
    label = _swap_model_blob(path, payload)
    with Project.open(path, read_only=True) as project:
        version = project.models.get(label)
        with pytest.raises(UserError, match=says) as refused:
            load_predictor(project, version)
    assert str(refused.value).startswith(f"Model version {label} cannot be used.")
    assert not list(tmp_path.rglob("*.pwned"))


def _tampered_forest() -> bytes:
    from tests.services.test_modelfiles import _altered, _forest

    pipeline, _ = _forest()
    return _altered(pipeline, "left_child", 10**6)


@pytest.mark.parametrize(("fmt", "name"), [("mlflow", "model"), ("onnx", "model.onnx")])
@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (lambda: _skops_naming("posix.system"), "posix"),
        # skops trusts the tree's arrays; MLflow would load them unchecked
        (_tampered_forest, "child is outside the tree"),
    ],
    ids=["posix.system", "tampered-tree"],
)
def test_a_hostile_model_blob_is_not_exported_and_nothing_is_written(
    demo_project, tmp_path, fmt, name, payload, says
):
    path = tmp_path / "hostile.mlops"
    shutil.copy(demo_project, path)
    label = _swap_model_blob(path, payload())
    out = tmp_path / "out"
    out.mkdir()
    refusal = f"Model version {label} cannot be used.*{says}"
    with Project.open(path, read_only=True) as project, pytest.raises(UserError, match=refusal):
        export_version(project, label, fmt, out / name, quiet_state())
    assert list(out.iterdir()) == []
