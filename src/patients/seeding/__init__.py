"""Synthetic data: ``seed_practices`` for any scale, ``seed_demo`` for the demo's stories.

Names are loaded on first use so that worker processes can import
``patients.seeding.worker`` before Django is set up.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "DEMO_PASSWORD": "patients.seeding.demo",
    "seed_demo": "patients.seeding.demo",
    "SeedResult": "patients.seeding.practices",
    "seed_practices": "patients.seeding.practices",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
