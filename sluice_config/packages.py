"""sluice's own packages, read from pyproject.toml (the list setuptools installs), so
no module keeps a hand-written copy: the up-to-date fingerprint hashes their code and
the architecture tests scan them. A new package is added to pyproject.toml once."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import tomli


@lru_cache(maxsize=None)
def code_packages(project_root: Path) -> tuple[str, ...]:
    """The top-level packages of the project at project_root (e.g. "components")."""
    with open(project_root / "pyproject.toml", "rb") as handle:
        project = tomli.load(handle)
    patterns = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return tuple(sorted({pattern.rstrip("*").rstrip(".") for pattern in patterns}))
