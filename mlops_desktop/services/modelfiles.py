"""Model files: skops in and out. ``load_model`` is the only way a model is ever loaded.

A model file from someone else must not run code: skops rebuilds only the types it is told
to trust, and we trust only scikit-learn's, NumPy's, SciPy's and this project's own
transformers, after listing what the file contains. No pickle is involved.
"""

from __future__ import annotations

import zipfile

from mlops_desktop.domain.errors import UserError

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
OWN_TYPES = frozenset(
    {
        "mlops_desktop.domain.transformers.BooleanColumns",
        "mlops_desktop.domain.transformers.DatetimeParts",
        "mlops_desktop.domain.transformers.TextColumn",
    }
)

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
    """The types in a model file that are neither scikit-learn's, NumPy's, SciPy's nor ours."""
    import skops.io as sio

    return [
        name
        for name in sio.get_untrusted_types(data=data)
        if not (name.startswith(TRUSTED_PREFIXES) or name in OWN_TYPES)
    ]


def load_model(data: bytes):
    """Rebuild a model from skops bytes, trusting only the types listed above."""
    if _forbidden is not None:
        raise RuntimeError(f"models are not loaded in this process: {_forbidden}")
    import skops.io as sio

    try:
        strangers = untrusted_types(data)
        if strangers:
            raise UserError(
                f"The model file contains types that are not trusted ({', '.join(strangers[:3])}"
                f"{'…' if len(strangers) > 3 else ''}), so it was not loaded: it was not made "
                "by mlops_desktop, or was altered."
            )
        return sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UserError(f"The model file is damaged ({exc}): train the model again.") from None
