"""The training loop: batch → loss → step → log → validate → maybe stop.

Early stopping watches the negative ELBO on a validation split of the real rows, and the
weights from the best epoch are kept. KL annealing (Bowman et al. 2016) ramps `beta` up over
the first epochs so the encoder learns to use the latent space before the prior pulls on it.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from .model import VAE

log = logging.getLogger("synthvae.train")
WARMUP_SHARE = 0.05  # of the optimiser steps, spent raising the learning rate to its peak


@dataclass
class TrainConfig:
    epochs: int = 300
    batch_size: int = 1024
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    beta: float = 1.0
    kl_warmup_epochs: int = 10
    patience: int = 20           # epochs without a better validation loss before stopping
    max_seconds: float | None = None
    device: str = "cpu"          # where the model trains; the fitted model ends on the CPU
    mixed_precision: bool = False  # bf16 autocast (on CUDA devices that support it)
    threads: int | None = None   # torch's CPU threads while training; None: as they are


    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float
    kl: float
    seconds: float


def train(model: VAE, train_data: tuple[np.ndarray, np.ndarray],
          val_data: tuple[np.ndarray, np.ndarray], cfg: TrainConfig, generator: torch.Generator,
          on_epoch: Callable[[EpochStats], None] | None = None,
          on_stop: Callable[[str], None] | None = None) -> list[EpochStats]:
    """Fits `model` in place; returns one EpochStats per epoch run. On an accelerator,
    `generator` must live on that device; the rows are moved there once, up front.
    `on_epoch` sees each epoch's stats; `on_stop`, if training ends before `cfg.epochs`,
    why (the patience ran out, or the time budget)."""
    device = torch.device(cfg.device)
    cont, disc = (torch.from_numpy(a).to(device) for a in train_data)
    val_cont, val_disc = (torch.from_numpy(a).to(device) for a in val_data)
    model.to(device)
    with cpu_threads(cfg.threads if device.type == "cpu" else None):
        return _train(model, cont, disc, val_cont, val_disc, cfg, generator, on_epoch,
                      on_stop or (lambda why: None))


def _train(model, cont, disc, val_cont, val_disc, cfg, generator, on_epoch, on_stop
           ) -> list[EpochStats]:
    device = cont.device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.mixed_precision)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(cont) / cfg.batch_size))
    scheduler = one_cycle(optimizer, cfg.learning_rate, cfg.epochs * steps_per_epoch)
    best_loss, best_state, stale = math.inf, copy.deepcopy(model.state_dict()), 0
    history: list[EpochStats] = []
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        beta = cfg.beta * min(1.0, epoch / max(1, cfg.kl_warmup_epochs))
        order = torch.randperm(len(cont), generator=generator, device=device)
        total, total_kl = 0.0, 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            with autocast:
                out = model(cont[idx], disc[idx], beta=beta, generator=generator)
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            optimizer.step()
            scheduler.step()
            total += out["loss"].item() * len(idx)
            total_kl += out["kl"].item() * len(idx)
        with autocast:
            val_loss = evaluate(model, val_cont, val_disc, generator, cfg.beta)
        stats = EpochStats(epoch, total / len(cont), val_loss, total_kl / len(cont),
                           time.perf_counter() - start)
        history.append(stats)
        if on_epoch:
            on_epoch(stats)
        if val_loss < best_loss - 1e-4:
            best_loss, best_state, stale = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
        why = None
        if stale >= cfg.patience and epoch > cfg.kl_warmup_epochs:
            why = f"no better validation loss for {stale} epochs"
            log.info("early stop at epoch %d: %s", epoch, why)
        elif cfg.max_seconds is not None and stats.seconds > cfg.max_seconds:
            why = f"time budget of {cfg.max_seconds:.0f} s spent"
            log.info("stopping at epoch %d: %s", epoch, why)
        if why is not None:
            if epoch < cfg.epochs:
                on_stop(why)
            break
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    return history


@contextlib.contextmanager
def cpu_threads(n: int | None):
    """torch's intra-op threads set to `n` (None: left as they are) for the block."""
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def one_cycle(optimizer: torch.optim.Optimizer, max_lr: float, total_steps: int,
              warmup_share: float = WARMUP_SHARE) -> torch.optim.lr_scheduler.OneCycleLR:
    """PyTorch's OneCycleLR over `total_steps`, warming up for `warmup_share` of them.

    OneCycleLR ends its warm-up phase at step `warmup_share * total_steps - 1`. When that is
    exactly 0 (20 steps at 5 %) the phase has no length and the first learning rate divides
    by zero; the boundary is then moved a hair past step 0, so such a run warms up for one
    step, as 21 steps do."""
    if float(warmup_share * total_steps) - 1 == 0:
        warmup_share = (1 + 1e-3) / total_steps
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr,
                                               total_steps=total_steps, pct_start=warmup_share)


@torch.no_grad()
def evaluate(model: VAE, cont: torch.Tensor, disc: torch.Tensor, generator: torch.Generator,
             beta: float = 1.0, batch_size: int = 4096) -> float:
    """The training objective (reconstruction NLL + beta * KL) averaged over the rows."""
    model.eval()
    total = 0.0
    for i in range(0, len(cont), batch_size):
        out = model(cont[i:i + batch_size], disc[i:i + batch_size], beta=beta, generator=generator)
        total += out["loss"].item() * len(cont[i:i + batch_size])
    return total / max(1, len(cont))
