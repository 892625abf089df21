"""Model files: skops in and out. ``load_model`` is the only way a model is ever loaded.

A model file from someone else must not run code: skops rebuilds only the types it is told
to trust, and we tell it a fixed list, written out below, of the types the models this app
trains contain beyond those skops trusts itself. It is never "whatever the file lists". No
pickle is involved. What skops cannot vouch for (the node arrays of compiled trees, which
scikit-learn indexes without bounds checks) is checked by ``modelchecks`` before use.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

from mlops_desktop.domain.errors import UserError

if TYPE_CHECKING:
    from mlops_desktop.domain.model import ModelVersion
    from mlops_desktop.store.blobs import BlobStore

#: Every type a model file may name that skops does not trust by default, by full name.
#: Found by dumping each estimator and treatment the app offers and asking skops what it
#: would not load (tests/services/test_modelfiles.py does so for every family, so an
#: estimator added without updating this list fails a test). No function is listed: none
#: of the app's models holds one, and a listed function is a function a file may call.
TRUSTED_TYPES = frozenset(
    {
        # The project's own transformers.
        "mlops_desktop.domain.transformers.BooleanColumns",
        "mlops_desktop.domain.transformers.DatetimeParts",
        "mlops_desktop.domain.transformers.TextColumn",
        # dtype objects (TF-IDF's, encoders' output types).
        "numpy.dtype",
        # What a model fitted on sparse features keeps of them (support vectors, training
        # points): its indices are checked before use (``modelchecks``).
        "scipy.sparse._csr.csr_matrix",
        # The seeded folds of a target encoder.
        "sklearn.model_selection._split.KFold",
        # A neural network's optimizer state (adam, sgd).
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        # Compiled trees: their node arrays are checked before use (``modelchecks``).
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # A nearest-neighbours search tree and its metric: rebuilt from the model's own
        # training points on load (``modelchecks``), so the stored ones are never queried.
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.BrayCurtisDistance64",
        "sklearn.metrics._dist_metrics.CanberraDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.DiceDistance64",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.HammingDistance64",
        "sklearn.metrics._dist_metrics.HaversineDistance64",
        "sklearn.metrics._dist_metrics.JaccardDistance64",
        "sklearn.metrics._dist_metrics.MahalanobisDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.metrics._dist_metrics.RogersTanimotoDistance64",
        "sklearn.metrics._dist_metrics.RussellRaoDistance64",
        "sklearn.metrics._dist_metrics.SEuclideanDistance64",
        "sklearn.metrics._dist_metrics.SokalMichenerDistance64",
        "sklearn.metrics._dist_metrics.SokalSneathDistance64",
    }
)
#: A model file may unpack to at most this many times its size (and always to 256 MiB):
#: real ones unpack to a few times theirs; more is a zip bomb meant to exhaust memory.
MAX_UNPACK_RATIO = 100
MIN_UNPACK_LIMIT = 256 * 1024 * 1024

_forbidden: str | None = None


def forbid_in_this_process(reason: str) -> None:
    """Make ``load_model`` refuse in this process (the GUI calls this: a hostile or broken
    model may at worst take down a worker, never the window)."""
    global _forbidden
    _forbidden = reason


def dump_model(model) -> bytes:
    import skops.io as sio

    return sio.dumps(model, compression=zipfile.ZIP_DEFLATED)


def untrusted_types(data: bytes) -> list[str]:
    """The types a model file names that neither skops nor ``TRUSTED_TYPES`` trusts."""
    import skops.io as sio

    return [name for name in sio.get_untrusted_types(data=data) if name not in TRUSTED_TYPES]


def load_model(data: bytes):
    """Rebuild a model from skops bytes, trusting only ``TRUSTED_TYPES`` (and what skops
    trusts itself), then check what skops cannot: ``UserError`` for a file that is damaged,
    names a type we do not trust, or holds a structure that would misbehave."""
    if _forbidden is not None:
        raise RuntimeError(f"models are not loaded in this process: {_forbidden}")
    from mlops_desktop.services.modelchecks import check_loaded

    model = _rebuild(data)
    check_loaded(model)
    return model


def load_version(blobs: BlobStore, version: ModelVersion):
    """The model of ``version`` (``load_model``); a refusal names the version."""
    try:
        return load_model(blobs.get(version.model_sha256))
    except UserError as exc:
        raise refused(version, exc) from None


def refused(version: ModelVersion, exc: UserError) -> UserError:
    """``exc`` as a sentence that says which of the file's model versions it is about."""
    return UserError(f"Model version {version.label} cannot be used. {exc}")


def _rebuild(data: bytes):
    import skops.io as sio

    try:
        _check_unpacked_size(data)
        strangers = untrusted_types(data)
        if strangers:
            raise UserError(
                f"The model file names types that are not trusted ({', '.join(strangers[:3])}"
                f"{'…' if len(strangers) > 3 else ''}), so it was not loaded: it was not made "
                "by mlops_desktop, or was altered."
            )
        return sio.loads(data, trusted=sorted(TRUSTED_TYPES))
    except UserError:
        raise
    except Exception as exc:  # skops reading bytes we did not write can fail in any way
        reason = f"{type(exc).__name__}: {exc}"
        raise UserError(
            f"The model file is damaged ({reason[:200]}): train the model again."
        ) from None


def _check_unpacked_size(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(member.file_size for member in archive.infolist())
    if unpacked > max(MAX_UNPACK_RATIO * len(data), MIN_UNPACK_LIMIT):
        raise UserError(
            f"The model file says it unpacks to {unpacked:,} bytes from {len(data):,}, far "
            "more than any model does, so it was not loaded: it was not made by mlops_desktop, "
            "or was altered."
        )
