"""Supervision of qmux's own background processes (broker, worker, gateway).

Each process runs detached in its own session, so it outlives the `qmux` command that started it and
one signal reaches everything it spawned. Its output goes to HOME/logs/<name>.log and its pid to
HOME/run/<name>.pid. The pid file also records the process's start time, so that a pid the kernel
has since handed to an unrelated process is not mistaken for ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from infra.settings import Settings


class ProcessError(Exception):
    """A background process could not be started or stopped; the message says what to do."""


def log_path(settings: Settings, name: str) -> Path:
    return settings.home / "logs" / f"{name}.log"


def pid_path(settings: Settings, name: str) -> Path:
    return settings.home / "run" / f"{name}.pid"


def _start_time(pid: int) -> str | None:
    """Clock ticks since boot at which `pid` started (Linux), or None where /proc is unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after its closing one
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19]


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


def _alive(pid: int, started: str | None) -> bool:
    try:
        # reap it if it is our own exited child; otherwise it would linger as a zombie that kill(0) sees
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else: the start-time check below decides
    if _state(pid) == "Z":
        return False
    return started is None or _start_time(pid) in (None, started)


def _read(settings: Settings, name: str) -> tuple[int, str | None] | None:
    try:
        parts = pid_path(settings, name).read_text().split()
        return int(parts[0]), (parts[1] if len(parts) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None


def pid(settings: Settings, name: str) -> int | None:
    """The pid of the running process `name`, or None (no pid file, or its process is gone)."""
    rec = _read(settings, name)
    if rec is None or not _alive(*rec):
        return None
    return rec[0]


def is_running(settings: Settings, name: str) -> bool:
    return pid(settings, name) is not None


def spawn(settings: Settings, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> int:
    """Start `argv` detached as `name`; `env` is laid over this process's environment. Returns the pid.

    Refuses to start a second copy: stop the running one first."""
    running = pid(settings, name)
    if running is not None:
        raise ProcessError(f"{name} is already running (pid {running}); stop it first")
    log = log_path(settings, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_path(settings, name).parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log, "ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=full_env, cwd=cwd, start_new_session=True, close_fds=True)
        except OSError as exc:
            raise ProcessError(f"cannot start {name} ({argv[0]}): {exc}") from None
    # written via a temporary name so that a reader never sees a half-written pid file
    tmp = pid_path(settings, name).with_suffix(".pid.tmp")
    tmp.write_text(f"{proc.pid} {_start_time(proc.pid) or ''}\n")
    tmp.replace(pid_path(settings, name))
    return proc.pid


def _signal_group(p: int, sig: int) -> None:
    try:
        os.killpg(p, sig)  # the process leads its own session: this reaches its children too
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(p, sig)


def kill(settings: Settings, name: str, sig: int = signal.SIGKILL) -> bool:
    """Send `sig` to `name` and its children, leaving the pid file in place (as a crash would).
    Returns False when it was not running."""
    p = pid(settings, name)
    if p is None:
        return False
    _signal_group(p, sig)
    return True


def wait_exit(settings: Settings, name: str, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `name` to exit; True once it has."""
    rec = _read(settings, name)
    if rec is None:
        return True
    deadline = time.monotonic() + timeout
    while _alive(*rec):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def stop(settings: Settings, name: str, timeout: float = 20.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout` seconds; removes the pid file. False when it was not running."""
    p = pid(settings, name)
    if p is None:
        pid_path(settings, name).unlink(missing_ok=True)
        return False
    _signal_group(p, signal.SIGTERM)
    if not wait_exit(settings, name, timeout):
        _signal_group(p, signal.SIGKILL)
        if not wait_exit(settings, name, 10.0):
            raise ProcessError(f"{name} (pid {p}) survived SIGKILL; check `ps -p {p}`")
    pid_path(settings, name).unlink(missing_ok=True)
    return True


def log_tail(settings: Settings, name: str, lines: int = 50) -> str:
    """The last `lines` lines of HOME/logs/<name>.log ('' when there is none)."""
    path = log_path(settings, name)
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            # read backwards in blocks until enough newlines are in hand: logs grow to many megabytes
            block, data = 64 * 1024, b""
            while size > 0 and data.count(b"\n") <= lines:
                step = min(block, size)
                size -= step
                f.seek(size)
                data = f.read(step) + data
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


_WATCHDOG = """
import os, sys, time
from infra import procs
from infra.settings import Settings
owner, home, name, grace = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
def alive(p):
    try:
        os.kill(p, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
while alive(owner):
    time.sleep(1.0)
settings = Settings(home=home)
if procs.is_running(settings, name):
    print(f"process {owner} is gone: stopping {name}", flush=True)
    procs.stop(settings, name, timeout=grace)
"""


def bind_to(settings: Settings, name: str, owner: int | None = None, grace: float = 30.0) -> int:
    """Stop `name` (whichever process runs under that name then) when process `owner` (default: this
    one) dies, e.g. a test run killed by a timeout before its teardown. The watchdog runs as
    `<name>-watchdog` and checks once a second; stop it once `name` is stopped normally."""
    argv = [sys.executable, "-c", _WATCHDOG, str(owner or os.getpid()), str(settings.home), name, str(grace)]
    return spawn(settings, f"{name}-watchdog", argv)
