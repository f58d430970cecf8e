import pytest
import torch

from vrashlib.models.rhn import _POOL, RHN, RHNLayerFunction, rhn_reference

torch.set_num_threads(1)


def _layer(layers=2, depth=3, inp=5, hidden=7):
    torch.manual_seed(0)
    rhn = RHN(inp, hidden, depth, layers).double()
    with torch.no_grad():  # random weights everywhere, biases included
        for p in rhn.parameters():
            p.normal_(0, 0.5)
    return rhn


def test_shapes():
    rhn = RHN(4, 6, depth=2, layers=3)
    out, state = rhn(torch.randn(9, 2, 4))
    assert out.shape == (9, 2, 6) and state.shape == (3, 2, 6)
    assert torch.equal(out[-1], state[-1])


@pytest.mark.parametrize("layers,depth", [(1, 1), (1, 3), (2, 3)])
def test_matches_slow_reference(layers, depth):
    rhn = _layer(layers, depth)
    x = torch.randn(11, 3, 5, dtype=torch.float64)
    s0 = torch.randn(layers, 3, 7, dtype=torch.float64)
    out, _ = rhn(x, s0)
    ref = rhn_reference(x, list(rhn.w_in), rhn.r, rhn.b, s0)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)


def test_gradients_match_reference():
    rhn = _layer(2, 2)
    x = torch.randn(6, 2, 5, dtype=torch.float64)
    out, _ = rhn(x)
    g_fast = torch.autograd.grad(out.square().sum(), [rhn.r, rhn.b, rhn.w_in[0]])
    ref = rhn_reference(x, list(rhn.w_in), rhn.r, rhn.b)
    g_ref = torch.autograd.grad(ref.square().sum(), [rhn.r, rhn.b, rhn.w_in[0]])
    for a, b in zip(g_fast, g_ref, strict=False):
        torch.testing.assert_close(a, b)


def test_gradients_of_inputs_and_initial_state_match_reference():
    rhn = _layer(2, 3)
    x = torch.randn(6, 3, 5, dtype=torch.float64, requires_grad=True)
    s0 = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(6, 3, 7, dtype=torch.float64)
    out, final = rhn(x, s0)
    loss = (out * w).sum() + final[-1].sin().sum()  # the final state's own gradient path too
    ref = rhn_reference(x, list(rhn.w_in), rhn.r, rhn.b, s0)
    loss_ref = (ref * w).sum() + ref[-1].sin().sum()
    params = [x, s0, *rhn.parameters()]
    for a, b in zip(
        torch.autograd.grad(loss, params), torch.autograd.grad(loss_ref, params), strict=True
    ):
        torch.testing.assert_close(a, b)


def test_hand_written_backward_passes_gradcheck():
    torch.manual_seed(1)
    T, B, H, depth = 4, 2, 3, 3
    args = [
        torch.randn(T, B, 2 * H, dtype=torch.float64, requires_grad=True),
        torch.randn(B, H, dtype=torch.float64, requires_grad=True),
        torch.randn(depth, H, 2 * H, dtype=torch.float64, requires_grad=True),
        torch.randn(depth, 2 * H, dtype=torch.float64, requires_grad=True),
    ]
    assert torch.autograd.gradcheck(RHNLayerFunction.apply, args)


def test_training_forward_is_bit_identical_to_the_plain_loop():
    """The autograd function only changes the backward pass: same float32 outputs."""
    torch.manual_seed(2)
    rhn = RHN(5, 16, depth=3, layers=2)
    x = torch.randn(9, 4, 5)
    out, final = rhn(x)
    with torch.no_grad():
        out_plain, final_plain = rhn(x)
    assert torch.equal(out, out_plain) and torch.equal(final, final_plain)


def test_work_buffers_return_to_the_pool_and_are_reused():
    torch.manual_seed(3)
    rhn = RHN(5, 8, depth=2)
    x = torch.randn(6, 3, 5)
    out, _ = rhn(x)
    out.sum().backward()
    del out  # the graph, and with it the forward pass's three buffers, is freed
    n_free = len(_POOL._free)
    assert n_free >= 5  # three from the forward pass, two from the backward pass
    out, final = rhn(x)
    assert len(_POOL._free) == n_free - 3
    with torch.no_grad():
        want, want_final = rhn(x)
    assert torch.equal(out, want) and torch.equal(final, want_final)


def test_mixed_precision_training_step_runs_the_recurrence_in_float32():
    torch.manual_seed(4)
    rhn = RHN(5, 8, depth=2, layers=2)
    x = torch.randn(6, 3, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, final = rhn(x)
        loss = out.float().square().mean() + final.float().sum()
    loss.backward()
    assert out.dtype == torch.float32
    assert all(p.grad.dtype == torch.float32 and p.grad.isfinite().all() for p in rhn.parameters())


def test_step_equals_forward():
    rhn = _layer(2, 3)
    x = torch.randn(5, 4, 5, dtype=torch.float64)
    out, final = rhn(x)
    s = rhn.initial_state(4, dtype=torch.float64)
    for t in range(5):
        s = rhn.step(x[t], s)
        torch.testing.assert_close(s[-1], out[t])
    torch.testing.assert_close(s, final)


def test_untrained_layer_mostly_carries():
    rhn = RHN(3, 8, depth=3)
    s0 = torch.ones(1, 1, 8)
    _, s = rhn(torch.zeros(1, 1, 3), s0)
    # transform gates start near sigmoid(-2) ~ 0.12: the state is largely carried
    assert (s - s0).abs().mean() < (s0 - 0).abs().mean()


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="depth"):
        RHN(3, 4, depth=0)


def test_initial_weights_are_uniform_in_plus_minus_one_over_root_hidden():
    """Every input and recurrent weight is drawn from U(-1/sqrt(H), 1/sqrt(H)); the
    biases are 0 except the transform gates' carry bias."""
    torch.manual_seed(0)
    rhn = RHN(40, 64, depth=2, layers=2, carry_bias=-1.5)
    bound = 64**-0.5
    for i, w in enumerate(w.detach() for w in [*rhn.w_in, rhn.r]):
        assert float(w.min()) >= -bound and float(w.max()) <= bound, i
        assert float(w.min()) < -0.95 * bound and float(w.max()) > 0.95 * bound, i
        assert abs(float(w.mean())) < 0.05 * bound, i
    assert torch.all(rhn.b[..., :64] == 0) and torch.all(rhn.b[..., 64:] == -1.5)
