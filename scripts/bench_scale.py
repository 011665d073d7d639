"""Measure composer at corpus scale: `composer prepare` and training from the cache, against in-memory training.

Runs each step as the user would (the `composer` command, in a subprocess) and
samples the resident memory of the whole process tree (workers included) every
0.1 s. Reports, for a synthetic corpus made by scripts/make_synthetic_corpus.py:

- prepare: files/s and peak RSS; a second run over the finished cache (resume);
- training: peak RSS streaming from the cache, for the whole corpus and a tenth of it,
  against reading that tenth into memory (the whole corpus does not fit: the
  in-memory path also fits its n-gram baseline on every training event);
- scaling: training events/s of one process vs a two-worker group on 127.0.0.1
  (MultiWorkerMirroredStrategy, TF_CONFIG), both on this machine.

    python scripts/bench_scale.py CORPUS [--work DIR] [--steps 30] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMPOSER = [sys.executable, "-m", "composer.cli"]
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = (int(fields[1]), int(fields[21]))  # ppid, rss pages
            except (OSError, IndexError, ValueError):
                continue
    tree, total, grew = {root}, 0, True
    while grew:
        grew = False
        for pid, (ppid, _) in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        total += parents.get(pid, (0, 0))[1] * PAGE
    return total


def run(command: list[str], env: dict | None = None) -> dict:
    """Wall time, peak tree RSS and output of one command; fails loudly if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}
    )
    return _watch([process], started)[0]


def _watch(processes: list[subprocess.Popen], started: float) -> list[dict]:
    peaks = [0] * len(processes)
    while any(process.poll() is None for process in processes):
        peaks = [max(peak, tree_rss(process.pid)) for peak, process in zip(peaks, processes)]
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    results = []
    for process, peak in zip(processes, peaks):
        output = process.stdout.read()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(process.args)} failed:\n{output[-3000:]}")
        results.append({"seconds": seconds, "peak_rss_mb": peak / 2**20, "output": output})
    return results


def events_per_second(output: str) -> float:
    """The last epoch's training throughput, as `composer train` prints it."""
    return float(re.findall(r"events_per_s: ([\d.]+)", output)[-1])


def train_command(data: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return [
        *COMPOSER,
        "train",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--steps-per-epoch",
        str(steps),
        "--seed",
        "1",
        "--force",
        *extra,
    ]


def group(cache: Path, out: Path, steps: int) -> list[dict]:
    """A two-worker MultiWorkerMirroredStrategy group on free local ports, like a two-machine cluster."""
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    workers = [f"127.0.0.1:{port}" for port in ports]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            train_command(cache, out, steps, "--distribute", "multi-worker"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={
                **os.environ,
                "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}),
            },
        )
        for index in range(2)
    ]
    return _watch(processes, started)


def subset(corpus: Path, folder: Path, fraction: float) -> Path:
    """Every 1/fraction-th file of ``corpus``, linked into ``folder``: the same kind of music, fewer files."""
    shutil.rmtree(folder, ignore_errors=True)
    files = sorted(path for path in corpus.rglob("*") if path.is_file())
    for number, path in enumerate(files[:: round(1 / fraction)]):
        (folder / f"{number:07d}{path.suffix}").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{number:07d}{path.suffix}").symlink_to(path.resolve())
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a folder of MIDI files (scripts/make_synthetic_corpus.py)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder [default: a temporary one]")
    parser.add_argument("--steps", type=int, default=30, help="training steps per measurement")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="composer-bench-scale-"))
    small = subset(args.corpus, work / "subset", 0.1)
    report = {"files": sum(1 for path in args.corpus.rglob("*") if path.is_file())}
    caches = {name: work / f"cache-{name}" for name in ("full", "subset")}
    for cache in caches.values():
        shutil.rmtree(cache, ignore_errors=True)

    first = run([*COMPOSER, "prepare", str(args.corpus), "--out", str(caches["full"])])
    again = run([*COMPOSER, "prepare", str(args.corpus), "--out", str(caches["full"])])
    report["prepare"] = {
        "seconds": first["seconds"],
        "files_per_s": report["files"] / first["seconds"],
        "peak_rss_mb": first["peak_rss_mb"],
        "rerun_seconds": again["seconds"],
        "summary": first["output"].strip().splitlines()[-2],
    }
    run([*COMPOSER, "prepare", str(small), "--out", str(caches["subset"])])

    runs = {
        "streamed_full": run(train_command(caches["full"], work / "model", args.steps)),
        "streamed_subset": run(train_command(caches["subset"], work / "model", args.steps)),
        "in_memory_subset": run(
            train_command(small, work / "model", args.steps), env={"COMPOSER_CACHE_DIR": str(work / "file-cache")}
        ),
    }
    report["train"] = {
        name: {
            "peak_rss_mb": result["peak_rss_mb"],
            "seconds": result["seconds"],
            "events_per_s": events_per_second(result["output"]),
        }
        for name, result in runs.items()
    }
    chief, _ = group(caches["full"], work / "model-group", args.steps)
    one, two = report["train"]["streamed_full"]["events_per_s"], events_per_second(chief["output"])
    report["scaling"] = {
        "one_process_events_per_s": one,
        "two_workers_events_per_s": two,
        "ratio": two / one,
        "chief_peak_rss_mb": chief["peak_rss_mb"],
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
