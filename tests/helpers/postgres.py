"""A throwaway PostgreSQL server for the tests of SQL sources, on 127.0.0.1 and a free port.

Debian's ``postgresql`` package (which ``.ci/run`` installs) provides ``initdb`` and ``postgres``; the
server runs as the ``postgres`` user when the tests run as root (PostgreSQL refuses root), with
trust authentication and no fsync, and is stopped and removed by the fixture that started it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

USER = "b24sync"


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def why_unavailable() -> str | None:
    """Why no server can be started here, or ``None``."""
    if _binary("initdb") is None or _binary("postgres") is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    return None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield its SQLAlchemy URL; stop it and delete its files."""
    initdb, postgres = _binary("initdb"), _binary("postgres")
    assert initdb is not None and postgres is not None
    folder = tempfile.mkdtemp(prefix="b24sync-pg-")
    options: dict[str, Any] = {}
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        options["user"] = "postgres"
    data = os.path.join(folder, "data")
    process: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [initdb, "-D", data, "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            **options,
        )
        port = _free_port()
        process = subprocess.Popen(
            [postgres, "-D", data, "-h", "127.0.0.1", "-p", str(port), "-k", folder, "-F"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **options,
        )
        url = f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"
        _wait_ready(port, process)
        yield url
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres").close()
            return
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the PostgreSQL server did not start") from None
            time.sleep(0.1)


def execute(url: str, *statements: str) -> None:
    """Run statements on the server (test data)."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement.encode())
