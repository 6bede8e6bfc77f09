#!/usr/bin/env python3
"""The tables of `make bench`: JSON lines in, markdown out (standard library only).

    python bench/report.py tag engine < lines          # adds "bench": "engine" to each JSON line
    python bench/report.py render latest.jsonl > latest.md
    python bench/report.py splice latest.md BENCHMARKS.md   # replaces the figures between the markers

Ratios are "how many times faster the Swift side is" unless a column says otherwise. The targets
of issue 15 are shown next to the figures they judge; nothing here fails on a time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BEGIN, END = "<!-- bench:begin (written by make bench) -->", "<!-- bench:end -->"


def tag(kind: str) -> None:
    for line in sys.stdin:
        line = line.strip()
        if line.startswith("{"):
            row = json.loads(line)
            print(json.dumps({"bench": kind, **row}))


def f(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def ratio(a, b) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def render(path: str) -> str:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip().startswith("{")]
    out: list[str] = []
    machine = [r for r in rows if r.get("bench") == "machine"]
    if machine:
        m = machine[0]
        end = machine[-1] if len(machine) > 1 else {}
        out += [f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['mem_gib']} GiB; load average "
                f"{m['load']} at the start, {end.get('load', '?')} at the end"
                f"{' (a busy machine: figures are noisy)' if float(str(m['load']).split()[0]) > 0.5 * m['nproc'] else ''}.",
                f"Run {m['date']} on commit `{m['commit']}`: `{m['command']}`.", ""]

    eng = {(r["impl"], r["batch"]): r for r in rows if r.get("bench") == "engine"}
    if eng:
        out += ["### Engine forward (requests -> user vectors, 200 events, 1 thread)", "",
                "| batch | swift median / p90 ms | onnxruntime median / p90 ms | pytorch median / p90 ms "
                "| swift / ORT time (target <= 0.5 at batch 1) | pytorch / swift |", "|---|---|---|---|---|---|"]
        for b in sorted({k[1] for k in eng}):
            s, o, t = eng.get(("swift", b)), eng.get(("onnxruntime", b)), eng.get(("pytorch", b))
            cell = lambda r: "-" if not r else f"{f(r['median_ms'])} / {f(r.get('p90_ms'))}"  # noqa: E731
            rel = "-" if not (s and o) else f"{s['median_ms'] / o['median_ms']:.2f}"
            out.append(f"| {b} | {cell(s)} | {cell(o)} | {cell(t)} | {rel} | {ratio(t and t['median_ms'], s and s['median_ms'])} |")
        o = next((r for r in eng.values() if r["impl"] == "onnxruntime"), None)
        if o:
            out += ["", f"ONNX export checked against PyTorch before timing: max |ORT - PyTorch| = "
                        f"{o['check_max_abs_diff']:.2g} (tolerance {o['tolerance']}); onnxruntime {o['onnxruntime']}, "
                        f"torch {o['torch']}. ORT times `InferenceSession.run` on prepared inputs; with the "
                        f"Python token layout it takes " + ", ".join(
                            f"{f(r['full_median_ms'])} ms at batch {r['batch']}" for r in eng.values()
                            if r["impl"] == "onnxruntime") + "."]
        for b in sorted({k[1] for k in eng}):
            s = eng.get(("swift", b))
            if s and "explain_ratio" in s:
                out.append(f"Explanations: explain_events=3 on a top-10 catalogue request, batch {b}: "
                           f"{f(s['explain_median_ms'])} ms against {f(s['rank_median_ms'])} ms plain = "
                           f"{s['explain_ratio']:.2f}x (target <= 2x; docs/explanations.md).")
        out.append("")

    srv = {(r["impl"], r["clients"]): r for r in rows if r.get("bench") == "server"}
    if srv:
        any_row = next(iter(srv.values()))
        out += [f"### Server: whole-catalogue Rank, {any_row['events']} events, top {any_row['top_k']}, "
                f"both servers pinned to CPU {any_row['server_cpus']} (fuserank-server --workers 1; the peer: "
                f"one Python process, ORT 1 thread)", "",
                "| clients | swift rps | swift p50 / p99 ms | python rps | python p50 / p99 ms "
                "| swift / python rps (target >= 5 at 16, p99 <= 10 ms) |", "|---|---|---|---|---|---|"]
        for n in sorted({k[1] for k in srv}):
            s, p = srv.get(("swift", n)), srv.get(("python", n))
            cell = lambda r: "-" if not r else f"{f(r['p50_ms'])} / {f(r['p99_ms'])}"  # noqa: E731
            out.append(f"| {n} | {f(s and s['rps'], 0)} | {cell(s)} | {f(p and p['rps'], 0)} | {cell(p)} "
                       f"| {ratio(s and s['rps'], p and p['rps'])} |")
        errs = sum(r["errors"] for r in srv.values())
        gen = max(r["loadgen_cpu"] for r in srv.values())
        pace = ("well under 100%: the servers, not the generator, set the pace" if gen < 0.8
                else "near 100%: the generator may be what limits these figures")
        out += ["", f"Errors: {errs}. Load generator CPU at most {gen:.0%} of one core ({pace})."]
        for st in (r for r in rows if r.get("bench") == "server_stages"):
            out.append("Python peer, mean ms per request by stage: " +
                       ", ".join(f"{k} {v}" for k, v in st["stage_mean_ms"].items()) + ".")
        out.append("")

    cat_s = {r["catalogue"]: r for r in rows if r.get("bench") == "catalogue" and r.get("impl") == "swift"}
    cat_n = {r["catalogue"]: r for r in rows if r.get("bench") == "catalogue" and r.get("impl") == "numpy"}
    if cat_s or cat_n:
        out += ["### Whole-catalogue top-10 (d_model 64, 1 thread; ms per call)", "",
                "| items | swift exact | numpy | numpy / swift exact (target >= 1) | swift int8 | exact / int8 (target >= 3) "
                "| int8 <= 5 ms? | recall@10 | batch 8 per call: exact / int8 / numpy | table f32 / int8 MB |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for n in sorted(set(cat_s) | set(cat_n)):
            s, p = cat_s.get(n, {}), cat_n.get(n, {})
            out.append(
                f"| {n:,} | {f(s.get('exact_ms'))} | {f(p.get('exact_ms'))} | {ratio(p.get('exact_ms'), s.get('exact_ms'))} "
                f"| {f(s.get('int8_ms'))} | {ratio(s.get('exact_ms'), s.get('int8_ms'))} "
                f"| {'-' if not s else ('yes' if s['int8_ms'] <= 5 else 'no')} | {f(s.get('recall_at_10'), 4)} "
                f"| {f(s.get('exact_batch8_ms'), 1)} / {f(s.get('int8_batch8_ms'), 1)} / {f(p.get('exact_batch8_ms'), 1)} "
                f"| {f(s.get('table_bytes_f32', p.get('table_bytes_f32', 0)) / 1e6, 0)} / "
                f"{f(s['table_bytes_int8'] / 1e6, 0) if s else '-'} |")
        k = next(iter(cat_s.values()), {})
        if k:
            out += ["", f"Swift: {k.get('events')}-event requests (the encoder's forward included), "
                        f"exclude_seen, int8 kernel `{k.get('kernel')}`, recall over {k.get('users')} users "
                        f"({k.get('vectors')} vectors). numpy: `E @ u + b`, 50 seen rows to -inf, "
                        f"`argpartition` top 10, 1 BLAS thread (threadpoolctl)."]
        out.append("")

    for r in rows:
        if r.get("bench") == "session":
            if "note" in r:
                out += ["### Session cache", "", r["note"], ""]
            else:
                out += ["### Session cache (append one event to 200 cached vs a full pass)", "",
                        f"append {f(r.get('append_ms'))} ms, full {f(r.get('full_ms'))} ms: ratio "
                        f"{r['append_ms'] / r['full_ms']:.3f} (target <= 0.1).", ""]
        if r.get("bench") == "forecast" and r.get("impl") == "pytorch":
            swift = next((x for x in rows if x.get("bench") == "forecast" and x.get("impl") == "swift"), None)
            ratio = f"; Swift / PyTorch {swift['median_ms'] / r['median_ms']:.3f}" if swift else ""
            out += [f"PyTorch reference, the same request: {f(r['median_ms'])} ms (p90 {f(r['p90_ms'])}){ratio} "
                    "(target: the Swift request <= 50 ms).", ""]
        elif r.get("bench") == "forecast":
            out += [f"### Forecast ({r['series']:,} series x {r['history']}-period history, horizon {r['horizon']}, "
                    f"{r['threads']} thread)", "",
                    f"{f(r['median_ms'])} ms per request (p90 {f(r['p90_ms'])}), {f(r['per_series_us'], 1)} µs per series; "
                    f"forecaster d_model {r['d_model']}, {r['layers']} layers, P {r['patch']}, C {r['context']}, "
                    f"H {r['max_horizon']}, {r['quantiles']} levels, {r['tokens']} tokens per series "
                    f"({r['forecaster']}; OpenBLAS {r.get('blas_core', '?')} kernels).", ""]
        if r.get("bench") == "affinity" and r.get("way") == "broker":
            rr = next((x for x in rows if x.get("bench") == "affinity" and x.get("way") == "round-robin"), None)
            if rr:
                out += [f"### Sessions through the broker (3 replicas, {r['sessions']} sessions x {r['steps']} calls, "
                        "the history growing by one event a call)", "",
                        "| routing | cache hit rate | sessions held | session cache MiB | mean / p90 ms |", "|---|---|---|---|---|",
                        f"| round-robin (direct to each replica in turn) | {rr['hit_rate']} | {rr['sessions_held']} | "
                        f"{rr['cache_mib']} | {f(rr['mean_ms'])} / {f(rr['p90_ms'])} |",
                        f"| the broker, by session_id | {r['hit_rate']} | {r['sessions_held']} | {r['cache_mib']} | "
                        f"{f(r['mean_ms'])} / {f(r['p90_ms'])} |", "",
                        f"Memory broker / round-robin: {r['cache_mib'] / rr['cache_mib']:.3f} (target <= 0.5).", ""]
    fused = [r for r in rows if r.get("bench") == "fused"]
    if fused:
        out += [f"### Fused bundle ({fused[0]['members']} copies of `{fused[0]['model']}`, catalogue requests of "
                f"{fused[0]['events']} events, top 10, {fused[0]['threads']} thread)", "",
                "| batch | single model median ms | fused median ms | fused / single | scratch MB single / fused |",
                "|---|---|---|---|---|"]
        out += [f"| {r['batch']} | {f(r['single_rank_median_ms'])} | {f(r['fused_rank_median_ms'])} | {r['fused_ratio']:.3f} | "
                f"{r['single_scratch_mb']:.1f} / {r['fused_scratch_mb']:.1f} ({r['fused_scratch_ratio']:.2f}x) |"
                for r in fused]
        out += ["", "Each member runs its own encoder and one catalogue GEMM adding into the bundle's one score "
                "buffer; the two kinds of request are timed in turns in the same process. Scratch: what one "
                "worker allocates beside the shared bundle.", ""]
    for r in rows:
        if r.get("bench") == "skipped":
            out += [f"Skipped: {r['what']}: {r['why']}", ""]
    return "\n".join(out).rstrip() + "\n"


def splice(md: str, target: str) -> None:
    text = Path(target).read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{target}: no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    Path(target).write_text(head + BEGIN + "\n" + Path(md).read_text() + END + tail)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "tag" and len(sys.argv) == 3:
        tag(sys.argv[2])
    elif cmd == "render" and len(sys.argv) == 3:
        sys.stdout.write(render(sys.argv[2]))
    elif cmd == "splice" and len(sys.argv) == 4:
        splice(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
