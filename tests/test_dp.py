"""DP-SGD training (synthvae.dp) on a small slice of the real Adult table."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch


from opacus import PrivacyEngine  # noqa: E402
from opacus.optimizers import DPOptimizer  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from synthvae.columns import TableEncoder  # noqa: E402
from synthvae.dp import train_private  # noqa: E402
from synthvae.model import VAE, VAEConfig  # noqa: E402
from synthvae.train import TrainConfig  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "adult.csv.gz"
N = 1000
DELTA = 1e-4  # below 1/N


@pytest.fixture(scope="module")
def table():
    df = pd.read_csv(DATA, nrows=N)
    enc = TableEncoder().fit(df, np.random.default_rng(0))
    cont, disc = enc.encode(df, np.random.default_rng(0))
    return enc, (cont, disc)


def make_model(enc, seed=0, **kw) -> VAE:
    torch.manual_seed(seed)
    return VAE(VAEConfig(n_continuous=enc.n_continuous, cardinalities=enc.cardinalities,
                         hidden_dim=32, latent_dim=8, head_dim=32, slot_order=enc.slot_order,
                         **kw))


CFG = TrainConfig(epochs=2, batch_size=250, learning_rate=3e-3, kl_warmup_epochs=1)


@pytest.fixture
def spy(monkeypatch):
    """Records the noise multiplier Opacus is given and counts noisy optimiser steps."""
    seen = {"sigma": [], "noisy_steps": 0}
    make_private = PrivacyEngine.make_private
    add_noise = DPOptimizer.add_noise

    def record_private(self, **kw):
        seen["sigma"].append(kw["noise_multiplier"])
        return make_private(self, **kw)

    def count_noise(self):
        seen["noisy_steps"] += 1
        return add_noise(self)

    monkeypatch.setattr(PrivacyEngine, "make_private", record_private)
    monkeypatch.setattr(DPOptimizer, "add_noise", count_noise)
    return seen


def test_spends_at_most_the_target_and_returns_a_plain_model(table, spy, tmp_path):
    enc, data = table
    model = make_model(enc)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    history, spent = train_private(model, data, CFG, torch.Generator().manual_seed(0),
                                   epsilon=3.0, delta=DELTA)
    assert 0 < spent <= 3.0 + 1e-9
    assert spent > 2.5  # the noise was calibrated to use (nearly) the whole budget
    assert [h.epoch for h in history] == [1, 2]
    assert all(math.isfinite(h.train_loss) and math.isfinite(h.kl) for h in history)
    assert all(math.isnan(h.val_loss) for h in history)  # no validation on real rows
    # one noisy step per Poisson batch: epochs x ceil(n / batch_size), chunks included
    assert spy["noisy_steps"] == CFG.epochs * math.ceil(N / CFG.batch_size)
    assert len(spy["sigma"]) == 1 and spy["sigma"][0] > 0.3

    assert not model.training
    fresh = make_model(enc, seed=1)
    assert list(model.state_dict()) == list(fresh.state_dict())
    assert not any(torch.equal(before[k], v) for k, v in model.state_dict().items()
                   if v.is_floating_point())  # every tensor trained (and noised)
    for p, q in zip(model.parameters(), fresh.parameters()):
        assert p.grad is None
        assert vars(p) == vars(q)  # none of Opacus' attributes (grad_sample, ...) left
    # the project's save path (safetensors of the state dict) round-trips
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "m.st")
    fresh.load_state_dict(load_file(tmp_path / "m.st"))
    with torch.no_grad():
        cont, disc, _ = fresh.generate(torch.randn(50, 8), torch.Generator().manual_seed(0))
    assert torch.isfinite(cont).all()
    assert enc.decode(cont.numpy(), disc.numpy(), np.random.default_rng(0)).shape == (50, 15)


def test_smaller_epsilon_means_more_noise(table, spy):
    enc, data = table
    cfg = TrainConfig(epochs=1, batch_size=250)
    spent = {}
    for eps in (8.0, 1.0):
        _, spent[eps] = train_private(make_model(enc), data, cfg, torch.Generator().manual_seed(0),
                                      epsilon=eps, delta=DELTA)
    loose, tight = spy["sigma"]
    assert tight > 2 * loose
    assert spent[1.0] <= 1.0 + 1e-9 < spent[8.0] <= 8.0 + 1e-9


def test_physical_chunks_are_one_noisy_step(table, spy):
    """Splitting a Poisson batch into chunks accumulates clipped gradients into one step:
    the same weights (up to rounding) as processing the batch whole."""
    enc, data = table
    cfg = TrainConfig(epochs=1, batch_size=500)
    states = []
    for physical in (1000, 64):
        model = make_model(enc)
        train_private(model, data, cfg, torch.Generator().manual_seed(3), epsilon=2.0,
                      delta=DELTA, physical_batch_size=physical)
        states.append(model.state_dict())
    assert spy["noisy_steps"] == 2 * 2
    for k, v in states[0].items():
        torch.testing.assert_close(v, states[1][k], rtol=1e-4, atol=1e-5)


def test_reproducible_for_a_generator_seed(table):
    """Same seed, same weights and epsilon, bit for bit, with every random path in use
    (reparameterisation, encoder dropout, nn.Dropout, per-row free bits); the global RNG
    is left as it was."""
    enc, data = table
    cfg = TrainConfig(epochs=1, batch_size=250)
    kw = {"dropout": 0.1, "encoder_dropout": 0.1, "free_bits": 2.0}
    runs = []
    for seed in (5, 5, 6):
        model = make_model(enc, **kw)
        state = torch.get_rng_state()
        history, spent = train_private(model, data, cfg, torch.Generator().manual_seed(seed),
                                       epsilon=4.0, delta=DELTA, max_grad_norm=0.5)
        assert torch.equal(torch.get_rng_state(), state)
        assert math.isfinite(history[0].train_loss)
        runs.append((model.state_dict(), spent))
    (a, eps_a), (b, eps_b), (c, _) = runs
    assert eps_a == eps_b
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("epsilon", [0, -1.0, math.nan, math.inf, "3", None, True])
def test_bad_epsilon_raises(table, epsilon):
    enc, data = table
    with pytest.raises(ValueError, match=f"epsilon.*{epsilon!r}"):
        train_private(make_model(enc), data, CFG, torch.Generator(), epsilon=epsilon,
                      delta=DELTA)


@pytest.mark.parametrize("delta", [0, 0.0, 1, 1.5, -1e-5, math.nan, None])
def test_bad_delta_raises(table, delta):
    enc, data = table
    with pytest.raises(ValueError, match=f"delta.*{delta!r}"):
        train_private(make_model(enc), data, CFG, torch.Generator(), epsilon=1.0, delta=delta)


def test_bad_clip_norm_and_unreachable_epsilon_raise(table):
    enc, data = table
    with pytest.raises(ValueError, match="max_grad_norm"):
        train_private(make_model(enc), data, CFG, torch.Generator(), 1.0, DELTA,
                      max_grad_norm=0.0)
    with pytest.raises(ValueError, match="epsilon=1e-06 is too small"):
        train_private(make_model(enc), data, CFG, torch.Generator(), 1e-6, DELTA)


def test_delta_not_below_one_over_n_warns(table):
    enc, data = table
    with pytest.warns(UserWarning, match="1/n"):
        _, spent = train_private(make_model(enc), data, TrainConfig(epochs=1, batch_size=N),
                                 torch.Generator(), 1.0, 0.01)
    assert 0 < spent <= 1.0 + 1e-9
