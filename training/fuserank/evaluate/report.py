"""How evaluation figures are written: the metric table, the lines under it (paired comparisons,
search lift, the cost of missing fields) and the model card's evaluation section. The trainer's
and the evaluation CLI's reports both come from here."""

from __future__ import annotations

from typing import Sequence


# Published figures on ML-1M (ml-1m.txt, leave-one-out), see ../shared/data/README.md.
ML1M_ANCHORS = [
    ("SASRec, full softmax CE (Klenitskiy & Vasilev, RecSys 2023)", "full", 0.3152, 0.1821),
    ("gSASRec (Petrov & Macdonald, RecSys 2023)", "full", 0.3003, 0.1726),
    ("SASRec, BCE with 1 negative (Klenitskiy & Vasilev, RecSys 2023)", "full", 0.2500, 0.1341),
    ("SASRec (Kang & McAuley, ICDM 2018)", "sampled", 0.8245, 0.5905),
]


def format_table(rows: dict[str, dict], columns: Sequence[str] = ("hr@10", "ndcg@10", "mrr")) -> str:
    """A markdown table: one row per protocol; a value with a standard error (`<metric>_se`) is
    written `value ± se`."""
    lines = ["| protocol | " + " | ".join(columns) + " | users |", "|---|" + "---|" * (len(columns) + 1)]

    def cell(m: dict, c: str) -> str:
        se = m.get(f"{c}_se")
        return f"{m[c]:.4f}" + (f" ± {se:.4f}" if se else "")

    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(m, c) for c in columns) + f" | {m['users']} |")
    return "\n".join(lines)


def control_line(r: dict) -> str:
    """One markdown line of `against_control`'s figures."""
    what = "every event type unspecified" if r["field"] == "types" else "no timestamps"
    return (f"- requests with {what}: this model {r['ndcg@10']:.4f}, the model trained never to see "
            f"{r['field']} {r['ndcg@10_control']:.4f}: {r['ratio']:.3f}x, paired difference "
            f"{r['diff']:+.4f} ± {r['diff_se']:.4f} ({r['users']} users)")


def robustness_lines(paired: dict) -> str:
    """The `paired_robustness` figures as markdown lines (the relative cost ± its standard error)."""
    def cost(p: dict) -> str:
        base = p["ndcg@10"]
        rel, se = (p["relative"] * 100, p["diff_se"] / base * 100) if base > 0 else (float("nan"), float("nan"))
        return f"{p['ndcg@10_stripped']:.4f} against {base:.4f}, {rel:+.1f}% ± {se:.1f}% ({p['users']} users)"

    lines = []
    for key, p in paired.items():
        lines.append(f"- {key}: {cost(p)}")
        for g, what in (("same_second", "targets logged in the same second as the newest event"),
                        ("other", "the other targets")):
            if g in p:
                lines.append(f"  - {what}: {cost(p[g])}")
    return "\n".join(lines)


def card_section(result: dict, dataset: str, command: str) -> str:
    """Markdown: PyTorch and Swift figures side by side (and the ML-1M anchors)."""
    py, sw = result["pytorch"], result.get("swift")
    lines = ["## Evaluation through PyTorch and the Swift engine", "",
             f"Split: {py['split']}; users: {py['full']['users'] if 'full' in py else '?'}. "
             "Sampled = mean over seeds 1..5 (docs/evaluation.md).", "",
             "| protocol | metric | PyTorch | Swift | abs diff |", "|---|---|---|---|---|"]
    for proto in ("full", "sampled", "search"):
        if proto not in py:
            continue
        for metric in ("hr@10", "ndcg@10", "mrr"):
            a = py[proto][metric]
            b = sw[proto][metric] if sw and proto in sw else None
            lines.append(f"| {proto} | {metric} | {a:.4f} | {'-' if b is None else f'{b:.4f}'} | "
                         f"{'-' if b is None else f'{abs(a - b):.1e}'} |")
    extra = [k for k in ("recency", "popularity", "full_no_types", "full_no_times") if k in py]
    if extra:
        lines += ["", "Same protocol, PyTorch (± standard error over users): baselines, and the requests as a "
                  "client that sends no event types (`full_no_types`) or no timestamps (`full_no_times`) "
                  "sends them.", "", "| protocol | HR@10 | NDCG@10 |", "|---|---|---|"]
        for k in extra:
            m = py[k]
            lines.append(f"| {k} | {m['hr@10']:.4f} ± {m.get('hr@10_se', 0):.4f} | "
                         f"{m['ndcg@10']:.4f} ± {m.get('ndcg@10_se', 0):.4f} |")
    if "paired_vs_recency" in py:
        pr = py["paired_vs_recency"]
        lines += ["", f"Model / recency NDCG@10: {pr['ratio']:.3f}x; paired difference "
                  f"{pr['ndcg@10_diff']:+.4f} ± {pr['ndcg@10_diff_se']:.4f}."]
    if "paired_robustness" in py:
        lines += ["", "Cost of the missing fields, paired over the same users (NDCG@10 without the field "
                  "against with every field, relative difference ± standard error):", "",
                  robustness_lines(py["paired_robustness"])]
    lines.append("")
    if "search_lift" in py:
        lines.append(f"Search-mode lift of NDCG@10 over behaviour-only: **{py['search_lift'] * 100:.1f}%** "
                     "(same model; the query is the target's genre words).")
    if sw:
        lines.append("PyTorch and Swift agree within 1e-3 on every metric." if result.get("agree_1e-3")
                     else "PyTorch and Swift DISAGREE (> 1e-3) on some metric.")
    else:
        lines.append("No Swift column: `fuserank-eval` reads the MovieLens files only; the served Swift "
                     "scores are compared with PyTorch request by request in \"Swift and PyTorch through "
                     "the wire\" (`fuserank.parity.served`).")
    if dataset == "ml-1m":
        lines += ["", "### Published anchors on the same file and protocol", "",
                  "| model | protocol | HR@10 | NDCG@10 | ours (HR@10 / NDCG@10) |", "|---|---|---|---|---|"]
        for name, proto, hr, nd in ML1M_ANCHORS:
            ours = py.get(proto)
            o = f"{ours['hr@10']:.4f} / {ours['ndcg@10']:.4f}" if ours else "-"
            lines.append(f"| {name} | {proto} | {hr:.4f} | {nd:.4f} | {o} |")
        lines.append("")
        lines.append("gSASRec's figure is Recall@10 (= HR@10 with one target).")
    lines += ["", "Command:", "", "```", command, "```", ""]
    return "\n".join(lines)


def result_lines(r: dict) -> list[str]:
    """The lines printed under the metric table of `r` (an `evaluate` result): the paired
    comparison with recency, the search-mode lift, the cost of missing fields."""
    lines = []
    if "paired_vs_recency" in r:
        pr = r["paired_vs_recency"]
        lines.append(f"model / recency NDCG@10: {pr['ratio']:.3f}x; paired difference "
                     f"{pr['ndcg@10_diff']:+.4f} +- {pr['ndcg@10_diff_se']:.4f} (standard error)")
    if "search_lift" in r:
        lines.append(f"search-mode lift of NDCG@10 over behaviour-only: {r['search_lift'] * 100:.1f}%")
    if "paired_robustness" in r:
        lines.append("cost of missing fields (paired over the same users):\n" + robustness_lines(r["paired_robustness"]))
    return lines
