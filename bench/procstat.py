"""Process measurements read from /proc: CPU seconds, resident and peak memory.

Every function covers a process *and its descendants*: the original Directord
forks helper processes (and clients spawn shells), so a process tree is what
"the server" or "a client" costs. Our server is a single process, where the
tree is just that process.
"""

from __future__ import annotations

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def _stat_fields(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the ``(comm)`` field (index 0 is the state)."""
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def tree(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, ()))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the tree, reaped children included (utime+stime+cutime+cstime)."""
    ticks = 0
    for member in tree(pid):
        try:
            fields = _stat_fields(member)
        except OSError:  # exited meanwhile: its time moved to its parent's cutime
            continue
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def _status_kib(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mib(pid: int, children: bool = True) -> float:
    """Current resident memory of the tree (sum of VmRSS), or of the process alone."""
    return sum(_status_kib(member, "VmRSS:") for member in (tree(pid) if children else [pid])) * 1024 / MIB


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of the tree since the last ``reset_peak`` (sum of VmHWM)."""
    return sum(_status_kib(member, "VmHWM:") for member in tree(pid)) * 1024 / MIB


def reset_peak(pid: int) -> None:
    """Restart the VmHWM high-water mark of the tree at the current RSS (``clear_refs`` 5)."""
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/clear_refs", "w", encoding="ascii") as handle:
                handle.write("5")
        except OSError:  # not ours to reset, or exited: its peak stays cumulative
            continue


def io_thread_cpu_seconds(pid: int) -> float:
    """CPU of the process's ZeroMQ I/O threads (named ``ZMQbg/IO/N``): the TCP work beside Python's."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm", encoding="ascii", errors="replace") as handle:
                if not handle.read().startswith("ZMQbg/IO"):
                    continue
            with open(f"/proc/{pid}/task/{task}/stat", encoding="ascii", errors="replace") as handle:
                total += sum(int(value) for value in handle.read().rsplit(")", 1)[1].split()[11:13])
        except OSError:  # the thread ended meanwhile
            continue
    return total / CLOCK_TICKS
