#!/usr/bin/env python3
"""The plain Python peer of fuserank-server for `make bench`: pyzmq ROUTER + ONNX Runtime + numpy.

Speaks the wire protocol of docs/wire.md with the generated pb2 (clients/python): Rank (whole
catalogue or candidates, top_k, exclude_seen, query text) and Health; anything else is
UNIMPLEMENTED, a bad request INVALID_ARGUMENT. It leaves out what the benchmark does not send:
explanations, the session cache, business filters, the repeat head of format-3 bundles. One process, one thread, one request at a time:
the reference token layout (fuserank.model.features, pure Python), the exported forward on ONNX Runtime
(1 intra-op thread), `E @ u + b` and `argpartition` top-k in numpy (1 BLAS thread).

    python bench/py_server.py --bind tcp://127.0.0.1:5601 --model models/default --onnx default.onnx

Prints "py-server: serving on <endpoint>" once bound; SIGINT/SIGTERM stop it, and it prints its
mean time per stage (decode, tokens, forward, score, encode) as one JSON line on stderr.
Binds loopback addresses only (a benchmark peer, not a server to deploy).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import zmq  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))
sys.path.insert(0, str(ROOT / "clients" / "python"))

# fuserank's package init imports torch (the model); only its torch-free modules are used here.
from fuserank.model.config import ModelConfig  # noqa: E402
from fuserank.model.features import Request, RequestError, item_row, request_tokens, seen_rows  # noqa: E402
from fuserank.bundle.onnx_export import OUTPUT, input_names, onnx_inputs, session  # noqa: E402
from fuserank.model.tokenizer import tokenize, vocab_index  # noqa: E402
from fuserank.bundle.io import read_vocab  # noqa: E402
from fuserank_client._proto import ranker_pb2 as pb  # noqa: E402

RANK = "/fuserank.v1.Ranker/Rank"
HEALTH = "/fuserank.v1.Ranker/Health"
LOOPBACK = ("tcp://127.", "tcp://localhost:", "tcp://[::1]:", "ipc://", "inproc://")


class Peer:
    """One loaded model: config, vocabulary, item table, the ORT session."""

    def __init__(self, model: str, onnx: str, default_top_k: int):
        root = Path(model)
        self.cfg = ModelConfig.from_json(json.loads((root / "config.json").read_text()))
        self.version = json.loads((root / "config.json").read_text()).get("version", "")
        self.vocab = vocab_index(read_vocab(root / "vocab.txt"))
        w = load_file(str(root / "weights.safetensors"))
        self.item_ids = w["item_ids"].astype(np.int64)                 # (num_items,)
        self.row_of = {int(x): r for r, x in enumerate(self.item_ids.tolist()) if r >= 2 and x > 0}
        self.emb = np.ascontiguousarray(w["item_emb.weight"][2:])        # (num_items - 2, d) rankable rows
        self.bias = np.ascontiguousarray(w["item_bias"][2:])             # (num_items - 2,)
        self.sess = session(onnx, threads=1)
        self.names = input_names(self.cfg)
        self.default_top_k = default_top_k
        self.stages = {k: 0.0 for k in ("decode", "tokens", "forward", "score", "encode")}
        self.ranked = 0

    def rank(self, body: bytes) -> bytes:
        """RankRequest bytes -> RankReply bytes; raises RequestError for a bad request."""
        t0 = time.perf_counter()
        msg = pb.RankRequest.FromString(body)
        if msg.model and msg.model != self.cfg.name:
            raise LookupError(f"no model {msg.model!r}; serving {self.cfg.name!r}")
        text = [t for t in msg.text_tokens] + (tokenize(msg.query, self.vocab) if msg.query else [])
        req = Request(events=[(e.item_id, e.type, e.timestamp_ms, e.dwell_ms) for e in msg.events],
                      text_tokens=text, images=[list(i.values) for i in msg.images],
                      candidates=list(msg.candidates), top_k=msg.top_k, exclude_seen=msg.exclude_seen,
                      now_ms=msg.now_ms)
        t1 = time.perf_counter()
        tokens = request_tokens(req, self.cfg, self.row_of)
        arrays = onnx_inputs([tokens], self.cfg)
        t2 = time.perf_counter()
        u = self.sess.run([OUTPUT], {n: arrays[n] for n in self.names})[0][0]   # (d,)
        t3 = time.perf_counter()
        reply = pb.RankReply(model=self.cfg.name, model_version=self.version)
        if req.candidates:
            rows, seen = [], set()
            for c in req.candidates:
                if c in seen:
                    continue
                seen.add(c)
                r = item_row(c, self.row_of)
                if r == 1:
                    reply.unknown_candidates.append(c)
                else:
                    rows.append(r - 2)
            idx = np.array(rows, np.int64)
            # Row by row, so equal rows score exactly equal and ties keep row order (a gemv may
            # round identical rows differently); the catalogue path keeps gemv for its speed.
            scores = (self.emb[idx] * u).sum(axis=1) + self.bias[idx]
            k = len(idx) if req.top_k == 0 else min(req.top_k, len(idx))
            order = np.lexsort((idx, -scores))[:k]
            top, top_scores = idx[order], scores[order]
        else:
            scores = self.emb @ u + self.bias                                      # (num_items - 2,)
            if req.exclude_seen or self.cfg.exclude_seen:
                seen_idx = np.fromiter((r - 2 for r in seen_rows(req, self.row_of)), np.int64)
                scores[seen_idx] = -np.inf
                n = len(scores) - len(seen_idx)
            else:
                n = len(scores)
            k = min(req.top_k or self.default_top_k, n)
            part = np.argpartition(-scores, k - 1)[:k] if 0 < k < len(scores) else np.arange(len(scores))
            order = part[np.lexsort((part, -scores[part]))][:k]
            top, top_scores = order, scores[order]
        t4 = time.perf_counter()
        ids = self.item_ids[top + 2]
        reply.items.extend(pb.ScoredItem(item_id=int(i), score=float(s)) for i, s in zip(ids, top_scores))
        out = reply.SerializeToString()
        t5 = time.perf_counter()
        for key, dt in zip(self.stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            self.stages[key] += dt
        self.ranked += 1
        return out


def answer(peer: Peer, frames: list[bytes]) -> list[bytes]:
    """The reply frames (envelope echoed) for one received message."""
    envelope_end = 1
    for i in range(1, len(frames)):
        if frames[i] == b"":
            envelope_end = i + 1
            break
    envelope, rest = frames[:envelope_end], frames[envelope_end:]
    if len(rest) != 2:
        head = pb.ReplyHeader(code=pb.INVALID_ARGUMENT, message=f"{len(rest)} frames after the envelope, expected 2")
        return envelope + [head.SerializeToString(), b""]
    try:
        header = pb.RequestHeader.FromString(rest[0])
    except Exception:
        return envelope + [pb.ReplyHeader(code=pb.INVALID_ARGUMENT, message="undecodable header").SerializeToString(), b""]
    head = pb.ReplyHeader(request_id=header.request_id)
    body = b""
    try:
        if header.method == RANK:
            body = peer.rank(rest[1])
        elif header.method == HEALTH:
            body = pb.HealthReply(ready=True, state="serving", models=[peer.cfg.name]).SerializeToString()
        else:
            head.code, head.message = pb.UNIMPLEMENTED, f"unknown method {header.method!r}"
    except (RequestError, ValueError, DecodeError) as e:
        head.code, head.message, body = pb.INVALID_ARGUMENT, str(e), b""
    except LookupError as e:
        head.code, head.message, body = pb.NOT_FOUND, str(e), b""
    return envelope + [head.SerializeToString(), body]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bind", default="tcp://127.0.0.1:5601", help="loopback endpoint (port 0 picks one)")
    parser.add_argument("--model", required=True, help="the bundle folder (item table, vocab, config)")
    parser.add_argument("--onnx", required=True, help="the exported forward (python -m fuserank.bundle.onnx_export)")
    parser.add_argument("--default-top-k", type=int, default=100)
    args = parser.parse_args()
    if not args.bind.startswith(LOOPBACK):
        parser.error("--bind must be a loopback (127.x, localhost, [::1]) or ipc/inproc endpoint")
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    peer = Peer(args.model, args.onnx, args.default_top_k)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(args.bind[:-2] + ":*" if args.bind.endswith(":0") else args.bind)  # zmq's "any port"
    endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    print(f"py-server: serving on {endpoint}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    while not stop:
        if not poller.poll(100):
            continue
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            sock.send_multipart(answer(peer, frames))
    n = max(1, peer.ranked)
    print(json.dumps({"impl": "python", "ranked": peer.ranked,
                      "stage_mean_ms": {k: round(v * 1000 / n, 4) for k, v in peer.stages.items()}}),
          file=sys.stderr, flush=True)
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
