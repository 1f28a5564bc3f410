"""Run one benchmark case in a fresh process and report its time and peak memory.

A fresh process per case keeps peak RSS honest: nothing one case allocated is
counted against the next. Peak RSS is the kernel's high-water mark (VmHWM), which
starts afresh at exec, unlike getrusage's ru_maxrss, which inherits the parent's.
Cases that start worker processes are also sampled every 50 ms for the summed
RSS of the whole process tree (``tree_peak_mb``): the memory they really take.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"

_RUNNER = r"""
import json, sys, time, importlib
sys.path.insert(0, {here!r})
module = importlib.import_module({module!r})
case = getattr(module, {func!r})
kwargs = json.loads({kwargs!r})
setup = getattr(module, "setup_" + {func!r}, None)
state = setup(**kwargs) if setup else None
import threading
tree_peak = [0]
def sample():
    try:
        import psutil
    except ImportError:
        return
    me = psutil.Process()
    while not done.is_set():
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        tree_peak[0] = max(tree_peak[0], total)
        done.wait(0.05)
done = threading.Event()
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
started = time.perf_counter()
result = case(state, **kwargs) if setup else case(**kwargs)
seconds = time.perf_counter() - started
done.set(); sampler.join()
# VmHWM restarts at exec; ru_maxrss would also count the parent's peak
with open("/proc/self/status") as status:
    peak_mb = next(int(l.split()[1]) for l in status if l.startswith("VmHWM")) / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak_mb,
                   "tree_peak_mb": max(tree_peak[0] / 2**20, peak_mb), "result": result}}))
"""


def run_case(module: str, func: str, **kwargs) -> dict:
    """Run ``module.func(**kwargs)`` in a new Python process; time excludes ``setup_func``."""
    code = _RUNNER.format(
        here=str(Path(__file__).resolve().parent),
        module=module,
        func=func,
        kwargs=json.dumps(kwargs),
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{module}.{func}({kwargs}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def repeat(module: str, func: str, repeats: int, **kwargs) -> dict:
    """Median seconds and the largest peak RSS over ``repeats`` fresh-process runs."""
    runs = [run_case(module, func, **kwargs) for _ in range(repeats)]
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "tree_peak_mb": max(r.get("tree_peak_mb", r["peak_mb"]) for r in runs),
        "result": runs[-1]["result"],
        "all_seconds": [round(r["seconds"], 2) for r in runs],
    }
