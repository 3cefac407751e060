"""A throwaway PostgreSQL cluster on a loopback port, for an `mlflow server` a team would
share. Debian's `postgresql` package (installed with apt-get when missing); the cluster
lives in a temp folder owned by the `postgres` user, because PostgreSQL refuses to run
as root."""
from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

from serving.server.process import free_port
from tests.debian import apt_install


def postgres_bin() -> Path:
    """The folder of initdb / pg_ctl, installing Debian's postgresql when missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        apt_install("postgresql")
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent


class PostgresCluster:
    """initdb + pg_ctl start on 127.0.0.1:<free port>, trust auth; stop() removes it."""

    def __init__(self):
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="sluice-pg-"))
        shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "--auth=trust",
                          "-U", "postgres", "--no-sync")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                          "-w", "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                                      "-c fsync=off -c max_connections=200", "start")

    def _as_postgres(self, *command: str) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True,
                                text=True, timeout=120)
        if result.returncode:
            raise RuntimeError(f"{' '.join(command)}: {result.stderr[-2000:]}")

    def create_database(self, name: str) -> str:
        """-> its SQLAlchemy URL."""
        self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                          "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
