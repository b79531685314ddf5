"""The training loop: it learns, it stops early when told, it keeps to its time budget."""
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from synthvae.columns import TableEncoder
from synthvae.model import VAE, VAEConfig
from synthvae.train import EpochStats, TrainConfig, evaluate, one_cycle, train

ADULT = Path(__file__).resolve().parents[1] / "data" / "adult.csv.gz"


@pytest.fixture(scope="module")
def split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], VAEConfig]:
    """800 Adult rows encoded: 600 to train on, 200 to validate on."""
    adult = pd.read_csv(ADULT).sample(800, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(0)
    table = TableEncoder().fit(adult, rng)
    continuous, discrete = table.encode(adult, rng)
    cfg = VAEConfig(n_continuous=table.n_continuous, cardinalities=table.cardinalities,
                    latent_dim=8, hidden_dim=32)
    return (continuous[:600], discrete[:600]), (continuous[600:], discrete[600:]), cfg


def fresh_model(cfg: VAEConfig) -> VAE:
    torch.manual_seed(0)
    return VAE(cfg)


def val_loss(model: VAE, val: tuple[np.ndarray, np.ndarray]) -> float:
    """The full objective (beta = 1) on the validation rows, with fixed noise."""
    cont, disc = (torch.from_numpy(a) for a in val)
    return evaluate(model, cont, disc, torch.Generator().manual_seed(123), beta=1.0)


def test_training_reduces_validation_loss(split):
    fit_rows, val, cfg = split
    model = fresh_model(cfg)
    before = val_loss(model, val)
    history = train(model, fit_rows, val, TrainConfig(epochs=6, batch_size=64, kl_warmup_epochs=1,
                                                      learning_rate=5e-3),
                    torch.Generator().manual_seed(0))
    after = val_loss(model, val)
    assert len(history) == 6 and all(isinstance(h, EpochStats) for h in history)
    assert after < 0.8 * before
    assert history[-1].train_loss < history[0].train_loss
    assert not model.training  # handed back ready to sample


def test_early_stopping_stops_before_epochs_when_patience_is_tiny(split):
    fit_rows, val, cfg = split
    cfg_train = TrainConfig(epochs=300, batch_size=64, patience=2, kl_warmup_epochs=1,
                            learning_rate=1e-2)
    history = train(fresh_model(cfg), fit_rows, val, cfg_train, torch.Generator().manual_seed(0))
    assert len(history) < 300
    # it stopped exactly `patience` epochs after the last epoch that improved
    best, last_improved = np.inf, 0
    for h in history:
        if h.val_loss < best - 1e-4:
            best, last_improved = h.val_loss, h.epoch
    assert history[-1].epoch == last_improved + 2


def test_on_stop_says_why_training_ended_early_and_only_then(split):
    fit_rows, val, cfg = split
    said: list[str] = []
    history = train(fresh_model(cfg), fit_rows, val,
                    TrainConfig(epochs=300, batch_size=64, patience=2, kl_warmup_epochs=1,
                                learning_rate=1e-2),
                    torch.Generator().manual_seed(0), on_stop=said.append)
    assert len(history) < 300 and said == ["no better validation loss for 2 epochs"]
    said.clear()
    train(fresh_model(cfg), fit_rows, val, TrainConfig(epochs=3, batch_size=64, max_seconds=0),
          torch.Generator().manual_seed(0), on_stop=said.append)
    assert said == ["time budget of 0 s spent"]
    said.clear()
    # the budget spent on the last epoch ends nothing early
    train(fresh_model(cfg), fit_rows, val, TrainConfig(epochs=1, batch_size=64, max_seconds=0),
          torch.Generator().manual_seed(0), on_stop=said.append)
    assert said == []


def test_weights_of_the_best_validation_epoch_are_kept(split):
    fit_rows, val, cfg = split
    model = fresh_model(cfg)
    history = train(model, fit_rows, val, TrainConfig(epochs=8, batch_size=64, kl_warmup_epochs=1,
                                                      learning_rate=5e-3, patience=100),
                    torch.Generator().manual_seed(0))
    cont, disc = (torch.from_numpy(a) for a in val)
    # the validation noise differs from training's, so compare with the spread of epochs
    restored = np.mean([evaluate(model, cont, disc, torch.Generator().manual_seed(s))
                        for s in range(5)])
    losses = [h.val_loss for h in history]
    assert restored < np.median(losses)


def test_max_seconds_budget_is_honoured(split):
    fit_rows, val, cfg = split
    start = time.perf_counter()
    history = train(fresh_model(cfg), fit_rows, val,
                    TrainConfig(epochs=1000, batch_size=64, max_seconds=1.0),
                    torch.Generator().manual_seed(0))
    elapsed = time.perf_counter() - start
    assert len(history) < 1000
    per_epoch = history[-1].seconds / len(history)
    # it stops at the first epoch end past the budget: at most one epoch over
    assert all(h.seconds <= 1.0 for h in history[:-1]) and history[-1].seconds > 1.0
    assert elapsed < 1.0 + 2 * per_epoch + 1.0


def test_on_epoch_sees_every_epoch_in_order(split):
    fit_rows, val, cfg = split
    seen: list[EpochStats] = []
    history = train(fresh_model(cfg), fit_rows, val, TrainConfig(epochs=3, batch_size=256),
                    torch.Generator().manual_seed(0), on_epoch=seen.append)
    assert [s.epoch for s in seen] == [1, 2, 3] and seen == history
    assert all(np.isfinite([s.train_loss, s.val_loss, s.kl]).all() for s in seen)


def test_training_is_reproducible_for_a_seeded_generator(split):
    fit_rows, val, cfg = split
    runs = []
    for _ in range(2):
        model = fresh_model(cfg)
        train(model, fit_rows, val, TrainConfig(epochs=2, batch_size=256),
              torch.Generator().manual_seed(5))
        runs.append(model.state_dict())
    for name, tensor in runs[0].items():
        torch.testing.assert_close(tensor, runs[1][name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("total_steps", range(1, 51))
def test_one_cycle_schedule_runs_every_small_step_count(total_steps):
    """OneCycleLR divided by zero at 20 steps (5 % warm-up ending at step 0)."""
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-2)
    scheduler = one_cycle(optimizer, 1e-2, total_steps)
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(total_steps):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    assert np.isfinite(rates).all() and 0 < min(rates) and max(rates) <= 1e-2 + 1e-12


def test_training_runs_for_twenty_steps(split):
    """5 epochs of 4 batches: the step count that broke the learning-rate schedule."""
    fit_rows, val, cfg = split
    history = train(fresh_model(cfg), fit_rows, val,
                    TrainConfig(epochs=5, batch_size=150, patience=100),
                    torch.Generator().manual_seed(0))
    assert len(history) == 5 and np.isfinite([h.train_loss for h in history]).all()


def test_training_uses_the_configured_threads_and_restores_them(split):
    fit_rows, val, cfg = split
    before = torch.get_num_threads()
    seen: list[int] = []
    train(fresh_model(cfg), fit_rows, val, TrainConfig(epochs=2, batch_size=256, threads=2),
          torch.Generator().manual_seed(0), on_epoch=lambda _: seen.append(torch.get_num_threads()))
    assert seen == [2, 2] and torch.get_num_threads() == before


def test_the_default_fit_leaves_a_core_free_unless_the_user_chose_threads():
    script = ("import synthvae.synthesizer as s, synthvae.threads as t; "
              "print(s.training_threads(), t.CORES)")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    threads, cores = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                    capture_output=True, text=True).stdout.split()
    assert threads == str(max(1, int(cores) - 1))
    chosen = subprocess.run([sys.executable, "-c", script], env={**env, "OMP_NUM_THREADS": "2"},
                            check=True, capture_output=True, text=True).stdout.split()
    assert chosen[0] == "None"
