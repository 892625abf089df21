"""Icons and the stylesheet, shipped inside the package so that a wheel carries them."""

from pathlib import Path

RESOURCES = Path(__file__).parent


def resource_path(name: str) -> Path:
    return RESOURCES / name
