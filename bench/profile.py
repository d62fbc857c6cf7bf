"""py-spy on the service's workers during one measured run, summed into a short text summary."""

import collections
import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TOP = 30


@contextlib.contextmanager
def maybe(wanted, key, server, seconds):
    """Sample `server`'s master and workers while the body runs, when `wanted`."""
    if not wanted:
        yield
        return
    spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("py-spy is missing: make bench installs it (.[bench])")
    RESULTS.mkdir(exist_ok=True)
    raw = RESULTS / f"profile-{key}.raw"
    sampler = subprocess.Popen(
        [spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--nonblocking",
         "--rate", "250", "--duration", str(round(seconds)), "--format", "raw",
         "--output", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        sampler.wait(timeout=seconds + 60)
    summary = summarize(raw)
    (RESULTS / f"profile-{key}.txt").write_text(summary)
    print(summary)


def summarize(raw):
    """Functions by share of samples: where they are on top of the stack, and anywhere on it."""
    own, anywhere, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        count = int(count)
        frames = [_short(frame) for frame in stack.split(";")]
        # Idle threads wait in the pool's queue or on select: they are not the worker's cost.
        if frames[-1].startswith(("wait ", "select ", "_worker ", "accept ")):
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    lines = [f"{total} busy samples (idle waits left out)", "", "self %   function"]
    lines += [f"{100 * n / total:6.1f}   {name}" for name, n in own.most_common(TOP)]
    lines += ["", "total %  function (anywhere on the stack)"]
    lines += [f"{100 * n / total:6.1f}   {name}" for name, n in anywhere.most_common(TOP)]
    return "\n".join(lines) + "\n"


def _short(frame):
    """'func (path/to/module.py:12)' -> 'func (module.py)': lines merged, paths shortened."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    keep = parts[parts.index("site-packages") + 1 :] if "site-packages" in parts else parts[-2:]
    return f"{name} ({'/'.join(keep)})"
