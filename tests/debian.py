"""Debian packages a test needs (chromium, postgresql), installed with apt-get when
missing: CI machines are fresh."""
from __future__ import annotations

import os
import subprocess


def apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, timeout=900).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, stdout=subprocess.DEVNULL,
                       timeout=900)  # a fresh machine may have no package lists yet
        subprocess.run(install, env=env, check=True, stdout=subprocess.DEVNULL, timeout=900)
