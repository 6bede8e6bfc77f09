"""The reference model against docs/model-format.md: names, forward pass, padding, causality,
scoring."""

import math

import pytest
import torch

from conftest import random_model, tiny_cfg
from fuserank.bundle.io import expected_shapes
from fuserank.model.features import Request, RequestError
from fuserank.model.transformer import FuseRankModel
from fuserank.model.ranking import rank

T0 = 1_700_000_000_000


def ext(row: int) -> int:
    return 100 + 7 * row  # the external id conftest.random_model gives a row


def contract_forward(model: FuseRankModel, req: Request) -> torch.Tensor:
    """The user vector computed literally from the contract text, in float64, one token at a time."""
    cfg = model.cfg
    w = {k: v.double() for k, v in model.state_dict().items() if k != "item_ids"}
    toks = model.tokens(req)
    rows = []
    for p, (row, typ, bucket) in enumerate(zip(toks.rows, toks.types, toks.buckets)):
        scale = math.sqrt(cfg.d_model) if cfg.format_version >= 2 else 1.0
        rows.append(scale * w["item_emb.weight"][row] + w["event_type_emb.weight"][typ]
                    + w["time_emb.weight"][bucket] + w["pos_emb.weight"][p])
    for t in toks.text_ids:
        rows.append(w["text_emb.weight"][t] + w["modality_emb.weight"][0])
    for img in toks.images:
        x = torch.tensor(img, dtype=torch.float64)
        rows.append(w["image_proj.weight"] @ x + w["image_proj.bias"] + w["modality_emb.weight"][1])
    rank = w["rank_token"] + w["time_emb.weight"][toks.rank_bucket]
    if cfg.format_version >= 2:
        rank = rank + w["rank_pos_emb.weight"][len(toks.rows)]
    rows.append(rank)
    x = torch.stack(rows)  # (S, d)

    def norm(v, name):
        mean = v.mean(-1, keepdim=True)
        var = ((v - mean) ** 2).mean(-1, keepdim=True)
        return (v - mean) / torch.sqrt(var + cfg.layer_norm_eps) * w[name + ".weight"] + w[name + ".bias"]

    def lin(v, name):
        return v @ w[name + ".weight"].T + w[name + ".bias"]

    s, dh = x.shape[0], cfg.d_model // cfg.n_heads
    for l in range(cfg.n_layers):
        p = f"layers.{l}."
        a = norm(x, p + "norm1")
        q, k, v = lin(a, p + "q"), lin(a, p + "k"), lin(a, p + "v")
        out = torch.zeros_like(x)
        for i in range(s):
            for h in range(cfg.n_heads):
                cols = slice(h * dh, (h + 1) * dh)
                sc = torch.tensor([float(q[i, cols] @ k[j, cols]) / math.sqrt(dh) for j in range(i + 1)],
                                  dtype=torch.float64)
                att = torch.exp(sc - sc.max())
                att = att / att.sum()
                out[i, cols] = att @ v[: i + 1, cols]
        h_ = x + lin(out, p + "o")
        up = lin(norm(h_, p + "norm2"), p + "ffn_up")
        gelu = 0.5 * up * (1 + torch.erf(up / math.sqrt(2)))
        x = h_ + lin(gelu, p + "ffn_down")
    out = x[-1]
    if cfg.format_version >= 2 and toks.rows:
        out = out + x[len(toks.rows) - 1]   # format 2 reads the newest event's state too
    return norm(out, "final_norm")


def sample_requests(cfg):
    img = [[0.3 * ((i * 7 + j) % 5 - 2) for j in range(cfg.image_dim)] for i in range(3)]
    return [
        Request(),
        Request(events=[(ext(3), 2, T0, 0)], now_ms=T0 + 60_000),
        Request(events=[(ext(r), r % 7, T0 + 1000 * r * r, 0) for r in range(2, 14)],
                text_tokens=[3, 0, 4], images=img if cfg.image_dim else [], now_ms=T0 + 10**6),
        Request(text_tokens=[5, 6, 7, 8, 9], images=img[:1] if cfg.image_dim else []),
        Request(events=[(999, 1, 0, 0), (ext(5), 6, 0, 0)], text_tokens=[1]),
    ]


@pytest.mark.parametrize("image_dim,version", [(6, 2), (0, 2), (6, 1)])
def test_state_dict_names_and_shapes_are_the_contract(image_dim, version):
    cfg = tiny_cfg(image_dim=image_dim, format_version=version)
    state = FuseRankModel(cfg).state_dict()
    shapes = expected_shapes(cfg)
    assert set(state) == set(shapes)
    assert {k: tuple(v.shape) for k, v in state.items()} == shapes
    assert ("image_proj.weight" in state) == (image_dim > 0)
    assert ("rank_pos_emb.weight" in state) == (version >= 2)
    assert state["item_ids"].dtype == torch.long
    assert all(v.dtype == torch.float32 for k, v in state.items() if k != "item_ids")


def test_initial_embeddings_are_small():
    model = FuseRankModel(tiny_cfg(num_items=500, max_events=200, d_model=32))
    assert model.pos_emb.weight.std() < 0.2
    assert model.item_emb.weight.std() < 0.2


@pytest.mark.parametrize("image_dim,version", [(6, 2), (0, 2), (6, 1)])
def test_forward_matches_the_contract_text(image_dim, version):
    cfg = tiny_cfg(image_dim=image_dim, format_version=version)
    model = random_model(cfg, seed=1)
    with torch.no_grad():
        for req in sample_requests(cfg):
            u = model.forward_requests([req])[0].double()
            assert torch.allclose(u, contract_forward(model, req), atol=2e-5), req


@pytest.mark.parametrize("image_dim", [6, 0])
def test_padded_batch_equals_single_requests(image_dim):
    cfg = tiny_cfg(image_dim=image_dim)
    model = random_model(cfg, seed=2)
    reqs = sample_requests(cfg)
    with torch.no_grad():
        batch = model.forward_requests(reqs)
        for req, u in zip(reqs, batch):
            assert (model.forward_requests([req])[0] - u).abs().max() < 1e-6
        assert torch.isfinite(batch).all()


def test_encoder_is_causal(model, cfg):
    torch.manual_seed(3)
    x = torch.randn(1, 9, cfg.d_model)
    full = torch.ones(1, 9, 9, dtype=torch.bool).tril()
    with torch.no_grad():
        h = model.encode(x, full)
        for p in range(9):
            hp = model.encode(x[:, : p + 1], full[:, : p + 1, : p + 1])
            assert (hp - h[:, : p + 1]).abs().max() < 1e-5
        # changing what comes after position p changes nothing up to p
        y = x.clone()
        y[:, 5:] = torch.randn(1, 4, cfg.d_model)
        assert (model.encode(y, full)[:, :5] - h[:, :5]).abs().max() < 1e-6
        assert (model.encode(y, full)[:, 5:] - h[:, 5:]).abs().max() > 1e-3


def test_behaviour_prefix_does_not_depend_on_context(model):
    cfg = model.cfg
    events = [(ext(r), 1, T0 + 5000 * r, 0) for r in range(2, 7)]
    reqs = [Request(events=events), Request(events=events, text_tokens=[3, 4]),
            Request(events=events, images=[[0.5] * cfg.image_dim], now_ms=T0 + 10**7)]
    states = []
    with torch.no_grad():
        for req in reqs:
            t = model.tokens(req)
            x = model.embed_events(*(torch.tensor([v]) for v in (t.rows, t.types, t.buckets, t.positions)))
            extra = []
            if t.text_ids:
                extra.append(model.embed_text(torch.tensor([t.text_ids])))
            if t.images:
                extra.append(model.embed_images(torch.tensor([t.images])))
            x = torch.cat([x, *extra, model.embed_rank(torch.tensor([[t.rank_bucket]]),
                                                        torch.tensor([[len(t.rows)]]))], dim=1)
            s = x.shape[1]
            states.append(model.encode(x, torch.ones(1, s, s, dtype=torch.bool).tril())[0, :5])
    # equal up to float32 rounding of different matrix shapes (hidden states are ~10 here)
    assert torch.allclose(states[1], states[0], rtol=1e-6, atol=1e-5)
    assert torch.allclose(states[2], states[0], rtol=1e-6, atol=1e-5)


def test_rank_position_is_the_number_of_kept_events():
    cfg = tiny_cfg()  # max_events 8
    model = random_model(cfg, seed=3)
    short = Request(events=[(ext(r), 1, 0, 0) for r in range(2, 5)])
    long = Request(events=[(ext(r), 1, 0, 0) for r in range(2, 14)])  # 12 events, 8 kept
    with torch.no_grad():
        before = model.forward_requests([short, long])
        model.rank_pos_emb.weight[3] += torch.randn(cfg.d_model)  # the row of E = 3 moves only the short request
        after = model.forward_requests([short, long])
        assert (after[0] - before[0]).abs().max() > 1e-3
        assert (after[1] - before[1]).abs().max() == 0
        model.rank_pos_emb.weight[8] += torch.randn(cfg.d_model)  # E is capped at max_events
        assert (model.forward_requests([long])[0] - before[1]).abs().max() > 1e-3


def test_padded_query_rows_do_not_produce_nan(model, cfg):
    x = torch.randn(2, 4, cfg.d_model)
    visible = torch.zeros(2, 4, 4, dtype=torch.bool)
    visible[0] = torch.ones(4, 4, dtype=torch.bool).tril()
    visible[1, :2, :2] = torch.ones(2, 2, dtype=torch.bool).tril()  # rows 2, 3 see nothing
    with torch.no_grad():
        h = model.encode(x, visible)
    assert torch.isfinite(h).all()


def test_dropout_only_in_training_mode():
    cfg = tiny_cfg(dropout=0.5)
    model = random_model(cfg, seed=4)
    req = sample_requests(cfg)[2]
    with torch.no_grad():
        a, b = model.forward_requests([req]), model.forward_requests([req])
        assert torch.equal(a, b)
        model.train()
        c = model.forward_requests([req])
    assert (a - c).abs().max() > 1e-3


def test_logits_are_dot_plus_bias(model, cfg):
    u = torch.randn(3, cfg.d_model)
    with torch.no_grad():
        want = torch.stack([model.item_emb.weight @ ui + model.item_bias for ui in u])
        assert torch.allclose(model.logits(u), want, atol=1e-5)
        assert model.logits(u).shape == (3, cfg.num_items)


def test_embed_images_needs_image_dim():
    model = FuseRankModel(tiny_cfg(image_dim=0))
    with pytest.raises(ValueError):
        model.embed_images(torch.zeros(1, 1, 0))


def test_rank_with_candidates_dedups_and_reports_unknown(model):
    req = Request(events=[(ext(4), 1, T0, 0)], candidates=[ext(9), 555, ext(3), ext(9), 0, 555, -2, ext(20)],
                  now_ms=T0 + 1000)
    items, unknown = rank(model, req)
    assert unknown == [555, 0, -2]
    assert sorted(i for i, _ in items) == sorted([ext(9), ext(3), ext(20)])
    with torch.no_grad():
        u = model.forward_requests([req])[0]
        want = {ext(r): float(model.item_emb.weight[r] @ u + model.item_bias[r]) for r in (3, 9, 20)}
    for item, score in items:
        assert score == pytest.approx(want[item], abs=1e-6)
    assert [s for _, s in items] == sorted((s for _, s in items), reverse=True)
    top, _ = rank(model, Request(**{**req.__dict__, "top_k": 2}))
    assert top == items[:2]


def test_rank_catalogue_top_k_and_exclude_seen_over_all_events(model, cfg):
    rows = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]  # 10 events > max_events 8: rows 2, 3 fall outside
    req = Request(events=[(ext(r), 1, T0 + 1000 * r, 0) for r in rows] + [(424242, 1, T0 + 99_000, 0)],
                  now_ms=T0 + 100_000)
    items, unknown = rank(model, req)
    assert unknown == [] and len(items) == cfg.num_items - 2
    assert sorted(i for i, _ in items) == [ext(r) for r in range(2, cfg.num_items)]
    kept, _ = rank(model, Request(**{**req.__dict__, "exclude_seen": True}))
    assert [i for i, _ in kept] == [i for i, _ in items if i not in {ext(r) for r in rows}]
    top, _ = rank(model, Request(**{**req.__dict__, "exclude_seen": True, "top_k": 4}))
    assert top == kept[:4]


def test_model_config_exclude_seen_overrides_the_request(model, cfg):
    """A model trained with exclude_seen (config key) leaves the seen items out of catalogue
    ranking even when the request does not ask; explicit candidates are still all scored."""
    rows = [3, 5, 7]
    req = Request(events=[(ext(r), 1, T0 + 1000 * r, 0) for r in rows], now_ms=T0 + 100_000)
    asked, _ = rank(model, Request(**{**req.__dict__, "exclude_seen": True}))
    plain, _ = rank(model, req)
    assert len(plain) == len(asked) + len(rows)
    model.cfg.exclude_seen = True
    try:
        assert rank(model, req)[0] == asked
        cands = Request(**{**req.__dict__, "candidates": [ext(3), ext(4)]})
        assert sorted(i for i, _ in rank(model, cands)[0]) == [ext(3), ext(4)]
    finally:
        model.cfg.exclude_seen = False


def test_rank_breaks_ties_by_ascending_row(model):
    with torch.no_grad():
        model.item_emb.weight[12] = model.item_emb.weight[5]
        model.item_bias[12] = model.item_bias[5]
    items, _ = rank(model, Request(candidates=[ext(12), ext(7), ext(5)]))
    tied = [i for i, _ in items if i in (ext(5), ext(12))]
    assert tied == [ext(5), ext(12)]
    model.set_item_ids([0, -1] + [10**6 - r for r in range(2, model.cfg.num_items)])  # ids descending
    items, _ = rank(model, Request(candidates=[10**6 - 12, 10**6 - 5]))
    assert [i for i, _ in items] == [10**6 - 5, 10**6 - 12]
    assert items[0][1] == items[1][1]


def test_rank_rejects_invalid_requests(model):
    with pytest.raises(RequestError):
        rank(model, Request(events=[(ext(3), 99, T0, 0)]))


def test_only_unknown_candidates_rank_nothing(model):
    assert rank(model, Request(candidates=[1, 2, 3])) == ([], [1, 2, 3])
