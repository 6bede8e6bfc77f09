"""The chunked catalogue cross-entropy against the plain PyTorch form: loss and gradients."""

import pytest
import torch
import torch.nn.functional as F

from fuserank.losses import catalogue_ce


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
