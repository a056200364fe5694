"""The run lock: one writer per run directory, the others refused at once with who holds it.

Two files in the run directory, for two different jobs:

- `.lock` is the kernel lock (`fcntl.flock`, exclusive, non-blocking). The kernel releases it
  the moment its holder dies, however it dies (`kill -9`, OOM, a lost node's NFS lease), so a
  dead writer never blocks the next one and nothing has to be cleaned up. The file is never
  removed: deleting a lock file lets two processes lock two different inodes of one name.
- `.lock.json` is the holder's record: host, pid, since when, which stage, and a heartbeat. A
  kernel lock cannot say who holds it, and a refusal must name the other process. The record is
  also the guard where the kernel lock is not shared: on a mount whose locks stay local to each
  host (NFS with `nolock` or `local_lock=`, some FUSE and object-store file systems), a second
  host gets the kernel lock too, and the record is what refuses it while the holder's heartbeat
  is fresh.

A record left behind is stale, and taken over, when its process is gone: on the same host the
pid is not alive (or is a new process under a reused pid); for another host, the heartbeat is
older than the lease. `flock` rather than `lockf`/`fcntl` record locks: POSIX record locks
belong to the process and are dropped when the process closes *any* descriptor of the file,
and they do not conflict between threads; a `flock` lock belongs to its open file description.
On Linux NFS clients emulate `flock` with NFS byte-range locks, so it reaches the server where
the mount allows it.

Readers (`view`, `report`) never take the lock: every file is appended whole lines or replaced
atomically, so a reader sees a consistent prefix while a writer runs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sciinstruct.errors import SciInstructError
from sciinstruct.log import logger

LOCK_NAME = ".lock"
RECORD_NAME = ".lock.json"
# A holder on another host refreshes its heartbeat every LEASE_S / 6 s; a record whose heartbeat
# is older than the lease is a dead holder's. A minute rides out a stalled NFS server and a few
# seconds of clock skew between hosts, and costs a restarted shard at most a minute of waiting.
LEASE_S = 60.0
# Mount options under which a kernel lock is seen only by the host that took it.
LOCAL_ONLY_OPTIONS = ("nolock", "local_lock=all", "local_lock=flock", "localflock")
# flock errors that mean "this file system has no such locks" rather than "someone holds it"
UNSUPPORTED = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)
NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "fuse", "lustre", "gpfs", "beegfs")


class RunLockedError(SciInstructError):
    """Another live process writes this run directory."""

    def __init__(self, root: Path, holder: Holder | None) -> None:
        self.holder = holder
        who = holder.describe() if holder else "another process (its record is not written yet)"
        super().__init__(
            f"{root}: run directory is locked by {who}; wait for it to finish or stop it "
            "(a lock left by a dead process is taken over by the next command)"
        )


@dataclass(frozen=True)
class Holder:
    """Who holds a run's lock, as written in `.lock.json`."""

    host: str
    pid: int
    started: float  # epoch seconds when the lock was taken
    heartbeat: float  # epoch seconds of the last refresh
    stage: str = ""
    token: str = ""  # tells this holder from a later one with the same host and pid
    process: str | None = None  # boot id and start time of the pid, where the OS tells them

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        stage = f"{self.stage}, " if self.stage else ""
        return f"pid {self.pid} on host {self.host} ({stage}since {since})"

    def is_alive(self, now: float | None = None, lease_s: float = LEASE_S) -> bool:
        """Whether the holding process still runs: asked of the OS on this host, read from the
        heartbeat for another."""
        if self.host != socket.gethostname():
            return (now if now is not None else time.time()) - self.heartbeat < lease_s
        if not _pid_alive(self.pid):
            return False
        current = process_identity(self.pid)
        # a different start time under the same pid: the holder died and the pid was reused
        return self.process is None or current is None or current == self.process


def read_holder(root: str | Path) -> Holder | None:
    """The record of a run's lock holder, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(root) / RECORD_NAME).read_text(encoding="utf-8"))
        return Holder(**data)
    except (OSError, ValueError, TypeError):
        return None


class RunLock:
    """The exclusive lock of one run directory; `with RunLock(root, "annotate"):`.

    Re-entrant within a process: a stage runner that holds the lock can call a stage function
    that takes it again. Between processes it is exclusive.
    """

    # This process's locks by (pid, directory), with their depth. The pid: a forked child shares
    # the parent's kernel lock but must not think it holds the run (its release would drop it).
    _held: dict[tuple[int, Path], tuple[RunLock, int]] = {}
    _guard = threading.Lock()
    _probed: set[Path] = set()  # directories whose file system this process has checked

    def __init__(self, root: str | Path, stage: str = "", lease_s: float = LEASE_S) -> None:
        self.root = Path(root)
        self.stage, self.lease_s = stage, lease_s
        self._fd: int | None = None
        self._token = ""
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._holder: Holder | None = None
        self._acquired = False  # this object's acquire() has not been released yet

    @property
    def path(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def record(self) -> Path:
        return self.root / RECORD_NAME

    def acquire(self, wait_s: float = 0.0) -> RunLock:
        """Take the lock, or raise `RunLockedError` naming the holder (after `wait_s` seconds
        of retrying: a restarted shard waits out its dead predecessor's lease)."""
        key = (os.getpid(), self.root.resolve())
        with self._guard:
            if key in self._held:
                owner, depth = self._held[key]
                self._held[key] = (owner, depth + 1)
                self._acquired = True
                return self
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._take()
                break
            except RunLockedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(1.0, self.lease_s / 10))
        with self._guard:
            self._held[key] = (self, 1)
        self._acquired = True
        return self

    def release(self) -> None:
        if not self._acquired:
            return
        self._acquired = False
        key = (os.getpid(), self.root.resolve())
        with self._guard:
            owner, depth = self._held.get(key, (self, 1))
            if depth > 1:
                self._held[key] = (owner, depth - 1)
                return
            self._held.pop(key, None)
        owner._drop()

    def __enter__(self) -> RunLock:
        # `with run.lock(stage):` hands over a lock already taken; `with RunLock(...):` takes it
        return self if self._acquired else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- the two files -------------------------------------------------------------------------
    def _take(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._check_file_system()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in UNSUPPORTED:
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise RunLockedError(self.root, self._holder_soon()) from None
            # no kernel locks here (the probe has said so): the record below is the guard
        previous = read_holder(self.root)
        if previous is not None:
            if previous.is_alive(lease_s=self.lease_s):
                # The kernel gave us a lock that a live process holds: the lock is not shared
                # between these hosts (or this file system ignores flock); the record refuses.
                os.close(fd)
                raise RunLockedError(self.root, previous)
            logger.warning(
                "%s: taking over the lock left by %s, which is no longer running",
                self.root,
                previous.describe(),
            )
        self._fd = fd
        self._token = uuid.uuid4().hex
        now = time.time()
        self._holder = Holder(
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now,
            heartbeat=now,
            stage=self.stage,
            token=self._token,
            process=process_identity(os.getpid()),
        )
        self._write(self._holder)
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="runlock-heartbeat", daemon=True)
        self._beat.start()

    def _check_file_system(self) -> None:
        """Once per directory and process: say so where this file system's locks cannot be
        trusted (the probe costs two opens and a read of /proc/mounts)."""
        key = self.root.resolve()
        if key in self._probed:
            return
        self._probed.add(key)
        warning = probe_locking(self.root).warning()
        if warning:
            logger.warning(
                "%s: %s (docs/scaling.md, 'Locks on shared file systems')", self.root, warning
            )

    def _holder_soon(self) -> Holder | None:
        """The live holder's record. One that has just taken the lock writes it within a
        moment; until then the file may still hold a dead predecessor's, which is not named."""
        for _ in range(20):
            holder = read_holder(self.root)
            if holder is not None and holder.is_alive(lease_s=self.lease_s):
                return holder
            time.sleep(0.05)
        return None

    def _write(self, holder: Holder) -> None:
        tmp = self.record.with_name(f"{RECORD_NAME}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(holder), sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.record)  # a reader sees the old record or the new, never half

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease_s / 6):
            current = read_holder(self.root)
            if current is not None and current.token != self._token:
                logger.error(
                    "%s: the run lock was taken over by %s while this process held it; its "
                    "heartbeat stopped for longer than %g s (a suspended process or a stalled "
                    "file system)",
                    self.root,
                    current.describe(),
                    self.lease_s,
                )
                return
            assert self._holder is not None
            self._holder = Holder(**{**asdict(self._holder), "heartbeat": time.time()})
            with contextlib.suppress(OSError):  # a full disk must not kill the writer
                self._write(self._holder)

    def _drop(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        if self._fd is None:
            return
        current = read_holder(self.root)
        if current is not None and current.token == self._token:
            with contextlib.suppress(OSError):
                self.record.unlink()
        with contextlib.suppress(OSError):  # a file system without flock has none to undo
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


# -- can this file system's locks be trusted? -------------------------------------------------
@dataclass(frozen=True)
class LockProbe:
    """What `probe_locking` found: the mount's type and options, whether flock excludes."""

    fs_type: str
    options: tuple[str, ...]
    excludes: bool  # a second open of the lock file was refused while the first held it

    @property
    def local_only(self) -> bool:
        """Locks seen only by this host (NFS `nolock`, `local_lock=`)."""
        return any(o in LOCAL_ONLY_OPTIONS for o in self.options)

    @property
    def network(self) -> bool:
        return any(self.fs_type == t or self.fs_type.startswith(f"{t}.") for t in NETWORK_FS)

    def warning(self) -> str | None:
        """What a user must know before two hosts write shards here, or None when nothing."""
        if not self.excludes:
            return (
                f"this {self.fs_type or 'file system'} ignores file locks: only the lock "
                "record guards the run; give each host its own shard, or use a local disk"
            )
        if self.local_only:
            return (
                f"this {self.fs_type} mount ({','.join(self.options)}) keeps locks local to "
                "each host: two hosts are kept apart only by the lock record's heartbeat; "
                "give each host its own shard directory"
            )
        return None


def probe_locking(root: str | Path) -> LockProbe:
    """Test the run directory's file system: does a second `flock` on the lock file fail while
    one is held (it does not where flock is a no-op), and is the mount's locking host-local?"""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f"{LOCK_NAME}.probe.{os.getpid()}"  # its own file: probes run side by side
    first = os.open(probe, os.O_RDWR | os.O_CREAT, 0o644)
    second = os.open(probe, os.O_RDWR)
    try:
        fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)
            excludes = False
        except OSError:
            excludes = True
    except OSError as exc:  # no flock at all (Lustre without -o flock)
        if exc.errno not in UNSUPPORTED:
            raise
        excludes = False
    finally:
        os.close(second)
        os.close(first)
        with contextlib.suppress(OSError):
            probe.unlink()
    fs_type, options = _mount_of(root)
    return LockProbe(fs_type, options, excludes)


def _mount_of(path: Path) -> tuple[str, tuple[str, ...]]:
    """The type and options of the mount holding `path` (Linux /proc/mounts; else unknown)."""
    try:
        lines = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "", ()
    target, best = str(path.resolve()), ("", "", ())
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        mount = parts[1].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best[0]):
            best = (mount, parts[2], tuple(parts[3].split(",")))
    return best[1], best[2]


# -- processes ---------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def process_identity(pid: int) -> str | None:
    """`boot id:start time` of a pid on Linux, so a reused pid is not mistaken for the holder."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the name in parentheses may hold spaces
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def holder_summary(root: str | Path) -> dict[str, Any] | None:
    """The holder as a dict with `alive`, for `shards status`; None when the run is unlocked."""
    holder = read_holder(root)
    if holder is None:
        return None
    return {**asdict(holder), "alive": holder.is_alive()}
