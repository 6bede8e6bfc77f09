"""Writing fused bundles (docs/model-format.md "Fused bundles"): the first member's files at the
top of the folder, each other member in `members/<name>/`, and `fusion.json` with the weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

from ..model.fusion import FUSION_FILE, FUSION_VERSION
from .io import BundleError

# A member's files; the first member's items.tsv (titles, the shop's ids) serves the fused bundle.
MEMBER_FILES = ("config.json", "weights.safetensors", "vocab.txt")


def member_names(paths: Sequence[str | Path]) -> list[str]:
    """A folder name for each member after the first: its own folder name, made unique."""
    names: list[str] = []
    for p in paths[1:]:
        base = Path(p).resolve().name or "member"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def write_fused_bundle(out: str | Path, members: Sequence[str | Path], weights: Sequence[float],
                       card: str, name: str | None = None) -> Path:
    """Write a fused bundle of the (single-model) bundle folders `members` with `weights`.

    - A member of weight 0 is left out: served, it would run its whole encoder for nothing. The
      first member kept goes on top; when one is left, `out` is that single model (no
      `fusion.json`).
    - `out` must not be one of the members. Existing member folders in `out/members/` are replaced.
    - `name`: the fused bundle's `config.json` name (default: the folder's name).
    - Throws: BundleError for a member that is itself fused or lacks a file, or no positive weight.
    """
    out = Path(out)
    if len(members) != len(weights):
        raise BundleError(f"{len(weights)} weights for {len(members)} members")
    kept = [(m, w) for m, w in zip(members, weights) if w > 0]
    if not kept:
        raise BundleError("every weight is 0")
    members, weights = [m for m, _ in kept], [w for _, w in kept]
    for m in members:
        if (Path(m) / FUSION_FILE).exists():
            raise BundleError(f"{m}: is a fused bundle; members are single models")
        for f in MEMBER_FILES:
            if not (Path(m) / f).is_file():
                raise BundleError(f"{Path(m) / f}: missing")
        if Path(m).resolve() == out.resolve():
            raise BundleError(f"{out}: the output folder is one of the members")
    out.mkdir(parents=True, exist_ok=True)
    first = Path(members[0])
    config = json.loads((first / "config.json").read_text())
    config["name"] = name or out.resolve().name
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    for f in MEMBER_FILES[1:] + ("items.tsv",):
        if (first / f).is_file():
            shutil.copyfile(first / f, out / f)
    entries = [{"path": ".", "weight": float(weights[0]), "from": str(first)}]
    if (out / "members").exists():
        shutil.rmtree(out / "members")
    (out / "model-card.md").write_text(card)
    if len(members) == 1:  # the grid chose one model: it is served alone
        (out / FUSION_FILE).unlink(missing_ok=True)
        return out
    for m, w, sub in zip(members[1:], weights[1:], member_names(members)):
        dst = out / "members" / sub
        dst.mkdir(parents=True)
        for f in MEMBER_FILES:
            shutil.copyfile(Path(m) / f, dst / f)
        entries.append({"path": f"members/{sub}", "weight": float(w), "from": str(m)})
    (out / FUSION_FILE).write_text(json.dumps({"fusion_version": FUSION_VERSION, "members": entries}, indent=2) + "\n")
    return out
