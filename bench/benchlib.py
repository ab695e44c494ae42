"""Pieces the benchmark scripts share: a free loopback port and running `rapport` in a
child process with the benchmark's environment."""

from __future__ import annotations

import socket
import subprocess
import sys


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rapport(env: dict[str, str], *argv: str) -> str:
    """stdout of `rapport ARGV…`; ``RuntimeError`` with the end of stderr when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "rapport.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rapport {argv[0]} failed:\n{done.stderr[-4000:]}")
    return done.stdout
