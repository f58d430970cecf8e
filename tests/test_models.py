import numpy as np
import pytest
import torch

from vrashlib.config import load_config
from vrashlib.data.datamodule import collate, make_loader
from vrashlib.data.encoding import with_end
from vrashlib.models.network import build_net, gaussian_kl, kl_weight, loss_terms

torch.set_num_threads(1)
CFG = load_config("smoke").model


def _batch(tracks, idx=(0, 1, 2, 3)):
    return collate([(with_end(tracks[i]), int(tracks.style[i])) for i in idx])


@pytest.mark.parametrize("kind", ["lm", "vae", "vrash"])
def test_shapes(kind, tiny_trackset):
    net = build_net(kind, 2, CFG)
    b = _batch(tiny_trackset)
    out = net(b["events"], b["lengths"], b["style"])
    T, B = b["events"].shape[:2]
    assert out["pc"].shape == (T, B, 14) and out["oct"].shape == (T, B, 10)
    assert out["dur"].shape[:2] == (T, B)
    assert ("z" in out) == (kind != "lm")


@pytest.mark.parametrize("kind", ["lm", "vae", "vrash"])
def test_padding_does_not_change_the_loss(kind, tiny_trackset):
    net = build_net(kind, 2, CFG).eval()
    b = _batch(tiny_trackset)
    eps = torch.randn(4, CFG.z_dim)
    t1 = loss_terms(net(b["events"], b["lengths"], b["style"], eps=eps), b["events"], b["lengths"])
    ev = b["events"].clone()
    pad = torch.arange(ev.shape[0])[:, None] >= b["lengths"][None, :]
    ev[pad] = torch.tensor([3, 4, 5])  # garbage in the padding
    t2 = loss_terms(net(ev, b["lengths"], b["style"], eps=eps), ev, b["lengths"])
    for k in ("ce", "kl"):
        torch.testing.assert_close(t1[k], t2[k])
    assert t1["n_events"] == b["lengths"].sum()


def test_kl_is_zero_when_posterior_is_prior(tiny_trackset):
    assert gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0
    kl = gaussian_kl(torch.ones(1, 1), torch.zeros(1, 1))
    torch.testing.assert_close(kl, torch.full((1, 1), 0.5))  # mu^2 / 2
    for kind in ("vae", "vrash"):
        net = build_net(kind, 2, CFG)
        with torch.no_grad():
            net.to_posterior.weight.zero_()
            net.to_posterior.bias.zero_()
        b = _batch(tiny_trackset)
        terms = loss_terms(net(b["events"], b["lengths"], b["style"]), b["events"], b["lengths"])
        assert terms["kl"] == 0
        assert terms["kl_penalty"] == 0


def test_free_bits_floor_the_penalty(tiny_trackset):
    net = build_net("vae", 2, CFG)
    with torch.no_grad():
        net.to_posterior.weight.zero_()
        net.to_posterior.bias.zero_()
    b = _batch(tiny_trackset)
    out = net(b["events"], b["lengths"], b["style"])
    terms = loss_terms(out, b["events"], b["lengths"], free_bits=0.5)
    torch.testing.assert_close(terms["kl_penalty"], torch.tensor(0.5 * CFG.z_dim * 4))


def _two_batches(tiny_trackset):
    """Two batches with equal lengths and styles but different notes."""
    b1 = _batch(tiny_trackset)
    b2 = {k: v.clone() for k, v in b1.items()}
    mask = torch.arange(b2["events"].shape[0])[:, None] < b2["lengths"][None, :] - 1
    b2["events"][..., 2][mask] = (b2["events"][..., 2][mask] + 7) % 300
    return b1, b2


def test_switches_really_switch(tiny_trackset):
    b1, b2 = _two_batches(tiny_trackset)
    z1, z2 = torch.randn(4, CFG.z_dim), torch.randn(4, CFG.z_dim)
    nets = {k: build_net(k, 2, CFG).eval() for k in ("lm", "vae", "vrash")}

    def logits(kind, b, z):
        return nets[kind](b["events"], b["lengths"], b["style"], z=z)["pc"]

    # LM ignores z; VAE ignores history; VRASH listens to both.
    assert torch.equal(logits("lm", b1, z1), logits("lm", b1, z2))
    assert not torch.equal(logits("lm", b1, z1), logits("lm", b2, z1))
    assert torch.equal(logits("vae", b1, z1), logits("vae", b2, z1))
    assert not torch.equal(logits("vae", b1, z1), logits("vae", b1, z2))
    assert not torch.equal(logits("vrash", b1, z1), logits("vrash", b2, z1))
    assert not torch.equal(logits("vrash", b1, z1), logits("vrash", b1, z2))


def test_style_changes_the_output(tiny_trackset):
    net = build_net("lm", 2, CFG).eval()
    b = _batch(tiny_trackset)
    other = 1 - b["style"]
    assert not torch.equal(
        net(b["events"], b["lengths"], b["style"])["pc"],
        net(b["events"], b["lengths"], other)["pc"],
    )


def test_history_dropout_only_in_training(tiny_trackset):
    cfg = load_config("smoke", {"model.history_dropout": 0.9}).model
    net = build_net("vrash", 2, cfg)
    b = _batch(tiny_trackset)
    z = torch.zeros(4, cfg.z_dim)
    net.eval()
    a = net(b["events"], b["lengths"], b["style"], z=z)["pc"]
    assert torch.equal(a, net(b["events"], b["lengths"], b["style"], z=z)["pc"])
    net.train()
    net.drop.p = 0.0
    net.decoder.dropout.p = 0.0
    assert not torch.equal(a, net(b["events"], b["lengths"], b["style"], z=z)["pc"])


def test_kl_warmup():
    assert kl_weight(0, 100) == 0 and kl_weight(50, 100) == 0.5 and kl_weight(500, 100) == 1
    assert kl_weight(3, 0) == 1


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown model kind"):
        build_net("gan", 2, CFG)


def test_bucketed_batches_cover_every_track_once(tiny_trackset):
    loader = make_loader(tiny_trackset, 8, max_len=30, shuffle=True, seed=3)
    seen = [i for batch in loader.batch_sampler for i, _ in batch]
    assert sorted(seen) == list(range(len(tiny_trackset)))
    assert len(loader) == len(list(loader.batch_sampler))
    for batch in loader:
        assert batch["lengths"].max() <= 30
        assert batch["events"].shape[0] == batch["lengths"].max()
    ranks = [
        make_loader(tiny_trackset, 4, max_len=30, shuffle=True, rank=r, world=2) for r in (0, 1)
    ]
    parts = [{i for b in rk.batch_sampler for i, _ in b} for rk in ranks]
    assert not parts[0] & parts[1] and len(ranks[0]) == len(ranks[1])
    np.testing.assert_array_equal(len(list(ranks[0].batch_sampler)), len(ranks[0]))


@pytest.mark.parametrize("event_head", [0, 16])
def test_octave_head_sees_the_pitch_class_only_with_an_event_head(event_head, tiny_trackset):
    from dataclasses import replace

    torch.manual_seed(0)
    net = build_net("lm", 2, replace(CFG, event_head=event_head)).eval()
    b = _batch(tiny_trackset)
    events, style = b["events"], b["style"]
    other = events.clone()
    other[..., 0] = (other[..., 0] + 1) % 12  # another pitch class for the same hidden states
    with torch.no_grad():
        inputs = net.decoder_input(events.shape[0], style, None, net.history_input(events))
        hidden, _ = net.decoder(inputs)
        pc_a, oct_a, dur_a = net.logits(hidden, events)
        pc_b, oct_b, dur_b = net.logits(hidden, other)
    torch.testing.assert_close(pc_a, pc_b)  # the pitch-class head never sees the event
    changed = not torch.allclose(oct_a, oct_b) and not torch.allclose(dur_a, dur_b)
    assert changed == bool(event_head)


def test_history_window_holds_the_last_events_lag_one_first():
    from dataclasses import replace

    from vrashlib.models.network import UNKNOWN

    net = build_net("vrash", 2, replace(CFG, history_window=3))
    events = torch.tensor([[1, 4, 2], [2, 4, 3], [3, 5, 4], [4, 5, 5]])[:, None]  # (T, B=1, 3)
    prev = net.history_input(events)
    assert prev.shape == (4, 1, 3, 3)
    unk = list(UNKNOWN)
    assert prev[0, 0].tolist() == [unk, unk, unk]
    assert prev[1, 0].tolist() == [[1, 4, 2], unk, unk]
    assert prev[3, 0].tolist() == [[3, 5, 4], [2, 4, 3], [1, 4, 2]]
    assert build_net("vrash", 2, CFG).history_input(events).shape == (4, 1, 1, 3)
    dropped = net.history_input(events, dropout=1.0)
    assert (dropped == torch.tensor(UNKNOWN)).all()  # a dropped event is unknown at every lag
    wide = net.decoder.w_in[0].shape[1]
    assert wide == build_net("vrash", 2, CFG).decoder.w_in[0].shape[1] + 2 * net.note_dim
    with pytest.raises(ValueError, match="history_window"):
        build_net("vrash", 2, replace(CFG, history_window=0))
    assert build_net("vae", 2, replace(CFG, history_window=3)).window == 0  # no history


def test_bag_of_notes_loss_by_hand(tiny_trackset):
    from dataclasses import replace

    from vrashlib.data.encoding import VOCAB_SIZES

    net = build_net("vrash", 2, replace(CFG, bow_weight=1.0)).eval()
    assert not hasattr(
        build_net("vrash", 2, replace(CFG, bow_weight=0.0)), "bow"
    )  # only with a weight
    assert not hasattr(build_net("vae", 2, CFG), "bow")  # never for the paper's VAE (for_kind)
    assert not hasattr(build_net("lm", 2, replace(CFG, bow_weight=1.0)), "bow")
    b = _batch(tiny_trackset, (0, 1))
    out = net(b["events"], b["lengths"], b["style"])
    terms = loss_terms(out, b["events"], b["lengths"])
    want = 0.0
    for j in range(2):
        parts = torch.log_softmax(out["bow"][j].double(), -1).split(VOCAB_SIZES)
        for t in range(int(b["lengths"][j])):
            want -= sum(float(parts[i][b["events"][t, j, i]].detach()) for i in range(3))
    assert float(terms["bow"].detach()) == pytest.approx(want, rel=1e-5)
    out["bow"] = torch.zeros_like(out["bow"])  # uniform over the three vocabularies together
    uniform = loss_terms(out, b["events"], b["lengths"])["bow"]
    expected = float(b["lengths"].sum()) * 3 * np.log(sum(VOCAB_SIZES))
    assert float(uniform) == pytest.approx(expected, rel=1e-5)


def test_cyclical_kl_weight():
    # 3 cycles of 10 steps: ramp over 5, hold 1 for 5; 1 after step 30
    got = [kl_weight(s, 10, 3) for s in (0, 2, 5, 9, 10, 12, 25, 29, 30, 100)]
    assert got == [0.0, 0.4, 1.0, 1.0, 0.0, 0.4, 1.0, 1.0, 1.0, 1.0]
    assert kl_weight(5, 10, 0) == 0.5  # no cycles: the linear warm-up
