"""ONNX export of the reference forward (requests -> user vectors), for the benchmark peer.

The exported graph computes `FuseRankModel.forward_tokens` on a padded layout instead of the
compact one: each request's events, text tokens and images sit right-padded in their own blocks,
then the [RANK] token, and a key is visible to a query when it is a real token at or before the
query (causal over the padded order). The padded order keeps the order of the real tokens, and
nothing but that order reaches attention (text and image tokens carry no position), so each real
token sees exactly the keys it sees in the compact layout: the user vectors are the same up to
float rounding, which `check` measures against PyTorch.

    python -m fuserank.bundle.onnx_export --model ../models/default --out /tmp/default.onnx

Inputs (`onnx_inputs` builds them from token layouts; B requests, L/T/I the longest block, each
at least 1; int64 unless said):
    rows, types, buckets (B, L)    item-table row, event type, time bucket of each kept event
    text_ids (B, T)                text token ids
    images (B, I, image_dim) f32   only when the model takes images (image_dim > 0)
    rank_bucket (B,)               the [RANK] token's time bucket
    n_events, n_text, n_images (B,)  how many of each block are real
Output: user_vectors (B, d_model) float32.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..model.config import ModelConfig
from ..model.features import Request, Tokens
from ..model.transformer import FuseRankModel

OUTPUT = "user_vectors"


def input_names(cfg: ModelConfig) -> list[str]:
    """The graph's input names, in order (no `images` for a model without images)."""
    names = ["rows", "types", "buckets", "text_ids", "images", "rank_bucket", "n_events", "n_text", "n_images"]
    return names if cfg.image_dim > 0 else [n for n in names if n != "images"]


def onnx_inputs(batch: Sequence[Tokens], cfg: ModelConfig) -> dict[str, np.ndarray]:
    """The graph's inputs for a batch of token layouts (numpy only; see the module docstring)."""
    bsz = len(batch)
    lmax = max(1, max(len(t.rows) for t in batch))
    tmax = max(1, max(len(t.text_ids) for t in batch))
    imax = max(1, max(len(t.images) for t in batch))
    rows = np.zeros((bsz, lmax), np.int64)
    types = np.zeros((bsz, lmax), np.int64)
    buckets = np.zeros((bsz, lmax), np.int64)
    text = np.zeros((bsz, tmax), np.int64)
    for b, t in enumerate(batch):
        e = len(t.rows)
        rows[b, :e], types[b, :e], buckets[b, :e] = t.rows, t.types, t.buckets
        text[b, : len(t.text_ids)] = t.text_ids
    out = {"rows": rows, "types": types, "buckets": buckets, "text_ids": text}
    if cfg.image_dim > 0:
        images = np.zeros((bsz, imax, cfg.image_dim), np.float32)
        for b, t in enumerate(batch):
            if t.images:
                images[b, : len(t.images)] = np.asarray(t.images, np.float32)
        out["images"] = images
    out["rank_bucket"] = np.array([t.rank_bucket for t in batch], np.int64)
    out["n_events"] = np.array([len(t.rows) for t in batch], np.int64)
    out["n_text"] = np.array([len(t.text_ids) for t in batch], np.int64)
    out["n_images"] = np.array([len(t.images) for t in batch], np.int64)
    return out


class PaddedForward(nn.Module):
    """`FuseRankModel.forward_tokens` over the padded layout: the module `export` traces."""

    def __init__(self, model: FuseRankModel):
        super().__init__()
        self.model = model

    def forward(self, rows: Tensor, types: Tensor, buckets: Tensor, text_ids: Tensor, images: Tensor,
                rank_bucket: Tensor, n_events: Tensor, n_text: Tensor, n_images: Tensor) -> Tensor:
        return self.padded(rows, types, buckets, text_ids, images, rank_bucket, n_events, n_text, n_images)

    def padded(self, rows: Tensor, types: Tensor, buckets: Tensor, text_ids: Tensor, images: Tensor | None,
               rank_bucket: Tensor, n_events: Tensor, n_text: Tensor, n_images: Tensor) -> Tensor:
        """User vectors (B,d) of the padded inputs (images None for a model without images)."""
        m = self.model
        bsz, lmax = rows.shape
        positions = torch.arange(lmax, device=rows.device).expand(bsz, lmax)
        parts = [m.embed_events(rows, types, buckets, positions),             # (B,L,d)
                 m.embed_text(text_ids)]                                      # (B,T,d)
        valid = [torch.arange(lmax, device=rows.device)[None] < n_events[:, None],
                 torch.arange(text_ids.shape[1], device=rows.device)[None] < n_text[:, None]]
        if images is not None:
            parts.append(m.embed_images(images))                             # (B,I,d)
            valid.append(torch.arange(images.shape[1], device=rows.device)[None] < n_images[:, None])
        parts.append(m.embed_rank(rank_bucket[:, None], n_events[:, None]))  # (B,1,d)
        valid.append(torch.ones_like(n_events, dtype=torch.bool)[:, None])
        x = torch.cat(parts, dim=1)                                          # (B,S,d)
        real = torch.cat(valid, dim=1)                                       # (B,S) real tokens
        pos = torch.arange(x.shape[1], device=rows.device)
        causal = pos[:, None] >= pos[None, :]                                # (S,S) j <= i
        visible = causal[None] & real[:, None, :]                            # (B,S,S)
        h = m.encode(x, visible)
        ar = torch.arange(bsz, device=rows.device)
        return m.user_vectors(m.readout(h[:, -1], h[ar, (n_events - 1).clamp(min=0)], n_events > 0))


class PaddedForwardNoImages(PaddedForward):
    """`PaddedForward` of a model without images (image_dim 0): no `images` input."""

    def forward(self, rows: Tensor, types: Tensor, buckets: Tensor, text_ids: Tensor,  # type: ignore[override]
                rank_bucket: Tensor, n_events: Tensor, n_text: Tensor, n_images: Tensor) -> Tensor:
        return self.padded(rows, types, buckets, text_ids, None, rank_bucket, n_events, n_text, n_images)


def _example(cfg: ModelConfig) -> tuple[Tensor, ...]:
    """Example inputs with every dynamic size >= 2 (torch.export specialises sizes 0 and 1)."""
    toks = [Tokens(rows=[2, 3, 2], types=[0, 1, 2], buckets=[1, 2, 3], positions=[0, 1, 2],
                   text_ids=[2, 3], images=[[0.1] * cfg.image_dim] * 2, rank_bucket=2),
            Tokens(rows=[2, 2], types=[1, 1], buckets=[1, 1], positions=[0, 1],
                   text_ids=[1], images=[[0.2] * cfg.image_dim] if cfg.image_dim else [], rank_bucket=1)]
    if cfg.image_dim == 0:
        toks = [Tokens(**{**t.__dict__, "images": []}) for t in toks]
    arrays = onnx_inputs(toks, cfg)
    return tuple(torch.from_numpy(arrays[n]) for n in input_names(cfg))


def export(model: FuseRankModel, cfg: ModelConfig, path: str | Path) -> Path:
    """Export `PaddedForward(model)` to `path` (opset 18, batch and block lengths dynamic).

    - Returns: the path written.
    - Throws: whatever `torch.onnx.export` raises.
    """
    path = Path(path)
    wrapper = (PaddedForward if cfg.image_dim > 0 else PaddedForwardNoImages)(model.eval()).eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    lmax = torch.export.Dim("events", min=1, max=cfg.max_events)
    tmax = torch.export.Dim("text", min=1, max=max(2, cfg.max_text_tokens))
    imax = torch.export.Dim("images", min=1, max=max(2, cfg.max_images))
    shapes: dict[str, dict[int, object]] = {
        "rows": {0: batch, 1: lmax}, "types": {0: batch, 1: lmax}, "buckets": {0: batch, 1: lmax},
        "text_ids": {0: batch, 1: tmax}, "images": {0: batch, 1: imax},
        "rank_bucket": {0: batch}, "n_events": {0: batch}, "n_text": {0: batch}, "n_images": {0: batch}}
    names = input_names(cfg)
    with torch.no_grad():
        program = torch.onnx.export(wrapper, _example(cfg), input_names=names, output_names=[OUTPUT],
                                    dynamic_shapes=tuple(shapes[n] for n in names), opset_version=18,
                                    dynamo=True, verbose=False)
    program.save(str(path))
    return path


def session(path: str | Path, threads: int = 1):
    """An ONNX Runtime CPU session of `path` with `threads` intra-op threads, all graph optimisations."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def check_requests(cfg: ModelConfig, item_ids: Sequence[int], count: int = 24, seed: int = 1) -> list[Request]:
    """Requests of every shape the check should cover: empty, text only, images, long, truncated."""
    rng = random.Random(seed)
    known = list(item_ids[2:])
    out = []
    for i in range(count):
        n_ev = [0, 1, 2, cfg.max_events, cfg.max_events + 7][i % 5] if i < 10 else rng.randint(0, cfg.max_events)
        ts = 1_700_000_000_000
        events = []
        for _ in range(n_ev):
            ts += rng.randint(0, 900_000)
            events.append((rng.choice(known) if rng.random() < 0.95 else 987654321,
                           rng.randrange(cfg.num_event_types), ts if rng.random() < 0.9 else 0, 0))
        text = [rng.randrange(cfg.text_vocab_size) for _ in range(rng.randint(0, cfg.max_text_tokens + 2))]
        images = ([[rng.gauss(0, 1) for _ in range(cfg.image_dim)] for _ in range(rng.randint(0, cfg.max_images + 1))]
                  if cfg.image_dim > 0 else [])
        out.append(Request(events=events, text_tokens=text, images=images, now_ms=ts + 60_000 if i % 3 else 0))
    return out


def check(model: FuseRankModel, cfg: ModelConfig, sess, requests: Sequence[Request], batch: int) -> float:
    """Max absolute difference of ORT's user vectors from PyTorch's over `requests`, `batch` at a time."""
    worst = 0.0
    names = input_names(cfg)
    for start in range(0, len(requests), batch):
        chunk = list(requests[start:start + batch])
        tokens = [model.tokens(r) for r in chunk]
        with torch.inference_mode():
            want = model.forward_tokens(tokens).numpy()
        arrays = onnx_inputs(tokens, cfg)
        got = sess.run([OUTPUT], {n: arrays[n] for n in names})[0]
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


def main() -> None:
    from .io import load_bundle

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="bundle folder")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |ORT - PyTorch|")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, cfg, item_ids, _ = load_bundle(args.model)
    export(model, cfg, args.out)
    sess = session(args.out)
    reqs = check_requests(cfg, item_ids)
    worst = max(check(model, cfg, sess, reqs, 1), check(model, cfg, sess, reqs, 8))
    print(json.dumps({"onnx": args.out, "max_abs_diff": worst, "tolerance": args.tolerance}))
    if not worst <= args.tolerance:
        raise SystemExit(f"ONNX export of {args.model} differs from PyTorch by {worst:.3g} > {args.tolerance}")


if __name__ == "__main__":
    main()
