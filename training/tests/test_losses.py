"""The chunked catalogue cross-entropy against the plain PyTorch form: loss and gradients."""

import pytest
import torch
import torch.nn.functional as F

from fuserank.train.losses import SeenItems, catalogue_ce


def plain(u, w, b, t):
    z = u @ w.T + b
    z = torch.cat([torch.full_like(z[:, :2], float("-inf")), z[:, 2:]], dim=1)
    return F.cross_entropy(z, t)


def plain_with_grads(u, w, b, t):
    """The plain loss and its gradients for (u, w, b); leaves the .grad fields cleared."""
    ref = plain(u, w, b, t)
    ref.backward()
    grads = [x.grad.clone() for x in (u, w, b)]
    for x in (u, w, b):
        x.grad = None
    return ref, grads


def leaves(seed, n=37, v=50, d=8):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n, d, generator=g).requires_grad_()
    w = torch.randn(v, d, generator=g).requires_grad_()
    b = (0.3 * torch.randn(v, generator=g)).requires_grad_()
    t = torch.randint(2, v, (n,), generator=g)
    return u, w, b, t


@pytest.mark.parametrize("chunk", [1, 5, 37, 1024])
def test_float32_loss_and_gradients_equal_the_plain_form(chunk):
    u, w, b, t = leaves(0)
    ref, want = plain_with_grads(u, w, b, t)
    got = catalogue_ce(u, w, b, t, bf16=False, chunk=chunk)
    got.backward()
    assert abs(got.item() - ref.item()) < 1e-5
    for x, g in zip((u, w, b), want):
        assert torch.allclose(x.grad, g, atol=1e-6, rtol=1e-5)
    assert w.grad[:2].abs().max() == 0 and b.grad[:2].abs().max() == 0  # padding and UNK never learn from it


def test_bfloat16_logits_stay_close():
    u, w, b, t = leaves(1)
    ref, want = plain_with_grads(u, w, b, t)
    got = catalogue_ce(u, w, b, t, bf16=True, chunk=8)
    got.backward()
    assert abs(got.item() - ref.item()) / ref.item() < 2e-2
    for x, g in zip((u, w, b), want):
        assert (x.grad - g).abs().max() < 0.05 * g.abs().max()


def test_gradient_scales_with_the_upstream_gradient():
    u, w, b, t = leaves(2)
    (3.0 * catalogue_ce(u, w, b, t, chunk=4)).backward()
    g3 = u.grad.clone()
    u.grad = None
    catalogue_ce(u, w, b, t, chunk=4).backward()
    assert torch.allclose(g3, 3.0 * u.grad, atol=1e-6)


def seen_case(seed, n=37, v=50, users=4, hist=12):
    """Random histories of `users` users (with repeats) and rows that each see a prefix of one."""
    g = torch.Generator().manual_seed(seed)
    histories = torch.randint(2, v, (users, hist), generator=g)
    first = torch.full((users, v), 2**31 - 1, dtype=torch.int32)
    for b in range(users):
        for p in reversed(range(hist)):
            first[b, histories[b, p]] = p
    user = torch.randint(0, users, (n,), generator=g)
    pos = torch.randint(-1, hist, (n,), generator=g).to(torch.int32)  # -1: sees nothing yet
    return histories, SeenItems(first, user, pos)


@pytest.mark.parametrize("chunk", [1, 6, 1024])
def test_seen_items_leave_the_softmax_but_the_target_stays(chunk):
    u, w, b, t = leaves(3)
    histories, seen = seen_case(3)
    # a few targets the row has already seen (a repeat): they must stay in the softmax
    for r in range(0, 37, 5):
        if seen.pos[r] >= 0:
            t[r] = histories[seen.user[r], seen.pos[r]]
    mask = torch.zeros(37, 50, dtype=torch.bool)
    for r in range(37):
        for p in range(int(seen.pos[r]) + 1):
            mask[r, histories[seen.user[r], p]] = True
        mask[r, t[r]] = False
    assert mask.any(dim=1).sum() > 20  # most rows do leave items out
    z = (u @ w.T + b).masked_fill(mask, float("-inf"))
    z = torch.cat([torch.full_like(z[:, :2], float("-inf")), z[:, 2:]], dim=1)
    ref = F.cross_entropy(z, t)
    ref.backward()
    want = [x.grad.clone() for x in (u, w, b)]
    for x in (u, w, b):
        x.grad = None
    got = catalogue_ce(u, w, b, t, bf16=False, chunk=chunk, seen=seen)
    got.backward()
    assert abs(got.item() - ref.item()) < 1e-5
    for x, g in zip((u, w, b), want):
        assert torch.allclose(x.grad, g, atol=1e-6, rtol=1e-5)
    # an item left out of every row's softmax gets no gradient from the softmax term
    assert got.item() < catalogue_ce(u, w, b, t, bf16=False, chunk=chunk).item()
