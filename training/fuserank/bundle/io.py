"""Export and load a model bundle (docs/model-format.md, "Bundle layout")."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..model.config import REPEAT_COUNT_BUCKETS, REPEAT_RANK_BUCKETS, ModelConfig
from ..model.fusion import FUSION_FILE, FUSION_VERSION, MAX_MEMBERS, FusedModel
from ..model.transformer import FuseRankModel


class BundleError(ValueError):
    """A bundle that does not follow the contract; the message names the file and the tensor."""


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor name of weights.safetensors and its shape (the contract's table)."""
    d, f = cfg.d_model, cfg.d_ff
    shapes: dict[str, tuple[int, ...]] = {
        "item_ids": (cfg.num_items,),
        "item_emb.weight": (cfg.num_items, d),
        "item_bias": (cfg.num_items,),
        "event_type_emb.weight": (cfg.num_event_types, d),
        "time_emb.weight": (cfg.num_time_buckets, d),
        "pos_emb.weight": (cfg.max_events, d),
        "text_emb.weight": (cfg.text_vocab_size, d),
        "modality_emb.weight": (2, d),
        "rank_token": (d,),
        "final_norm.weight": (d,),
        "final_norm.bias": (d,),
    }
    if cfg.format_version >= 2:
        shapes["rank_pos_emb.weight"] = (cfg.max_events + 1, d)
    if cfg.has_repeat_head:
        shapes["repeat.rank"] = (REPEAT_RANK_BUCKETS,)
        shapes["repeat.count"] = (REPEAT_COUNT_BUCKETS,)
        shapes["repeat.event_type"] = (cfg.num_event_types,)
        shapes["repeat.time"] = (cfg.num_time_buckets,)
        shapes["repeat.gate"] = (d,)
    if cfg.image_dim > 0:
        shapes["image_proj.weight"] = (d, cfg.image_dim)
        shapes["image_proj.bias"] = (d,)
    for layer in range(cfg.n_layers):
        p = f"layers.{layer}."
        for norm in ("norm1", "norm2"):
            shapes[p + norm + ".weight"] = (d,)
            shapes[p + norm + ".bias"] = (d,)
        for lin in ("q", "k", "v", "o"):
            shapes[p + lin + ".weight"] = (d, d)
            shapes[p + lin + ".bias"] = (d,)
        shapes[p + "ffn_up.weight"] = (f, d)
        shapes[p + "ffn_up.bias"] = (f,)
        shapes[p + "ffn_down.weight"] = (d, f)
        shapes[p + "ffn_down.bias"] = (d,)
    return shapes


def _check_vocab(vocab: Sequence[str], cfg: ModelConfig, where: str) -> None:
    if len(vocab) != cfg.text_vocab_size:
        raise BundleError(f"{where}: {len(vocab)} tokens, config text_vocab_size is {cfg.text_vocab_size}")
    if list(vocab[:2]) != ["[PAD]", "[UNK]"]:
        raise BundleError(f"{where}: lines 0 and 1 must be [PAD] and [UNK]")
    for i, word in enumerate(vocab):
        if not word or "\n" in word or "\r" in word:
            raise BundleError(f"{where}: token {i} is empty or holds a line break")


def _check_item_ids(ids: torch.Tensor, where: str) -> None:
    known = ids[2:]
    if (known <= 0).any():
        raise BundleError(f"{where}: tensor 'item_ids' holds an id <= 0 at a row >= 2")
    if known.unique().numel() != known.numel():
        raise BundleError(f"{where}: tensor 'item_ids' holds duplicate ids")


def export_bundle(model: FuseRankModel, cfg: ModelConfig, item_ids: Sequence[int] | torch.Tensor | None,
                  vocab: Sequence[str], out_dir: str | Path, model_card_text: str) -> Path:
    """Write config.json, weights.safetensors, vocab.txt and model-card.md into `out_dir`.

    - Parameters:
      - model: the trained model (its weights are written as float32).
      - cfg: its configuration (dropout is not exported).
      - item_ids: row -> external item id, length num_items; None uses `model.item_ids`.
        Rows 0 and 1 are written as 0 and -1.
      - vocab: the text vocabulary, `[PAD]`, `[UNK]`, then the words.
      - out_dir: the bundle folder (created if missing).
      - model_card_text: the markdown of model-card.md.
    - Returns: the bundle folder.
    - Throws: BundleError when the weights, item ids or vocab do not match `cfg`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = model.item_ids if item_ids is None else torch.as_tensor(item_ids, dtype=torch.long)
    ids = ids.detach().to("cpu", torch.long).clone()
    if ids.shape != (cfg.num_items,):
        raise BundleError(f"item_ids has shape {tuple(ids.shape)}, expected ({cfg.num_items},)")
    ids[0], ids[1] = 0, -1
    _check_item_ids(ids, "export")
    _check_vocab(vocab, cfg, "vocab")

    tensors = weight_tensors(model, cfg, ids)
    # Each file is written beside its final name and renamed over it: a server that has the old
    # weights memory-mapped keeps reading the old inode instead of faulting on a rewritten file.
    _replace(out / "config.json", lambda p: p.write_text(json.dumps(cfg.to_json(), indent=2) + "\n"))
    _replace(out / "weights.safetensors",
             lambda p: save_file(tensors, str(p), metadata={"format": "pt"}))
    _replace(out / "vocab.txt", lambda p: p.write_text("".join(w + "\n" for w in vocab)))
    _replace(out / "model-card.md", lambda p: p.write_text(
        model_card_text if model_card_text.endswith("\n") else model_card_text + "\n"))
    return out


def weight_tensors(model: FuseRankModel, cfg: ModelConfig, ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """The tensors of weights.safetensors (float32 weights and the I64 `item_ids`), checked
    against the contract of `cfg`."""
    shapes = expected_shapes(cfg)
    tensors: dict[str, torch.Tensor] = {"item_ids": ids.contiguous()}
    for name, value in model.state_dict().items():
        if name == "item_ids":
            continue
        tensors[name] = value.detach().to("cpu", torch.float32).contiguous().clone()
    if set(tensors) != set(shapes):
        raise BundleError(f"model tensors differ from the contract: extra {sorted(set(tensors) - set(shapes))}, "
                          f"missing {sorted(set(shapes) - set(tensors))}")
    for name, shape in shapes.items():
        if tuple(tensors[name].shape) != shape:
            raise BundleError(f"tensor {name!r} has shape {tuple(tensors[name].shape)}, expected {shape}")

    return tensors


def write_weights(model: FuseRankModel, cfg: ModelConfig, bundle: str | Path) -> None:
    """Replace only a bundle's weights.safetensors (its item ids kept), atomically."""
    path = Path(bundle) / "weights.safetensors"
    ids = model.item_ids.detach().to("cpu", torch.long).clone()
    ids[0], ids[1] = 0, -1
    tensors = weight_tensors(model, cfg, ids)
    _replace(path, lambda p: save_file(tensors, str(p), metadata={"format": "pt"}))


def _replace(path: Path, write) -> None:
    """Write through `write(tmp_path)`, then atomically rename the result to `path`."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def read_vocab(path: str | Path) -> list[str]:
    """The lines of vocab.txt (a final newline ends the last line)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def load_bundle(bundle_dir: str | Path) -> tuple[FuseRankModel | FusedModel, ModelConfig, list[int], list[str]]:
    """Load a bundle into an eval-mode model: a `FusedModel` when the folder holds `fusion.json`
    (docs/model-format.md "Fused bundles"), else a `FuseRankModel`.

    - Parameters:
      - bundle_dir: the bundle folder.
    - Returns: `(model, cfg, item_ids, vocab)`; a fused bundle's `cfg` is its own (the first member's).
    - Throws: BundleError (or ConfigError) naming the file and tensor that is wrong.
    """
    root = Path(bundle_dir)
    model, cfg, ids, vocab = _load_single(root)
    if not (root / FUSION_FILE).is_file():
        return model, cfg, ids, vocab
    paths, weights = read_fusion(root)
    members = [model]
    for k, rel in enumerate(paths[1:], 1):
        member, _, _, member_vocab = _load_single(root / rel)
        if member_vocab != vocab:
            raise BundleError(f"{root / FUSION_FILE}: members[{k}] ({rel}): vocab.txt differs from the bundle's")
        members.append(member)
    try:
        fused = FusedModel(members, weights)
    except ValueError as e:
        raise BundleError(f"{root / FUSION_FILE}: {e}") from None
    fused.eval()
    return fused, cfg, ids, vocab


def read_fusion(root: Path) -> tuple[list[str], list[float]]:
    """The member paths (the first ".") and weights of `fusion.json` in the bundle folder `root`."""
    path = root / FUSION_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: {e}") from None
    if doc.get("fusion_version") != FUSION_VERSION:
        raise BundleError(f"{path}: fusion_version {doc.get('fusion_version')!r} is not supported ({FUSION_VERSION})")
    members = doc.get("members")
    if not isinstance(members, list) or not 2 <= len(members) <= MAX_MEMBERS:
        raise BundleError(f"{path}: members must list 2 to {MAX_MEMBERS} members")
    paths = [str(m.get("path", "")) for m in members]
    weights = [m.get("weight") for m in members]
    if paths[0] != ".":
        raise BundleError(f'{path}: the first member\'s path is "{paths[0]}", expected "." (the bundle itself)')
    for k, rel in enumerate(paths[1:], 1):
        parts = rel.split("/")
        if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise BundleError(f'{path}: members[{k}] has path "{rel}"; a member is a folder inside the bundle')
    if len(set(paths)) != len(paths):
        raise BundleError(f"{path}: a member path repeats")
    if not all(isinstance(w, (int, float)) for w in weights):
        raise BundleError(f"{path}: every member needs a numeric weight")
    return paths, [float(w) for w in weights]


def _load_single(root: Path) -> tuple[FuseRankModel, ModelConfig, list[int], list[str]]:
    """One model's files (config.json, weights.safetensors, vocab.txt) into an eval-mode model."""
    cfg_path, w_path, v_path = root / "config.json", root / "weights.safetensors", root / "vocab.txt"
    for path in (cfg_path, w_path, v_path):
        if not path.is_file():
            raise BundleError(f"{path}: missing")
    cfg = ModelConfig.from_json(json.loads(cfg_path.read_text()))
    vocab = read_vocab(v_path)
    _check_vocab(vocab, cfg, str(v_path))

    shapes = expected_shapes(cfg)
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(w_path), framework="pt") as f:
        names = set(f.keys())
        for name in sorted(names - set(shapes)):
            raise BundleError(f"{w_path}: unexpected tensor {name!r}")
        for name in sorted(set(shapes) - names):
            raise BundleError(f"{w_path}: missing tensor {name!r}")
        for name, shape in shapes.items():
            t = f.get_tensor(name)
            want = torch.long if name == "item_ids" else torch.float32
            if t.dtype != want:
                raise BundleError(f"{w_path}: tensor {name!r} has dtype {t.dtype}, expected {want}")
            if tuple(t.shape) != shape:
                raise BundleError(f"{w_path}: tensor {name!r} has shape {tuple(t.shape)}, expected {shape}")
            tensors[name] = t
    _check_item_ids(tensors["item_ids"], str(w_path))

    model = FuseRankModel(cfg)
    model.load_state_dict(tensors, strict=True)
    model._row_cache = None
    model.eval()
    return model, cfg, tensors["item_ids"].tolist(), vocab
