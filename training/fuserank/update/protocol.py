"""The continuous-training protocol (docs/evaluation.md, "Keeping a model current"): a base model,
then weekly steps, each week scored with the models as they stand before it becomes update data.

    python -m fuserank.update.protocol --data ../shared/data/online-retail/OnlineRetail.csv \\
        --base-end 2011-09-30 --weeks 9 --train-minutes 10 --update-minutes 1 --out runs/update-protocol

From a raw export with a date column (ISO dates), it:
1. writes the slices: everything up to `--base-end`, each week (7 days from the day after), and
   everything up to the end of each week; every slice keeps the export's own format, so the same
   loader as `make train DATA=` reads them;
2. trains the **base** (`python -m fuserank.train --data <base> --minutes T`) and copies it into a
   model repository as version 1;
3. for each week w: scores three models on the week's buyers, then
   - **updated**: `python -m fuserank.update` with the week as DATA and everything before as
     --history (publishes version N+1 when it passes the gate);
   - **retrained**: `python -m fuserank.train` from scratch on everything up to the week's end,
     with the same budget as the base.
   The frozen model is the base. Each training's CPU seconds (user + system, its process and
   threads) are recorded.

A week's cases: every customer with an invoice in the week and an earlier one; the target is the
distinct items of their first invoice of the week, the request every earlier event (as
`make train`'s next-basket protocol: seen items kept). Every model ranks the whole catalogue it
knows; items are compared by the shop's own ids, so models with different catalogues are scored on
the same cases (history items a model does not know are left out of its request).

Also per week: the share of the week's purchased items (lines) that the base model does not know,
and for each model the share of its top-10 slots given to those items.

Writes `<out>/protocol.json` (every week, every model, with standard errors) and prints a table.
Run again with the same `--out`, it reuses the trainings from scratch that a stopped run finished
(their CPU seconds are kept beside them); the updates and the scoring run again.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..evaluate.baskets import basket_metrics, model_top
from ..model.features import Request
from ..evaluate.metrics import standard_error
from .continuous import read_events, read_items_tsv

DATE_COLUMNS = ("invoicedate", "timestamp", "date", "time", "event_time")


@dataclass
class Slices:
    base: Path
    weeks: list[Path]       # week w's lines
    upto: list[Path]        # everything up to the end of week w
    bounds: list[tuple[str, str]]   # week w: [start, end) as ISO dates


def write_slices(data: Path, base_end: str, weeks: int, out: Path) -> Slices:
    """The export's lines split by date into the protocol's files (header kept)."""
    out.mkdir(parents=True, exist_ok=True)
    start = dt.date.fromisoformat(base_end) + dt.timedelta(days=1)
    bounds = [((start + dt.timedelta(days=7 * w)).isoformat(), (start + dt.timedelta(days=7 * (w + 1))).isoformat())
              for w in range(weeks)]
    with open(data, newline="", encoding="utf-8", errors="replace") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    lower = [h.strip().lower() for h in header]
    column = next((lower.index(c) for c in DATE_COLUMNS if c in lower), None)
    if column is None:
        raise SystemExit(f"{data}: no date column (one of {', '.join(DATE_COLUMNS)})")
    day = [r[column][:10] if len(r) > column else "" for r in body]

    def write(name: str, keep: Sequence[bool]) -> Path:
        path = out / name
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(r for r, k in zip(body, keep) if k)
        return path

    base = write("base.csv", [d <= base_end for d in day])
    week_files = [write(f"week{w + 1}.csv", [a <= d < b for d in day]) for w, (a, b) in enumerate(bounds)]
    upto = [write(f"upto{w + 1}.csv", [d < b for d in day]) for w, (_, b) in enumerate(bounds)]
    return Slices(base, week_files, upto, bounds)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args: Sequence[str], log: Path) -> tuple[int, float]:
    """A training process (its output to `log`): exit status and CPU seconds."""
    before = children_cpu()
    with open(log, "w") as f:
        code = subprocess.run([sys.executable, "-m", *args], stdout=f, stderr=subprocess.STDOUT).returncode
    return code, children_cpu() - before


@dataclass
class Case:
    history: list[tuple[str, int, int]]   # (external item id, type, ts_ms), oldest first
    targets: set[str]
    now_ms: int


def week_cases(data: Path, bounds: tuple[str, str]) -> tuple[list[Case], list[str]]:
    """The week's cases, and the external ids of every item bought in the week (one per line)."""
    ds, _ = read_events(str(data), {})
    ext = ds.item_external
    lo = int(dt.datetime.fromisoformat(bounds[0]).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
    hi = int(dt.datetime.fromisoformat(bounds[1]).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
    cases, bought = [], []
    for u in ds.users:
        first = next((i for i, t in enumerate(u.ts_ms) if lo <= t < hi), None)
        if first is None:
            continue
        bought.extend(ext[i] for i, t in zip(u.items, u.ts_ms) if lo <= t < hi)
        if first == 0:
            continue
        basket = u.baskets[first]
        end = first
        while end < len(u.items) and u.baskets[end] == basket:
            end += 1
        cases.append(Case([(ext[u.items[i]], u.types[i], u.ts_ms[i]) for i in range(first)],
                          {ext[i] for i in u.items[first:end]}, u.ts_ms[first]))
    return cases, bought


def score(bundle: Path, cases: Sequence[Case], new_items: set[str]) -> tuple[dict, np.ndarray]:
    """A bundle's next-basket metrics on the cases (by external id), and its top-10 share of new items."""
    from ..bundle.io import load_bundle

    model, _, item_ids, _ = load_bundle(bundle)
    external, _ = read_items_tsv(bundle)
    of_external = external
    to_external = {v: k for k, v in external.items()}
    requests = [Request(events=[(of_external[e], t, ts, 0) for e, t, ts in c.history if e in of_external],
                        exclude_seen=False, now_ms=c.now_ms) for c in cases]
    top = model_top(model, cases, requests=requests)
    top_ext = [[to_external.get(i, "") for i in row] for row in top]
    m = basket_metrics(top_ext, [sorted(c.targets) for c in cases])
    new_share = float(np.mean([sum(i in new_items for i in row) / len(row) for row in top_ext])) if top_ext else 0.0
    return {**m.as_dict(), "top10_new_item_share": new_share}, m.per_user_ndcg10


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a raw export with an ISO date column")
    ap.add_argument("--base-end", default="2011-09-30", help="the base model's last day (ISO date)")
    ap.add_argument("--weeks", type=int, default=9)
    ap.add_argument("--train-minutes", type=float, default=10.0, help="budget of the base and of each retraining")
    ap.add_argument("--update-minutes", type=float, default=1.0, help="budget of each update")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of every training")
    ap.add_argument("--name", default="shop", help="the repository model's name")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    out = Path(args.out)
    slices = write_slices(Path(args.data), args.base_end, args.weeks, out / "data")
    threads = ["--threads", str(args.threads)]
    result: dict = {"args": vars(args), "weeks": [], "started": time.strftime("%Y-%m-%d %H:%M:%S")}

    def train(data: Path, to: Path) -> float:
        """A training from scratch, or the one a stopped run left (its CPU seconds beside it)."""
        record = to.with_suffix(".cpu.json")
        if (to / "weights.safetensors").is_file() and record.is_file():
            return float(json.loads(record.read_text())["cpu_s"])
        code, cpu = run(["fuserank.train", "--data", str(data.resolve()), "--minutes", str(args.train_minutes),
                         "--out", str(to.resolve()), "--no-progress", *threads], to.with_suffix(".log"))
        if code != 0:
            raise SystemExit(f"training on {data} failed ({code}): {to.with_suffix('.log')}")
        record.write_text(json.dumps({"cpu_s": cpu}) + "\n")
        return cpu

    base = out / "base"
    result["base_cpu_s"] = train(slices.base, base)
    repo = out / "repo" / args.name
    if repo.exists():   # a stopped run's versions learned later weeks: the updates start again from the base
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    shutil.copytree(base, repo / "1")
    base_known = set(read_items_tsv(base)[0])
    retrained = base
    for w in range(args.weeks):
        cases, bought = week_cases(slices.upto[w], slices.bounds[w])
        new_items = set(bought) - base_known
        from ..bundle.repository import newest_loadable
        _, updated = newest_loadable(repo)
        week: dict = {"week": w + 1, "from": slices.bounds[w][0], "to": slices.bounds[w][1], "users": len(cases),
                      "new_item_purchase_share": sum(i in new_items for i in bought) / max(1, len(bought))}
        per_user = {}
        for label, bundle in (("frozen", base), ("updated", updated), ("retrained", retrained)):
            week[label], per_user[label] = score(bundle, cases, new_items)
            week[label]["bundle"] = str(bundle)
        for label in ("updated", "retrained"):
            d = per_user[label] - per_user["frozen"]
            week[f"{label}_vs_frozen"] = {"diff": float(d.mean()), "diff_se": standard_error(d)}
        d = per_user["updated"] - per_user["retrained"]
        week["updated_vs_retrained"] = {"diff": float(d.mean()), "diff_se": standard_error(d)}
        if w + 1 < args.weeks:   # the last week's models are never scored
            history = slices.upto[w - 1] if w > 0 else slices.base
            code, cpu = run(["fuserank.update", "--model", str(repo.resolve()), "--data", str(slices.weeks[w].resolve()),
                             "--history", str(history.resolve()), "--minutes", str(args.update_minutes),
                             "--no-progress", "--threads", str(args.threads)], out / f"update{w + 1}.log")
            if code not in (0, 3):
                raise SystemExit(f"update {w + 1} failed ({code}): {out / f'update{w + 1}.log'}")
            week["update"] = {"published": code == 0, "cpu_s": cpu}
            retrained = out / f"retrain{w + 1}"
            week["retrain"] = {"cpu_s": train(slices.upto[w], retrained)}
        result["weeks"].append(week)
        (out / "protocol.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"week {w + 1} ({week['from']}..{week['to']}, {len(cases)} users): NDCG@10 frozen "
              f"{week['frozen']['ndcg@10']:.4f} updated {week['updated']['ndcg@10']:.4f} retrained "
              f"{week['retrained']['ndcg@10']:.4f}; new items {week['new_item_purchase_share']:.3f} of purchases, "
              f"{week['updated']['top10_new_item_share']:.3f} of updated top-10", flush=True)
    weeks = result["weeks"]
    mean = {label: float(np.mean([x[label]["ndcg@10"] for x in weeks])) for label in ("frozen", "updated", "retrained")}
    steps = [x for x in weeks if "update" in x]
    result["summary"] = {
        "mean_ndcg@10": mean,
        "updated_over_frozen": mean["updated"] / mean["frozen"] if mean["frozen"] else None,
        "updated_over_retrained": mean["updated"] / mean["retrained"] if mean["retrained"] else None,
        "update_cpu_s": float(sum(x["update"]["cpu_s"] for x in steps)),
        "retrain_cpu_s": float(sum(x["retrain"]["cpu_s"] for x in steps)),
        "new_item_purchase_share": float(np.mean([x["new_item_purchase_share"] for x in weeks])),
        "updated_top10_new_item_share": float(np.mean([x["updated"]["top10_new_item_share"] for x in weeks])),
    }
    s = result["summary"]
    s["update_cpu_share"] = s["update_cpu_s"] / s["retrain_cpu_s"] if s["retrain_cpu_s"] else None
    (out / "protocol.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(s, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
