"""The Swift engine's figures (`fuserank-eval`) and their comparison with PyTorch's."""

from __future__ import annotations

import json
import subprocess


def run_swift(swift: str, bundle: str, dataset: str, data_root: str, split: str) -> dict:
    """Run H2's `fuserank-eval` and parse the JSON metrics it prints on stdout."""
    cmd = [swift, "--model", bundle, "--dataset", dataset, "--data-root", data_root, "--split", split]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    start = proc.stdout.find("{")
    return json.loads(proc.stdout[start:])


def compare(py: dict, sw: dict, tol: float = 1e-3) -> list[str]:
    """Metric names (protocol/metric) where PyTorch and Swift differ by more than `tol`."""
    bad = []
    for proto in ("full", "sampled", "search"):
        if proto not in py or proto not in sw:
            continue
        for metric in ("hr@10", "ndcg@10", "mrr"):
            a, b = py[proto].get(metric), sw[proto].get(metric)
            if a is None or b is None or abs(a - b) > tol:
                bad.append(f"{proto}/{metric}: pytorch {a} swift {b}")
    return bad
