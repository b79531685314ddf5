"""The public face: `Synthesizer(...).fit(df)`, `.sample(n)`, `.save(path)`, `.load(path)`.

Follows scikit-learn's estimator conventions: the constructor only stores parameters, `fit`
returns self, fitted state ends in an underscore, and `random_state` makes everything
reproducible (child seeds are derived with numpy's SeedSequence; no global RNG is touched).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from safetensors.numpy import load_file as load_arrays
from safetensors.numpy import save_file as save_arrays
from safetensors.torch import load_file as load_tensors
from safetensors.torch import save_file as save_tensors

from .columns import TableEncoder
from .model import VAE, VAEConfig
from .prior import GaussianMixturePrior
from .train import EpochStats, TrainConfig, train

log = logging.getLogger("synthvae")

FORMAT_VERSION = 1
SAMPLE_CHUNK = 65_536  # rows decoded at a time; fixed, so a seed gives the same rows at any n


class NotFittedError(RuntimeError):
    """The synthesizer was used before `fit` (or `load`)."""


class Synthesizer:
    """A VAE synthesizer for one table.

    Parameters are named as a user would say them; see `VAEConfig` and `TrainConfig` for what
    each does. `epochs=None` picks about 1,500 optimiser steps' worth (52 epochs on Adult).
    `column_kinds` overrides the detected kind of any column ("numeric", "categorical",
    "boolean", "datetime", "id", "text", "constant").
    """

    def __init__(self, *, epochs: int | None = None, batch_size: int = 1024, latent_dim: int = 32,
                 hidden_dim: int = 128, n_blocks: int = 2, head_dim: int = 128,
                 head_layers: int = 0, beta: float = 1.0,
                 learning_rate: float = 3e-3, patience: int = 20,
                 validation_fraction: float = 0.1, max_seconds: float | None = None,
                 prior_components: int = 20, column_kinds: dict[str, str] | None = None,
                 random_state: int | None = None, verbose: bool = False):
        self.epochs = epochs
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.n_blocks = n_blocks
        self.head_dim = head_dim
        self.head_layers = head_layers
        self.beta = beta
        self.learning_rate = learning_rate
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.max_seconds = max_seconds
        self.prior_components = prior_components
        self.column_kinds = column_kinds
        self.random_state = random_state
        self.verbose = verbose

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PARAMS}

    # ------------------------------------------------------------------ fitting
    def fit(self, df: pd.DataFrame, on_epoch: Callable[[EpochStats], None] | None = None
            ) -> Synthesizer:
        _check_table(df)
        start = time.perf_counter()
        seeds = np.random.SeedSequence(self.random_state)
        enc_seed, split_seed, torch_seed, prior_seed, self._sample_seed = (
            int(s.generate_state(1)[0]) for s in seeds.spawn(5))
        rng = np.random.default_rng(enc_seed)
        self.encoder_ = TableEncoder(self.column_kinds).fit(df, rng)
        continuous, discrete = self.encoder_.encode(df, rng)

        order = np.random.default_rng(split_seed).permutation(len(df))
        n_val = int(round(len(df) * self.validation_fraction)) if len(df) >= 50 else 0
        val, fit_rows = order[:n_val], order[n_val:]
        if n_val == 0:  # too few rows to hold any back: validate on the training rows
            val = fit_rows
        self.model_config_ = VAEConfig(
            n_continuous=self.encoder_.n_continuous, cardinalities=self.encoder_.cardinalities,
            latent_dim=self.latent_dim, hidden_dim=self.hidden_dim, n_blocks=self.n_blocks,
            head_dim=self.head_dim, head_layers=self.head_layers,
            slot_order=self.encoder_.slot_order)
        batch_size = min(self.batch_size, max(16, len(fit_rows) // 4))
        self.train_config_ = TrainConfig(
            epochs=self.epochs or _auto_epochs(len(fit_rows), batch_size), batch_size=batch_size,
            learning_rate=self.learning_rate, beta=self.beta, patience=self.patience,
            max_seconds=self.max_seconds)
        generator = torch.Generator().manual_seed(torch_seed)
        with torch.random.fork_rng(devices=[]):  # initialisation draws from the global generator
            torch.manual_seed(torch_seed)
            self.model_ = VAE(self.model_config_)
        report = on_epoch or (self._log_epoch if self.verbose else None)
        self.history_ = train(self.model_, (continuous[fit_rows], discrete[fit_rows]),
                              (continuous[val], discrete[val]), self.train_config_,
                              generator, report)
        self.prior_ = GaussianMixturePrior(self.prior_components, random_state=prior_seed % 2**31)
        self.prior_.fit(self._posterior_samples(continuous, discrete, generator))
        self.fit_seconds_ = time.perf_counter() - start
        self.n_rows_ = len(df)
        self._draws = 0
        log.info("fitted on %d rows x %d columns in %.1f s (%d epochs)", len(df), df.shape[1],
                 self.fit_seconds_, len(self.history_))
        return self

    def _log_epoch(self, s: EpochStats) -> None:
        print(f"epoch {s.epoch:4d}  train loss {s.train_loss:9.4f}  val loss {s.val_loss:9.4f}"
              f"  kl {s.kl:7.3f}  {s.seconds:6.1f} s", flush=True)

    @torch.no_grad()
    def _posterior_samples(self, continuous: np.ndarray, discrete: np.ndarray,
                           generator: torch.Generator) -> np.ndarray:
        parts = []
        for i in range(0, len(continuous), SAMPLE_CHUNK):
            mean, logvar = self.model_.encode(torch.from_numpy(continuous[i:i + SAMPLE_CHUNK]),
                                              torch.from_numpy(discrete[i:i + SAMPLE_CHUNK]))
            parts.append(VAE.reparameterize(mean, logvar, generator).numpy())
        return np.concatenate(parts)

    # ----------------------------------------------------------------- sampling
    def sample(self, n: int, random_state: int | None = None) -> pd.DataFrame:
        """`n` new rows with the fitted table's columns, order and dtypes.

        With `random_state` the rows depend on it alone; without, successive calls give new
        rows, in a sequence fixed by the synthesizer's own `random_state`.
        """
        self._check_fitted()
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if random_state is None:
            seed = np.random.SeedSequence([self._sample_seed, self._draws])
            self._draws += 1
        else:
            seed = np.random.SeedSequence(random_state)
        chunks = [self._sample_chunk(min(SAMPLE_CHUNK, n - start), child)
                  for start, child in zip(range(0, n, SAMPLE_CHUNK),
                                          seed.spawn(max(1, -(-n // SAMPLE_CHUNK))))]
        if not chunks:
            return self._sample_chunk(0, seed)
        if len(chunks) == 1:
            return chunks[0]
        rows = pd.concat(chunks, ignore_index=True)
        return self.encoder_.make_ids_unique(rows, np.random.default_rng(seed.spawn(1)[0]))

    @torch.no_grad()
    def _sample_chunk(self, n: int, seed: np.random.SeedSequence) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        z = torch.from_numpy(self.prior_.sample(n, rng))
        continuous, discrete = self.model_.generate(z, generator)
        return self.encoder_.decode(continuous.numpy(), discrete.numpy(), rng)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Writes `synthesizer.json` (format version, parameters, encoders' metadata) and
        `model.safetensors`, `arrays.safetensors`: data only, nothing that runs on load."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        encoder_meta, arrays = self.encoder_.state()
        arrays.update({f"prior.{k}": np.ascontiguousarray(v) for k, v in self.prior_.state().items()})
        meta = {
            "format": "synthvae", "format_version": FORMAT_VERSION,
            "params": self.get_params(), "model_config": self.model_config_.to_dict(),
            "train_config": self.train_config_.to_dict(), "encoders": encoder_meta,
            "sample_seed": self._sample_seed, "n_rows": self.n_rows_,
            "fit_seconds": self.fit_seconds_, "history": [asdict(h) for h in self.history_],
        }
        save_tensors({k: v.contiguous() for k, v in self.model_.state_dict().items()},
                     str(path / "model.safetensors"))
        save_arrays(arrays, str(path / "arrays.safetensors"))
        (path / "synthesizer.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        path = Path(path)
        meta_file = path / "synthesizer.json"
        if not meta_file.is_file():
            raise FileNotFoundError(f"no saved synthesizer at {path} (missing synthesizer.json)")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != "synthvae" or meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{meta_file}: unsupported format {meta.get('format')!r} version "
                             f"{meta.get('format_version')!r}; this synthvae reads version "
                             f"{FORMAT_VERSION}")
        self = cls(**meta["params"])
        arrays = load_arrays(str(path / "arrays.safetensors"))
        self.encoder_ = TableEncoder.from_state(meta["encoders"], arrays)
        self.prior_ = GaussianMixturePrior.from_state(
            {k[len("prior."):]: v for k, v in arrays.items() if k.startswith("prior.")})
        self.model_config_ = VAEConfig(**meta["model_config"])
        self.train_config_ = TrainConfig(**meta["train_config"])
        self.model_ = VAE(self.model_config_)
        self.model_.load_state_dict(load_tensors(str(path / "model.safetensors")))
        self.model_.eval()
        self.history_ = [EpochStats(**h) for h in meta["history"]]
        self._sample_seed, self.n_rows_ = meta["sample_seed"], meta["n_rows"]
        self.fit_seconds_ = meta["fit_seconds"]
        self._draws = 0
        return self

    # ------------------------------------------------------------------ helpers
    @property
    def column_kinds_(self) -> dict[str, str]:
        self._check_fitted()
        return self.encoder_.kinds

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this Synthesizer is not fitted yet: call fit(df) or "
                                 "Synthesizer.load(path) first")


TRAIN_STEPS = 1_500  # optimiser steps when `epochs` is not given: enough for Adult-sized tables


def _auto_epochs(n_rows: int, batch_size: int) -> int:
    """Epochs for about TRAIN_STEPS steps, within [10, 300]: big tables need fewer passes,
    small ones more; early stopping on the validation rows still ends training sooner."""
    steps_per_epoch = max(1, -(-n_rows // batch_size))
    return int(np.clip(round(TRAIN_STEPS / steps_per_epoch), 10, 300))


_PARAMS = ("epochs", "batch_size", "latent_dim", "hidden_dim", "n_blocks", "head_dim",
           "head_layers", "beta",
           "learning_rate", "patience", "validation_fraction", "max_seconds",
           "prior_components", "column_kinds", "random_state", "verbose")


def _check_table(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"fit expects a pandas DataFrame, got {type(df).__name__}")
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValueError(f"cannot fit on an empty table ({df.shape[0]} rows, {df.shape[1]} columns)")
    duplicated = df.columns[df.columns.duplicated()].tolist()
    if duplicated:
        raise ValueError(f"column names must be unique; repeated: {duplicated}")


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")
