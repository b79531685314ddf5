"""Differentially private training: DP-SGD (Abadi et al. 2016) with Opacus and its accountant.

`train_private` is the private counterpart of `train.train`. Each optimiser step draws a
Poisson sample of the rows (each row independently, with probability
q = 1 / ceil(n / batch_size), about batch_size / n), computes every sampled row's own
gradient of its own loss, clips each to L2 norm `max_grad_norm`, sums them, adds Gaussian
noise of standard deviation `noise_multiplier * max_grad_norm`, divides by the expected
batch size and hands the result to AdamW. `PrivacyEngine.make_private_with_epsilon` picks
the smallest noise multiplier for which the accountant certifies (epsilon, delta) after
`cfg.epochs` epochs, and the accountant tracks what the steps actually taken spent.

Per-row gradients. Opacus 1.6 cannot wrap this model: `AutoregressiveHeads` holds raw
parameters (used in einsums), buffers and takes three inputs. `grad_sample_mode="hooks"`
and `"functorch"` both refuse it ("a trainable layer with buffers"; the per-layer
functorch fallback would also see only a layer's first input), and `"ew"` (expanded
weights) fails on the heads' indexing of their raw parameters. So the model is wrapped
with `grad_sample_mode="no_op"` and the per-row gradients of the *whole* model are
computed here with `torch.func` (`vmap(grad_and_value(...))` over the rows, each row run
as a batch of one through `VAE.forward`); Opacus' `DPOptimizer` then clips, accumulates,
noises and accounts exactly as with its own grad samplers. Large Poisson batches are
processed in chunks of `physical_batch_size` rows and accumulated into one noisy step (as
Opacus' `BatchMemoryManager` does), which bounds memory: per-row gradients take
rows x parameters x 4 bytes. This costs about 5 times a non-private epoch on CPU.

One row's loss is that row's negative ELBO; with `free_bits > 0` the free-bits floor is
applied to that row's own KL (the non-private loop applies it to the batch mean, which
couples rows and would break the per-row sensitivity bound).
"""
from __future__ import annotations

import logging
import math
import time
import warnings
from typing import Callable

import numpy as np
import torch
from torch.func import functional_call, grad_and_value, vmap
from torch.utils.data import DataLoader, TensorDataset

from .model import VAE
from .train import EpochStats, TrainConfig, cpu_threads, one_cycle

log = logging.getLogger("synthvae.dp")

PHYSICAL_BATCH = 128  # rows whose per-row gradients are held in memory at once
ACCOUNTANTS = ("rdp", "prv")


def train_private(model: VAE, train_data: tuple[np.ndarray, np.ndarray], cfg: TrainConfig,
                  generator: torch.Generator, epsilon: float, delta: float,
                  max_grad_norm: float = 1.0,
                  on_epoch: Callable[[EpochStats], None] | None = None, *,
                  accountant: str = "rdp", physical_batch_size: int = PHYSICAL_BATCH,
                  ) -> tuple[list[EpochStats], float]:
    """Fits `model` in place with DP-SGD for (epsilon, delta)-DP; returns the per-epoch
    stats and the epsilon actually spent at `delta`, as Opacus' accountant computes it.

    Privacy accounting: `accountant="rdp"` (default) is Opacus' Rényi-DP accountant for the
    Poisson-subsampled Gaussian mechanism (Mironov 2017; Mironov, Talwar & Zhang 2019),
    converted to (epsilon, delta); it is fast and works for any epsilon. `"prv"`
    (Gopi et al. 2021) is tighter (about 5 % less noise for the same budget) but slow or
    failing for large epsilon (over about 100). The same accountant picks the noise and
    reports the spend, which is at most `epsilon`.

    Training runs exactly `cfg.epochs` epochs of `ceil(n / cfg.batch_size)` Poisson steps
    each (the step count the noise was calibrated for), or stops sooner when
    `cfg.max_seconds` is spent (the returned epsilon is then smaller). There is no early
    stopping and no best-epoch selection on a validation split: the validation loss is a
    function of real rows that the accountant does not see, so choosing the epoch with it
    (or stopping with it) would leak outside the guarantee. `cfg.patience` is ignored, and
    `EpochStats.val_loss` is NaN. KL warm-up, AdamW with `cfg.learning_rate` and
    `cfg.weight_decay` and the OneCycle schedule are as in `train.train`: they depend on
    the step count only, not on the data.

    What the guarantee covers: the trained weights (and anything computed from them alone,
    such as rows decoded from z ~ N(0, I)) are (epsilon, delta)-differentially private with
    respect to adding or removing one row of `train_data` (Opacus' add/remove-one Poisson
    accounting), given that `n`, the encoded layout and `cfg` are public. Not covered:
    - the column encoders fitted on the real table (quantiles, category lists, min/max,
      bin edges for `value_bins`, which rows are "rare"), which shape `train_data` and are
      released with the model;
    - a prior fitted on the encoder's latents of the real rows (the Synthesizer's GMM
      prior): it sees the rows directly. Under DP, sample from N(0, I) instead;
    - the returned `EpochStats.train_loss` and `kl`: non-private averages over the sampled
      real rows, for monitoring only; do not publish them as part of a private release;
    - floating-point attacks on the Gaussian sampler: Opacus runs with `secure_mode=False`
      (a seeded, reproducible PRNG), fine for experiments; it is not a production-grade
      cryptographic noise source.

    Reproducibility: the sampling, the noise, the reparameterisation draws and dropout all
    come from seeds drawn from `generator`, so the same model initialisation, data, config
    and generator state give bit-identical weights and epsilon on the same machine and
    thread count (CPU). Different thread counts, CPUs, PyTorch or Opacus versions may
    change the floating-point results.

    The model comes back in eval mode, as the same `VAE` object with its plain parameters:
    Opacus' wrapper and the attributes it puts on parameters (`grad_sample`,
    `summed_grad`, ...) are removed, so `state_dict()` keys are those of any `VAE`.

    Raises `ValueError` for epsilon not finite and > 0, delta not in (0, 1),
    max_grad_norm not finite and > 0, an unknown accountant, no rows, no epochs, or an
    epsilon too small for the accountant to reach with any noise level. Warns when
    delta >= 1/n (such a delta allows releasing a row outright with fair probability).
    """
    cont_np, disc_np = train_data
    n = len(cont_np)
    _check_args(epsilon, delta, max_grad_norm, accountant, physical_batch_size, cfg, n,
                len(disc_np))
    from opacus import PrivacyEngine  # optional dependency: only DP training needs it

    cont, disc = torch.from_numpy(np.ascontiguousarray(cont_np)), torch.from_numpy(
        np.ascontiguousarray(disc_np))
    sample_seed, noise_seed, dropout_seed = (
        int(s) for s in torch.randint(0, 2**62, (3,), generator=generator))
    loader = DataLoader(TensorDataset(cont, disc), batch_size=min(cfg.batch_size, n),
                        generator=torch.Generator().manual_seed(sample_seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)
    with warnings.catch_warnings():  # "secure RNG turned off": documented above
        warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")
        engine = PrivacyEngine(accountant=accountant, secure_mode=False)
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            wrapped, dp_optimizer, dp_loader = engine.make_private_with_epsilon(
                module=model, optimizer=optimizer, data_loader=loader,
                target_epsilon=float(epsilon), target_delta=float(delta), epochs=cfg.epochs,
                max_grad_norm=float(max_grad_norm), poisson_sampling=True,
                grad_sample_mode="no_op",
                noise_generator=torch.Generator().manual_seed(noise_seed))
    except ValueError as e:
        if "budget is too low" in str(e):
            raise ValueError(f"epsilon={epsilon!r} is too small to reach with delta={delta!r} "
                             f"in {cfg.epochs} epochs of {len(loader)} steps ({e})") from e
        raise
    log.info("DP-SGD: noise multiplier %.3f, clip %.3g, sample rate %.4g, %d steps/epoch (%s)",
             dp_optimizer.noise_multiplier, max_grad_norm, 1 / len(dp_loader), len(dp_loader),
             accountant)

    steps_per_epoch = len(dp_loader)
    scheduler = one_cycle(optimizer, cfg.learning_rate, cfg.epochs * steps_per_epoch)
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    buffers = dict(model.named_buffers())
    beta = cfg.beta

    def row_loss(theta: dict[str, torch.Tensor], c: torch.Tensor, d: torch.Tensor):
        # One row as a batch of one: its loss is exactly its own negative ELBO.
        out = functional_call(model, (theta, buffers), (c[None], d[None]),
                              {"beta": beta, "generator": generator})
        return out["loss"], out["kl"]

    per_row = vmap(grad_and_value(row_loss, has_aux=True), in_dims=(None, 0, 0),
                   randomness="different")

    history: list[EpochStats] = []
    start = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]), cpu_threads(cfg.threads):
            torch.manual_seed(dropout_seed)  # nn.Dropout draws from the global generator
            model.train()
            for epoch in range(1, cfg.epochs + 1):
                beta = cfg.beta * min(1.0, epoch / max(1, cfg.kl_warmup_epochs))
                total, total_kl, rows = 0.0, 0.0, 0
                for c_batch, d_batch in dp_loader:
                    loss_sum, kl_sum = _private_step(per_row, params, dp_optimizer,
                                                     c_batch, d_batch, physical_batch_size)
                    scheduler.step()
                    total, total_kl, rows = total + loss_sum, total_kl + kl_sum, rows + len(c_batch)
                stats = EpochStats(epoch, total / max(rows, 1), math.nan, total_kl / max(rows, 1),
                                   time.perf_counter() - start)
                history.append(stats)
                if on_epoch:
                    on_epoch(stats)
                if cfg.max_seconds is not None and stats.seconds > cfg.max_seconds:
                    log.info("stopping at epoch %d: time budget of %.0f s spent", epoch,
                             cfg.max_seconds)
                    break
    finally:
        _unwrap(wrapped, model)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        spent = float(engine.get_epsilon(float(delta)))
    log.info("DP-SGD: epsilon spent %.4g of %.4g at delta %.3g", spent, epsilon, delta)
    return history, spent


def _private_step(per_row, params, dp_optimizer, c_batch: torch.Tensor, d_batch: torch.Tensor,
                  physical: int) -> tuple[float, float]:
    """One noisy optimiser step over a Poisson batch, in chunks of `physical` rows; returns
    the summed (non-private) loss and KL of the batch's rows, for monitoring."""
    loss_sum, kl_sum = 0.0, 0.0
    starts = list(range(0, len(c_batch), physical)) or [0]  # empty batch: one noise-only step
    theta = {name: p.detach() for name, p in params}
    for j, i in enumerate(starts):
        c, d = c_batch[i:i + physical], d_batch[i:i + physical]
        if len(c):
            grads, (loss, kl) = per_row(theta, c, d)
            loss_sum += float(loss.sum())
            kl_sum += float(kl.sum())
            for name, p in params:
                p.grad_sample = grads[name]
        else:
            for _, p in params:
                p.grad_sample = p.new_zeros((0, *p.shape))
        if j < len(starts) - 1:  # clip and accumulate only; the last chunk steps
            dp_optimizer.signal_skip_step(do_skip=True)
        dp_optimizer.step()
        dp_optimizer.zero_grad(set_to_none=True)
    return loss_sum, kl_sum


def _unwrap(wrapped, model: VAE) -> None:
    """Removes every trace of Opacus from `model`: its attributes on the parameters (the
    no-op wrapper registers no hooks) and the gradients; leaves the model in eval mode."""
    wrapped.cleanup()  # grad_sample, _forward_counter, ...
    for p in model.parameters():
        for attr in ("summed_grad", "grad_sample"):
            if hasattr(p, attr):
                delattr(p, attr)
        p.grad = None
    model.eval()


def default_delta(n_rows: int) -> float:
    """delta = 1 / n^1.1, comfortably below 1/n (a common choice)."""
    return 1.0 / max(n_rows, 2) ** 1.1


def check_privacy_budget(epsilon, delta) -> None:
    """Raises ValueError unless epsilon is a finite number > 0 and 0 < delta < 1; cheap, so
    callers can check before any training."""
    if not _is_real(epsilon) or not math.isfinite(epsilon) or epsilon <= 0:
        raise ValueError(f"epsilon must be a finite number > 0, got epsilon={epsilon!r}")
    if not _is_real(delta) or not 0 < delta < 1:
        raise ValueError(f"delta must be a number with 0 < delta < 1 (well below 1/n, the "
                         f"number of rows), got delta={delta!r}")


def _check_args(epsilon, delta, max_grad_norm, accountant, physical_batch_size,
                cfg: TrainConfig, n: int, n_disc: int) -> None:
    check_privacy_budget(epsilon, delta)
    if not _is_real(max_grad_norm) or not math.isfinite(max_grad_norm) or max_grad_norm <= 0:
        raise ValueError(f"max_grad_norm must be a finite number > 0, got {max_grad_norm!r}")
    if accountant not in ACCOUNTANTS:
        raise ValueError(f"accountant must be one of {ACCOUNTANTS}, got {accountant!r}")
    if int(physical_batch_size) < 1:
        raise ValueError(f"physical_batch_size must be >= 1, got {physical_batch_size!r}")
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise ValueError(f"DP training needs epochs >= 1 and batch_size >= 1, got "
                         f"epochs={cfg.epochs}, batch_size={cfg.batch_size}")
    if n == 0:
        raise ValueError("no training rows")
    if n_disc != n:
        raise ValueError(f"continuous and discrete blocks differ in rows: {n} vs {n_disc}")
    if delta >= 1 / n:
        warnings.warn(f"delta={delta:g} is not below 1/n = {1 / n:g} (n = {n} rows): a "
                      f"mechanism that publishes a random row outright meets such a delta; "
                      f"use delta < 1/n (1/n^1.1 is common)", UserWarning, stacklevel=3)


def _is_real(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
