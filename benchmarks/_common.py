"""Shared helpers for the benchmark scripts: machine/commit header, median timing, tables, plots."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    isa = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
                    break
    except OSError:
        pass
    if isa:
        cpu = f"{cpu} ({isa})"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return f"{cpu}, {cores} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except Exception:
        return "unknown"


def header(title: str) -> str:
    import danneal

    return (
        f"# {title}\nmachine: {machine()}\ncommit: {commit()}  danneal {danneal.__version__} "
        f"(openmp={danneal.openmp}, isa={danneal._core.isa()})\n"
    )


def plot_lines(series, *, name, xlabel, ylabel, title=None, logx=False, logy=False, figsize=(5, 3.5), **style):
    """Plot ``{label: (x, y)}`` to ``benchmarks/out/<name>.png``; says so and returns without
    matplotlib (an optional extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        print("(matplotlib not installed: no plot)")
        return
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=figsize)
    for label, (x, y) in series.items():
        ax.plot(x, y, label=label, **style)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"{name}.png", dpi=120)
    plt.close(fig)
    print(f"plot: {out / f'{name}.png'}")


def median_time(fn, *, repeat: int = 5, warmup: int = 1, min_time: float = 0.0) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    t_start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - t_start) < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 10 * repeat:
            break
    return float(np.median(times))


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Markdown table of ``rows`` (floats printed with 4 significant digits)."""
    if not rows:
        return "(no rows)\n"
    columns = columns or list(rows[0])

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def load_clustering_set(battery: str, name: str):
    """(X, labels) of a set of the clustering benchmark suite under ../shared/data/clustering, or None."""
    base = SHARED_DATA / "clustering" / battery
    data = base / f"{name}.data.gz"
    if not data.exists():
        return None
    X = np.loadtxt(data, ndmin=2)
    y = np.loadtxt(base / f"{name}.labels0.gz", dtype=int)
    return X, y


def clustering_sets():
    """Names of (battery, set) pairs available under ../shared/data/clustering."""
    out = []
    for battery in ("fcps", "graves", "sipu", "other"):
        base = SHARED_DATA / "clustering" / battery
        if base.is_dir():
            for p in sorted(base.glob("*.data.gz")):
                out.append((battery, p.name[: -len(".data.gz")]))
    return out
