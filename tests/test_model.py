"""The VAE module: shapes in and out, a finite and falling loss, seeded noise, sampled classes."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from synthvae.columns import TableEncoder
from synthvae.model import VAE, VAEConfig

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult.csv.gz"
LATENT = 8


@pytest.fixture(scope="module")
def batch() -> tuple[TableEncoder, torch.Tensor, torch.Tensor]:
    """512 real Adult rows as model input, with the encoder that made them."""
    adult = pd.read_csv(ADULT).sample(512, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(0)
    table = TableEncoder().fit(adult, rng)
    continuous, discrete = table.encode(adult, rng)
    return table, torch.from_numpy(continuous), torch.from_numpy(discrete)


def make_model(table: TableEncoder, seed: int = 0, **kwargs) -> VAE:
    torch.manual_seed(seed)
    cfg = VAEConfig(n_continuous=table.n_continuous, cardinalities=table.cardinalities,
                    latent_dim=LATENT, hidden_dim=64, **kwargs)
    return VAE(cfg)


def test_encode_gives_latent_mean_and_logvar_of_latent_dim(batch):
    table, continuous, discrete = batch
    mean, logvar = make_model(table).encode(continuous, discrete)
    assert mean.shape == logvar.shape == (len(continuous), LATENT)
    assert torch.isfinite(mean).all() and torch.isfinite(logvar).all()


def test_decode_gives_a_gaussian_per_feature_and_logits_per_discrete_column(batch):
    table, continuous, discrete = batch
    model = make_model(table)
    cont_mean, cont_logvar, logits = model.decode(torch.zeros(len(continuous), LATENT),
                                                  continuous, discrete)
    assert cont_mean.shape == cont_logvar.shape == (len(continuous), table.n_continuous)
    assert [lg.shape for lg in logits] == [(len(continuous), k) for k in table.cardinalities]
    assert torch.isfinite(cont_logvar).all()


def test_loss_is_finite_and_falls_over_a_few_steps_on_a_real_batch(batch):
    table, continuous, discrete = batch
    model = make_model(table, free_bits=0.0)  # no free bits: the loss is the negative ELBO
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(30):
        out = model(continuous, discrete, beta=1.0, generator=generator)
        assert torch.isfinite(out["loss"])
        optimizer.zero_grad()
        out["loss"].backward()
        optimizer.step()
        losses.append(out["loss"].item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert out["elbo"].shape == (len(continuous),)
    torch.testing.assert_close(out["loss"], (out["nll"] + out["kl"]), rtol=1e-5, atol=1e-4)


def test_model_works_with_only_discrete_columns():
    adult = pd.read_csv(ADULT, nrows=300).select_dtypes(object)
    rng = np.random.default_rng(0)
    table = TableEncoder().fit(adult, rng)
    assert table.n_continuous == 0
    continuous, discrete = (torch.from_numpy(a) for a in table.encode(adult, rng))
    model = make_model(table)
    out = model(continuous, discrete, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out["loss"])
    sampled_cont, sampled_disc, _ = model.generate(torch.zeros(5, LATENT))
    assert sampled_cont.shape == (5, 0) and sampled_disc.shape == (5, adult.shape[1])


def test_reparameterisation_depends_on_the_generator_seed_alone():
    mean, logvar = torch.zeros(64, LATENT), torch.zeros(64, LATENT)
    z0 = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(0))
    z0_again = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(0))
    z1 = VAE.reparameterize(mean, logvar, torch.Generator().manual_seed(1))
    torch.testing.assert_close(z0, z0_again)
    assert not torch.allclose(z0, z1)
    # and the noise is scaled by the posterior's standard deviation around its mean
    tight = VAE.reparameterize(mean + 3.0, torch.full_like(logvar, -12.0),
                               torch.Generator().manual_seed(0))
    torch.testing.assert_close(tight, torch.full_like(tight, 3.0), atol=0.02, rtol=0)


def test_generate_samples_classes_instead_of_taking_the_argmax(batch):
    table, _, _ = batch
    model = make_model(table).eval()  # untrained: every column's classes near-uniform
    z = torch.zeros(1, LATENT).repeat(2000, 1)  # one fixed latent, drawn from 2000 times
    continuous, discrete, _ = model.generate(z, torch.Generator().manual_seed(0))
    assert discrete.shape == (2000, len(table.cardinalities))
    # argmax would give one value per column for a fixed z; sampling varies every column
    for j in range(len(table.cardinalities)):
        assert discrete[:, j].unique().numel() > 1, j
    sex = [enc.name for enc in table.encoders_ for _ in enc.cardinalities].index("sex")
    assert 0.1 < discrete[:, sex].float().mean().item() < 0.9
    # continuous values are drawn from their Gaussians too, not set to the mean
    assert continuous.shape == (2000, table.n_continuous)
    assert continuous.std(0).min() > 0.1


def test_generate_is_reproducible_with_a_seeded_generator(batch):
    table, _, _ = batch
    model = make_model(table).eval()
    z = torch.randn(100, LATENT, generator=torch.Generator().manual_seed(3))
    first = model.generate(z, torch.Generator().manual_seed(7))
    again = model.generate(z, torch.Generator().manual_seed(7))
    other = model.generate(z, torch.Generator().manual_seed(8))
    torch.testing.assert_close(first, again)
    assert not torch.equal(first[1], other[1])


def test_near_zero_temperature_makes_generation_deterministic(batch):
    table, _, _ = batch
    model = make_model(table).eval()
    z = torch.randn(200, LATENT, generator=torch.Generator().manual_seed(3))
    cold = [model.generate(z, torch.Generator().manual_seed(s), temperature=1e-5) for s in (0, 1)]
    torch.testing.assert_close(cold[0][0], cold[1][0], atol=1e-3, rtol=0)
    assert (cold[0][1] == cold[1][1]).float().mean() > 0.99
    warm = [model.generate(z, torch.Generator().manual_seed(s)) for s in (0, 1)]
    assert (warm[0][1] != warm[1][1]).any()


@pytest.mark.parametrize("context_rank", [0, 4])
def test_each_slot_depends_only_on_the_slots_decoded_before_it(batch, context_rank):
    table, continuous, discrete = batch
    order = list(np.random.default_rng(1).permutation(len(table.cardinalities) + table.n_continuous))
    model = make_model(table, slot_order=[int(i) for i in order], context_rank=context_rank)
    with torch.no_grad():  # weights far from their start, so every pair of slots is mixed
        for p in model.heads.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(2)))
    z = torch.zeros(len(continuous), LATENT)

    def outputs() -> torch.Tensor:
        mean, logvar, logits = model.decode(z, continuous_now, discrete_now)
        return torch.cat([*logits, mean, logvar], 1)

    n_disc = len(table.cardinalities)
    continuous_now, discrete_now = continuous.clone(), discrete.clone()
    reference = outputs()
    for position in (0, len(order) - 1):
        slot = order[position]
        continuous_now, discrete_now = continuous.clone(), discrete.clone()
        if slot < n_disc:
            discrete_now[:, slot] = (discrete_now[:, slot] + 1) % table.cardinalities[slot]
        else:
            continuous_now[:, slot - n_disc] += 1.5
        changed = (outputs() - reference).abs().amax(0) > 1e-6
        # column blocks of `outputs`: each slot's logits, then means, then log-variances
        widths = [*table.cardinalities, table.n_continuous, table.n_continuous]
        per_slot = torch.zeros(len(order), dtype=torch.bool)
        for j, block in enumerate(changed.split(widths)):
            if j < n_disc:
                per_slot[j] |= block.any()
            else:
                per_slot[n_disc:] |= block
        later = torch.tensor([order.index(s) > position for s in range(len(order))])
        assert not per_slot[~later].any()  # no slot sees itself or what comes after it
        assert per_slot[later].any() == bool(later.any())
