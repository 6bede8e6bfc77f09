"""ONNX Runtime forward latency on the model exported from the PyTorch reference (`onnx_export`).

Run from training/ (needs onnxruntime, onnx, onnxscript: bench/requirements.txt):
`python -m fuserank.parity.bench_onnx --model ../models/default --batch 1 --batch 32 --events 200 --threads 1 --iters 50`

First exports the bundle and checks ORT's user vectors against PyTorch's (requests of every shape,
and the very requests it times): a difference above `--tolerance` (1e-4) exits non-zero with the
figure, before anything is timed. Then prints one JSON line per batch size:
{"impl":"onnxruntime","batch":B,"events":E,"median_ms":...,"p90_ms":...,"full_median_ms":...}.
`median_ms`/`p90_ms` time `InferenceSession.run` on inputs built beforehand (the padded arrays);
`full_median_ms` adds building them from the requests in Python (the reference token layout).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import onnxruntime as ort
import torch

from .bench_torch import make_requests, timings
from ..bundle.io import load_bundle
from ..bundle.onnx_export import OUTPUT, check, check_requests, export, input_names, onnx_inputs, session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle folder")
    parser.add_argument("--onnx", help="where to write the .onnx file (default: a temporary folder)")
    parser.add_argument("--batch", type=int, action="append", help="batch size (repeatable); default 1 and 32")
    parser.add_argument("--events", type=int, default=200, help="events per request")
    parser.add_argument("--threads", type=int, default=1, help="ORT intra-op threads")
    parser.add_argument("--iters", type=int, default=50, help="timed iterations per batch size")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |ORT - PyTorch|")
    args = parser.parse_args()

    torch.set_num_threads(1)
    model, cfg, item_ids, _ = load_bundle(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.onnx) if args.onnx else Path(tmp) / f"{cfg.name}.onnx"
        export(model, cfg, path)
        sess = session(path, args.threads)
        shapes = check_requests(cfg, item_ids)
        worst = max(check(model, cfg, sess, shapes, 1), check(model, cfg, sess, shapes, 8))
        batches = args.batch or [1, 32]
        plans = {b: make_requests(item_ids, cfg.num_event_types, b, args.events, args.seed) for b in batches}
        for b, reqs in plans.items():
            worst = max(worst, check(model, cfg, sess, reqs, b))
        if not worst <= args.tolerance:
            raise SystemExit(f"bench_onnx: the ONNX export of {args.model} differs from PyTorch by "
                             f"{worst:.3g} > {args.tolerance}: nothing timed")
        names = input_names(cfg)
        for b, reqs in plans.items():
            tokens = [model.tokens(r) for r in reqs]
            feeds = {n: a for n, a in onnx_inputs(tokens, cfg).items() if n in names}
            run, run_p90 = timings(lambda: sess.run([OUTPUT], feeds), args.iters, args.warmup)

            def full():
                arrays = onnx_inputs([model.tokens(r) for r in reqs], cfg)
                sess.run([OUTPUT], {n: arrays[n] for n in names})

            full_ms, _ = timings(full, args.iters, args.warmup)
            print(json.dumps({"impl": "onnxruntime", "batch": b, "events": args.events,
                              "median_ms": round(run, 4), "p90_ms": round(run_p90, 4),
                              "full_median_ms": round(full_ms, 4), "check_max_abs_diff": worst,
                              "tolerance": args.tolerance, "tokens": max(t.length for t in tokens),
                              "threads": args.threads, "iters": args.iters, "model": cfg.name,
                              "d_model": cfg.d_model, "n_layers": cfg.n_layers,
                              "onnxruntime": ort.__version__, "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
