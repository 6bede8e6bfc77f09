"""The parity reference (fuserank.parity.top10): every chosen user's served top-k, as `rank` serves it."""

from __future__ import annotations

import pytest

from conftest import random_model, tiny_cfg
from fuserank.bundle.io import export_bundle
from fuserank.model.features import Request
from fuserank.parity.top10 import parity_users, reference
from fuserank.model.ranking import rank


def test_parity_users_every_stride_th() -> None:
    assert parity_users([5, 1, 3, 2, 4], 2) == [1, 3, 5]
    assert parity_users(list(range(1, 6041)), 20)[:3] == [1, 21, 41]
    assert len(parity_users(list(range(1, 6041)), 20)) == 302


def test_reference_is_what_the_bundle_serves(tmp_path) -> None:
    cfg = tiny_cfg(image_dim=0, exclude_seen=True, num_items=40)
    model = random_model(cfg)
    ids = model.item_ids.tolist()
    bundle = tmp_path / "bundle"
    export_bundle(model, cfg, ids, ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(8)], bundle, "card")
    lines = []
    for user in range(1, 8):
        for k in range(3 + user):  # different lengths, longer than max_events for some users
            lines.append(f"{user} {ids[2 + (user * 5 + k * 3) % (cfg.num_items - 2)]}")
    (tmp_path / "data.txt").write_text("\n".join(lines) + "\n")
    spec = {"name": "tiny", "interactions": {"path": str(tmp_path / "data.txt"), "sep": None}}
    ref = reference(str(bundle), spec, str(tmp_path), stride=3, top_k=10)
    assert [u["user"] for u in ref["users"]] == [1, 4, 7]
    assert ref["bundle_exclude_seen"] is True and ref["exclude_seen"] is False
    for u in ref["users"]:
        req = Request(events=[(i, 6, 0, 0) for i in u["events"]], top_k=11)
        items, _ = rank(model, req)
        assert u["items"] == [i for i, _ in items[:10]]
        # batched vs one-request forward: float rounding only
        assert u["scores"] == pytest.approx([s for _, s in items[:10]], rel=1e-5)
        assert u["next_score"] == pytest.approx(items[10][1], rel=1e-5)
        assert not set(u["items"]) & set(u["events"])  # the bundle's exclude_seen applies
