import pytest
import torch

from vrashlib.rhn import RHN, rhn_reference

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
