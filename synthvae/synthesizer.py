"""The public face: `Synthesizer(...).fit(df)`, `.sample(n)`, `.save(path)`, `.load(path)`.

Follows scikit-learn's estimator conventions: the constructor only stores parameters, `fit`
returns self, fitted state ends in an underscore, and `random_state` makes everything
reproducible (child seeds are derived with numpy's SeedSequence; no global RNG is touched).
"""
from __future__ import annotations

import inspect
import json
import logging
import math
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Iterator

from .threads import CORES, USER_THREADS, usable_cores

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from safetensors.numpy import load_file as load_arrays  # noqa: E402
from safetensors.numpy import save_file as save_arrays  # noqa: E402
from safetensors.torch import load_file as load_tensors  # noqa: E402
from safetensors.torch import save_file as save_tensors  # noqa: E402
from tqdm import tqdm  # noqa: E402

from .anomaly import LATENT_COLUMN, score_rows  # noqa: E402
from .calibration import calibrate_marginals  # noqa: E402
from .columns import ConditionError, TableEncoder  # noqa: E402
from .conditional import as_constraints, draw_conditioned, draw_given  # noqa: E402
from .io import InputError, ordered_map  # noqa: E402
from .memory import concat_chunks, small_pages  # noqa: E402
from .model import VAE, Constraints, VAEConfig  # noqa: E402
from .prior import GaussianMixturePrior  # noqa: E402
from .rules import KINDS, RuleSet, discover, keeping, with_declared  # noqa: E402
from . import declared  # noqa: E402
from .schema import SchemaViolation  # noqa: E402
from .split import event_column, event_groups, validation_split  # noqa: E402
from .dp import check_privacy_budget, default_delta, train_private  # noqa: E402
from .train import EpochStats, TrainConfig, train  # noqa: E402


log = logging.getLogger("synthvae")

FORMAT_VERSION = 3  # 2: binned value context and free bits; 3: learned context mixes
READS_VERSIONS = (2, 3)  # a version 2 model is a version 3 one with context_rank 0
SAMPLE_CHUNK = 65_536  # rows decoded at a time; fixed, so a seed gives the same rows at any n
# From this many full chunks on, a sample is drawn several chunks at a time, each on its own
# thread with one-thread PyTorch (flights, 2 cores: 10-13% faster from 2 chunks on). With
# fewer, one chunk at a time on all cores is faster: 1.5 chunks drawn side by side wait on
# the full one, on one thread (10% slower).
THREADED_MIN_CHUNKS = 2


def training_threads() -> int | None:
    """torch's threads for a fit on the CPU: one fewer than the usable cores (at least one),
    or None to keep the user's OMP_NUM_THREADS.

    A fit's threads run each operation in lockstep, so one thread sharing its core with
    another busy process holds all the others back. On 2 cores beside one busy loop, Adult's
    fit took 2.9-3.1x its quiet time on 2 threads and 1.04-1.06x on one thread, whose quiet
    fit is 1.25x slower (benchmarks/contention.py). A core left free takes one competitor (the flow's
    Prefect server, another job, the OS) without stalling the fit. Sampling and scoring,
    which are not lockstep, keep every core."""
    return None if USER_THREADS else max(1, CORES - 1)


class NotFittedError(RuntimeError):
    """The synthesizer was used before `fit` (or `load`)."""


class ModelFileError(InputError):
    """A saved synthesizer's file is missing, cut short or damaged: the folder cannot be
    loaded (a one-line InputError, which the command lines report with exit code 2)."""


class Synthesizer:
    """A VAE synthesizer for one table.

    Parameters are named as a user would say them; see `VAEConfig` and `TrainConfig` for what
    each does. `epochs=None` picks about 2,500 optimiser steps' worth (86 epochs on Adult).
    Early stopping watches `validation_fraction` of the rows, at random.
    `validation_groups="auto"` holds back together the rows that share an event (a key that
    repeats, or a repeating timestamp with a time of day: `synthvae.split`), a column name
    those that share its value; `validation_groups_` names the column. It guards against
    learning a table's events by heart (police_force passed the privacy gate on 4 of 4 seeds
    with it, 2 of 4 without) at a cost in fidelity there (detection 0.54-0.62 -> 0.75-0.79),
    so it is not the default (benchmarks/RESULTS.md).
    `batch_size="auto"` takes about a 32nd of the rows, a power of two from 128 to 1,024
    (1,024 from 16,384 training rows on, and under DP).
    `column_kinds` overrides the detected kind of any column ("numeric", "categorical",
    "boolean", "datetime", "id", "text", "constant"). `device="auto"` trains on a CUDA GPU
    when torch sees one (with bf16 mixed precision where the GPU supports it), else on the
    CPU; the fitted model always ends on the CPU, where sampling runs (`synthvae.fused`).
    `calibrate=True` matches the sampled rows' class shares (null rates included) to the
    training rows' after training (`synthvae.calibration`; not under DP). `protect_below=k`:
    a category, or a repeated number, seen in fewer than k training rows is never generated
    as it is (a value one or two people have singles them out); 3 by default, 1 turns it off
    (see docs/design.md).
    `numeric_bins=k` (k > 1) models each number and date as one of up to k ranges, then a
    position within it (`synthvae.columns.numeric`): it lets a value given the rest of its
    row have several modes; 0 is one Gaussian per value. "auto" (the default) takes 32 for
    tables of 10,000 rows or more and 0 below, and under DP (`numeric_bins_`): on the
    corpus, 32 made 12 tables of 10,000 rows and more harder to tell from real and 4 smaller
    ones easier (benchmarks/RESULTS.md).
    `context_rank=k`: each column is decoded from k learned mixes of the columns decoded
    before it, so it can listen to the few it depends on; 0 is one plain sum (the model of
    format version 2). On the corpus, 16 made 11 of 17 tables harder to tell from real
    (ames 0.972 -> 0.865, storms 0.776 -> 0.617) and moved the others by 0.011 or less, for
    about 0.73x the rows a second when sampling (benchmarks/RESULTS.md).
    `rules=True` finds the rules every training row keeps (a column that equals another,
    is determined by one or two others or is a part of a date; two columns kept in order; a
    column that takes only a few of its values beside each value of one or two others) and makes
    every sampled row keep them (`synthvae.rules`, `rules_`; not under DP); a list of kinds
    (`["lookup", "order"]`, of `synthvae.rules.KINDS`) finds those only.
    `declared_rules` adds rules the data alone cannot show (`"start <= end"`, `"a == b"`,
    `"code is determined by name"`; see `synthvae.declared`): every training row must keep
    them (InputError naming the rule and the rows otherwise, before any training), and every
    sampled row does; with `rules=False` too.
    `keep_rules` (a schema's `discovered_rules`, as `Rule.describe` words them) enforces
    only the rules found that it lists; the others are learned and reported as not
    enforced. A listed rule not found in the training rows is warned about. None: all.
    `progress` shows a progress bar on stderr for `fit` (epochs, with the latest losses) and
    `sample` (rows): True always, False never, None (the default) when stderr is a terminal,
    so logs, CI and workers get none. `verbose` prints a line per epoch to stdout.
    The same seed gives the same rows on the same kind of device, not across kinds.
    """

    # Model and training defaults live in VAEConfig and TrainConfig, and only there.
    def __init__(self, *, epochs: int | None = None, batch_size: int | str = "auto",
                 latent_dim: int = VAEConfig.latent_dim, hidden_dim: int = VAEConfig.hidden_dim,
                 n_blocks: int = VAEConfig.n_blocks, head_dim: int = VAEConfig.head_dim,
                 head_layers: int = VAEConfig.head_layers, context_rank: int = 16,
                 value_bins: int = VAEConfig.value_bins, numeric_bins: int | str = "auto",
                 beta: float = TrainConfig.beta,
                 free_bits: float = VAEConfig.free_bits, dp_epsilon: float | None = None,
                 dp_delta: float | None = None, dp_max_grad_norm: float = 1.0,
                 learning_rate: float = TrainConfig.learning_rate,
                 patience: int = TrainConfig.patience,
                 validation_fraction: float = 0.1, validation_groups: str | None = None,
                 max_seconds: float | None = None,
                 prior_components: int = 20, calibrate: bool = True,
                 rules: bool | list[str] = True, declared_rules: list[str] | None = None,
                 keep_rules: list[str] | None = None,
                 column_kinds: dict[str, str] | None = None,
                 protect_below: int = 3,
                 random_state: int | None = None, verbose: bool = False,
                 progress: bool | None = None, device: str = "auto"):
        self.epochs = epochs
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.hidden_dim = hidden_dim
        self.n_blocks = n_blocks
        self.head_dim = head_dim
        self.head_layers = head_layers
        self.context_rank = context_rank
        self.value_bins = value_bins
        self.numeric_bins = numeric_bins
        self.beta = beta
        self.free_bits = free_bits
        self.dp_epsilon = dp_epsilon
        self.dp_delta = dp_delta
        self.dp_max_grad_norm = dp_max_grad_norm
        self.learning_rate = learning_rate
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.validation_groups = validation_groups
        self.max_seconds = max_seconds
        self.prior_components = prior_components
        self.calibrate = calibrate
        self.rules = rules
        self.declared_rules = declared_rules
        self.keep_rules = keep_rules
        self.column_kinds = column_kinds
        self.protect_below = protect_below
        self.random_state = random_state
        self.verbose = verbose
        self.progress = progress
        self.device = device

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _PARAMS}

    # ------------------------------------------------------------------ fitting
    def fit(self, df: pd.DataFrame, on_epoch: Callable[[EpochStats], None] | None = None
            ) -> Synthesizer:
        _check_table(df)
        declared_rules = _check_declared(df, self.declared_rules,
                                         private=self.dp_epsilon is not None)
        device = resolve_device(self.device)  # a bad or missing device fails before any work
        start = time.perf_counter()
        seeds = np.random.SeedSequence(self.random_state)
        enc_seed, split_seed, torch_seed, prior_seed, self._sample_seed = (
            int(s.generate_state(1)[0]) for s in seeds.spawn(5))
        rng = np.random.default_rng(enc_seed)
        self.numeric_bins_ = _numeric_bins(self.numeric_bins, len(df),
                                           private=self.dp_epsilon is not None)
        self.encoder_ = TableEncoder(self.column_kinds, self.protect_below,
                                     self.numeric_bins_).fit(df, rng)
        continuous, discrete = self.encoder_.encode(df, rng)

        private = self.dp_epsilon is not None
        if private:
            delta = self.dp_delta if self.dp_delta is not None else default_delta(len(df))
            check_privacy_budget(self.dp_epsilon, delta)
        # Under DP no rows are held back: stopping on real validation rows would leak.
        n_val = int(round(len(df) * self.validation_fraction)) if len(df) >= 50 and not private else 0
        self.validation_groups_ = _validation_groups(self.validation_groups, df, self.encoder_,
                                                     n_val)
        val, fit_rows = validation_split(
            len(df), n_val, np.random.default_rng(split_seed),
            None if self.validation_groups_ is None else event_groups(df[self.validation_groups_]))
        if self.validation_groups_ is not None and (len(val) > 2 * n_val or not len(fit_rows)):
            raise InputError(
                f"validation_groups: column {self.validation_groups_!r} has too few distinct "
                f"values to hold back about {self.validation_fraction:.0%} of the rows by value "
                f"(whole values would hold back {len(val):,} of {len(df):,}); name a column "
                f"with more values, or give \"auto\" or None")
        if n_val == 0:  # too few rows to hold any back: validate on the training rows
            val = fit_rows
        self.model_config_ = VAEConfig(
            n_continuous=self.encoder_.n_continuous, cardinalities=self.encoder_.cardinalities,
            latent_dim=self.latent_dim, hidden_dim=self.hidden_dim, n_blocks=self.n_blocks,
            head_dim=self.head_dim, head_layers=self.head_layers,
            slot_order=self.encoder_.slot_order, value_bins=self.value_bins,
            free_bits=self.free_bits, context_rank=_context_rank(self.context_rank),
            bin_edges=self.encoder_.bin_edges(self.value_bins) if self.value_bins > 1 else [])
        batch_size = min(_batch_size(self.batch_size, len(fit_rows), private),
                         max(16, len(fit_rows) // 4))
        epochs = self.epochs or (DP_EPOCHS if private else _auto_epochs(len(fit_rows), batch_size))
        self.train_config_ = TrainConfig(
            epochs=epochs, batch_size=batch_size,
            kl_warmup_epochs=10 if self.epochs or private else _kl_warmup_epochs(epochs),
            learning_rate=self.learning_rate, beta=self.beta, patience=self.patience,
            max_seconds=self.max_seconds, threads=training_threads())
        device = device if not private else torch.device("cpu")  # Opacus runs on the CPU here
        self.device_ = str(device)
        self.train_config_.device = self.device_
        self.train_config_.mixed_precision = device.type == "cuda" and torch.cuda.is_bf16_supported()
        generator = torch.Generator(device).manual_seed(torch_seed)
        with torch.random.fork_rng(devices=[]):  # initialisation draws from the global generator
            torch.manual_seed(torch_seed)
            self.model_ = VAE(self.model_config_)
        # Rules read the real rows beyond what the model learns: not under DP.
        encoded = time.perf_counter()
        kinds = KINDS if self.rules is True else (self.rules,) if isinstance(self.rules, str) \
            else tuple(self.rules or ())
        found = discover(df, self.encoder_, kinds) if kinds and not private else RuleSet([])
        if self.keep_rules is not None and not private:
            found, missing = keeping(found, list(self.keep_rules))
            if missing:
                warnings.warn(f"{len(missing)} rule(s) listed to keep were not found in the "
                              f"training rows, so are not enforced (declare a rule the data "
                              f"cannot show in the schema's rules): {'; '.join(missing[:5])}",
                              stacklevel=2)
        self.rules_ = with_declared(found, declared_rules, df, self.encoder_)
        train_data = (continuous[fit_rows], discrete[fit_rows])
        self.fit_timings_ = {"encoders": round(encoded - start, 2),
                             "rules": round(time.perf_counter() - encoded, 2)}
        self.calibration_ = None
        bar = _EpochBar(self._bar(total=epochs, desc="fit", bar_format=_EPOCH_BAR),
                        on_epoch or (self._log_epoch if self.verbose else None))
        if private:
            with bar:
                self.history_, self.dp_epsilon_spent_ = train_private(
                    self.model_, train_data, self.train_config_, generator, self.dp_epsilon,
                    delta, self.dp_max_grad_norm, bar)
            self.dp_delta_ = delta
            # A prior fitted to the real rows' latents would sit outside the DP guarantee.
            self.prior_ = GaussianMixturePrior.standard_normal(self.latent_dim)
        else:
            with bar:
                self.history_ = train(self.model_, train_data, (continuous[val], discrete[val]),
                                      self.train_config_, generator, bar, bar.stopped)
            self.dp_epsilon_spent_ = self.dp_delta_ = None
            self.fit_timings_["train"] = round(time.perf_counter() - start, 2)
            if device.type != "cpu":  # the model is back on the CPU; its generator must be too
                generator = torch.Generator().manual_seed(torch_seed)
            if len(df) < 2:
                # A mixture needs two latents; one row has only constant columns, which the
                # decoder ignores, so the training prior serves.
                self.prior_ = GaussianMixturePrior.standard_normal(self.latent_dim)
            else:
                self.prior_ = GaussianMixturePrior(self.prior_components,
                                                   random_state=prior_seed % 2**31).fit(
                    self._posterior_samples(continuous, discrete, generator))
                if self.calibrate:
                    self.calibration_ = calibrate_marginals(
                        self.model_, self.prior_, discrete[fit_rows], prior_seed)
                    self.fit_timings_["calibration"] = round(time.perf_counter() - start, 2)
        self.fit_seconds_ = time.perf_counter() - start
        self.fit_timings_["total"] = round(self.fit_seconds_, 2)
        self.n_rows_ = len(df)
        self._draws = 0
        log.info("fitted on %d rows x %d columns in %.1f s (%d epochs)", len(df), df.shape[1],
                 self.fit_seconds_, len(self.history_))
        return self

    def _log_epoch(self, s: EpochStats) -> None:
        # tqdm.write lifts a progress bar off the terminal for the line, then redraws it
        tqdm.write(f"epoch {s.epoch:4d}  train loss {s.train_loss:9.4f}  val loss "
                   f"{s.val_loss:9.4f}  kl {s.kl:7.3f}  {s.seconds:6.1f} s", file=sys.stdout)
        sys.stdout.flush()

    def _bar(self, **options: Any) -> tqdm:
        """A tqdm bar on stderr, or one that shows nothing and costs nothing (`progress`)."""
        shown = _stderr_is_terminal() if self.progress is None else bool(self.progress)
        return tqdm(file=sys.stderr, disable=not shown, dynamic_ncols=True, **options)

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
    def sample(self, n: int, random_state: int | None = None,
               conditions: dict[str, Any] | None = None, *,
               threads: int | None = None) -> pd.DataFrame:
        """`n` new rows with the fitted table's columns, order and dtypes.

        With `random_state` the rows depend on it alone; without, successive calls give new
        rows, in a sequence fixed by the synthesizer's own `random_state`.

        `conditions` maps columns to what every row must hold: a value (`"income": ">50K"`),
        a list of values (any of them), a `(low, high)` range for numbers and dates (`None`
        for an open end), or `None` for null. A condition the model cannot meet (a column or
        value never seen, a range outside the observed one) raises `ConditionError`.

        `threads`: see `iter_sample`; the rows do not depend on it.
        """
        return self._sample(n, random_state, conditions, threads, with_bar=True)

    def _sample(self, n: int, random_state: int | None, conditions: dict[str, Any] | None,
                threads: int | None = None, with_bar: bool = False) -> pd.DataFrame:
        """`sample`; with `with_bar`, its progress bar where `self.progress` asks for one."""
        stream = self.iter_sample(n, random_state, conditions, threads=threads)
        if with_bar:
            # One update per chunk of 65,536 rows: the bar costs nothing next to drawing them
            with self._bar(total=n, desc="sample", unit="row", unit_scale=True) as bar:
                return self._gather(_counted(stream, bar), n)
        return self._gather(stream, n)

    def _gather(self, stream: Iterator[pd.DataFrame], n: int) -> pd.DataFrame:
        if n <= SAMPLE_CHUNK:
            chunks = list(stream)
            # n = 0: the columns and dtypes, no rows
            return chunks[0] if chunks else self._sample_chunk(0, np.random.SeedSequence(0))
        with small_pages():
            return concat_chunks(stream, n)

    def iter_sample(self, n: int, random_state: int | None = None,
                    conditions: dict[str, Any] | None = None, start: int = 0, *,
                    as_category: bool = False, threads: int | None = None
                    ) -> Iterator[pd.DataFrame]:
        """`sample(n, ...)` as a stream of DataFrames of up to 65,536 rows each, in constant
        memory: their concatenation equals `sample(n, ...)` with the same arguments. The
        arguments are checked here, before the first chunk is asked for.

        `start` (a multiple of SAMPLE_CHUNK) skips ahead: the stream is then rows start ...
        start + n - 1 of `sample(start + n, ...)`, drawn without drawing the rows before
        them. That lets shards of one sample run apart, on other processes or machines,
        and still make exactly the rows (ids included) one process would have made.

        `as_category` gives the columns of strings (`encoder_.category_columns`) as pandas
        categoricals of the same values: no Python string per row, so chunks check and
        convert to Arrow several times faster (what `synthvae.stream` uses).

        `threads` (default: the cores this process may use; 1: one chunk at a time): from
        THREADED_MIN_CHUNKS full chunks on, up to `threads` chunks are drawn at once, each on
        its own thread, at most two per thread ahead of the consumer. The rows are the same whatever
        the threads: each chunk has its own seed, and ids depend on the row's position.
        Callers that sample from several threads of their own should pass `threads=1`: each
        call would otherwise use every core, and the calls would contend for them."""
        self._check_fitted()
        for name, value in (("n", n), ("start", start)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if threads is not None and (not isinstance(threads, (int, np.integer))
                                    or isinstance(threads, bool) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        if start % SAMPLE_CHUNK:
            raise ValueError(f"start must be a multiple of {SAMPLE_CHUNK:,} (SAMPLE_CHUNK), "
                             f"got {start:,}")
        constraint = None
        if conditions:
            if not isinstance(conditions, dict):
                raise ConditionError(f"conditions must be a dict of column: value, got "
                                     f"{type(conditions).__name__}")
            conditions, unruled = self.rules_.through_sources(conditions, self.encoder_)
            classes, intervals, per_column = self.encoder_.constrain(conditions)
            constraint = (as_constraints(classes, intervals), per_column, unruled)
        if random_state is None:
            seed = np.random.SeedSequence([self._sample_seed, self._draws])
            self._draws += 1
        else:
            seed = np.random.SeedSequence(random_state)
        return self._chunks(n, seed, constraint, start, as_category,
                            threads or usable_cores())

    def _chunks(self, n: int, seed: np.random.SeedSequence,
                constraint: tuple[Constraints, dict, set[str]] | None, start: int = 0,
                as_category: bool = False, threads: int = 1) -> Iterator[pd.DataFrame]:
        """Chunks with fixed seeds (so rows do not depend on how or where they are drawn),
        with id columns unique across the whole stream. Chunk i's seed is the seed's child
        i + 1 and the ids' key comes from child 0, each made directly, so any chunk can be
        drawn without the ones before it."""
        def child(i: int) -> np.random.SeedSequence:
            return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i),
                                          pool_size=seed.pool_size)

        key = int(child(0).generate_state(1, np.uint64)[0])

        def draw(first: int) -> pd.DataFrame:
            return self._sample_chunk(min(SAMPLE_CHUNK, start + n - first),
                                      child(1 + first // SAMPLE_CHUNK), constraint,
                                      self.encoder_.id_stream(key, start=first), as_category)

        starts = range(start, start + n, SAMPLE_CHUNK)
        if threads < 2 or n < THREADED_MIN_CHUNKS * SAMPLE_CHUNK:
            yield from map(draw, starts)
            return
        self.model_.start_kernel_threads()
        workers = min(threads, len(starts))
        # The chunks past the last full round run with fewer beside them (3 chunks on 2
        # threads: the third alone), so they get every thread; on one each, 3 chunks took
        # 17% longer than one after another on both cores.
        last_round = start + (len(starts) - len(starts) % workers) * SAMPLE_CHUNK

        def draw_on_worker(first: int) -> pd.DataFrame:
            torch.set_num_threads(threads if first >= last_round else max(1, threads // workers))
            return draw(first)

        yield from ordered_map(draw_on_worker, starts, workers)

    @torch.no_grad()
    def _sample_chunk(self, n: int, seed: np.random.SeedSequence,
                      constraint: tuple[Constraints, dict, set[str]] | None = None,
                      ids: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
                      as_category: bool = False) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        unruled: set[str] = set()
        if constraint is None:
            z = torch.from_numpy(self.prior_.sample(n, rng))
            continuous, discrete, _ = self.model_.generate(z, generator)
            rows = self.rules_.apply(self.encoder_.decode(continuous.numpy(), discrete.numpy(),
                                                          rng, ids is not None, as_category),
                                     self.encoder_, rng=rng)
        else:
            constraints, per_column, unruled = constraint
            continuous, discrete, self.last_pool_ = draw_conditioned(
                self.model_, self.prior_, n, constraints, rng, generator)
            rows = self.rules_.apply(self.encoder_.decode(continuous, discrete, rng,
                                                          ids is not None, as_category),
                                     self.encoder_, skip=unruled, rng=rng)
            for name, c in per_column.items():
                if c.enforce is not None:
                    rows[name] = c.enforce(rows[name], rng)
        if ids is None:
            return rows
        rows = ids(rows)
        shared = self.encoder_.grouped_columns
        if shared and self.rules_.rules:
            # a group's rows now share its first row's values of those columns: the rules
            # that set other columns from them are made to hold again
            rows = self.rules_.apply(rows, self.encoder_, skip=set(unruled) | shared, rng=rng)
        return rows

    def sample_given(self, given: pd.DataFrame, random_state: int | None = None,
                     particles: int = 8) -> pd.DataFrame:
        """One row per row of `given`, holding that row's values of `given`'s columns (some
        of the table's, not ids) and the other columns drawn conditioned on them, each row on
        its own values: children beside their parent rows, say (`synthvae.relational`).
        Rows keep `given`'s index. Each row picks one of `particles` latents in proportion
        to how well it explains the given values (`draw_given`); more cost time in
        proportion and condition more closely. Rules that set a given column are left
        out; the others hold."""
        self._check_fitted()
        if not isinstance(given, pd.DataFrame):
            raise TypeError(f"given must be a DataFrame, got {type(given).__name__}")
        if not isinstance(particles, (int, np.integer)) or particles < 1:
            raise ValueError(f"particles must be a positive integer, got {particles!r}")
        if random_state is None:
            seed = np.random.SeedSequence([self._sample_seed, self._draws])
            self._draws += 1
        else:
            seed = np.random.SeedSequence(random_state)
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        ids = self.encoder_.id_stream(int(rng.integers(2**63)))
        fixed = set(given.columns)
        block = max(1, SAMPLE_CHUNK // particles)
        parts = []
        for start in range(0, max(len(given), 1), block):
            part = given.iloc[start:start + block]
            codes, values = self.encoder_.given(part, rng)
            constraints = Constraints(
                codes={j: torch.from_numpy(np.ascontiguousarray(c)) for j, c in codes.items()},
                values={k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in values.items()})
            with torch.no_grad():
                continuous, discrete = draw_given(self.model_, self.prior_, constraints,
                                                  len(part), particles, rng, generator)
            rows = self.encoder_.decode(continuous, discrete, rng, skip_ids=True)
            for name in given.columns:
                rows[name] = part[name].to_numpy()
            rows = ids(self.rules_.apply(rows, self.encoder_, skip=fixed, rng=rng))
            parts.append(rows.set_axis(part.index))
        return pd.concat(parts) if len(parts) > 1 else parts[0]

    # ------------------------------------------------------------ latent space
    def encode(self, df: pd.DataFrame, return_variance: bool = False
               ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
        """Each row's posterior q(z|x): its latent mean (columns z0, z1, ...), and with
        `return_variance` also its variances, as a second frame. Rows keep their index."""
        self._check_fitted()
        self._check_rows(df, "encode", validate=True)
        continuous, discrete = self.encoder_.encode(df)
        means, variances = [], []
        with torch.no_grad():
            for i in range(0, len(df), SAMPLE_CHUNK):
                mean, logvar = self.model_.encode(torch.from_numpy(continuous[i:i + SAMPLE_CHUNK]),
                                                  torch.from_numpy(discrete[i:i + SAMPLE_CHUNK]))
                means.append(mean.numpy()); variances.append(logvar.exp().numpy())
        names = [f"z{i}" for i in range(self.latent_dim)]
        empty = np.zeros((0, self.latent_dim), np.float32)
        mean_df = pd.DataFrame(np.concatenate(means) if means else empty, index=df.index, columns=names)
        if not return_variance:
            return mean_df
        return mean_df, pd.DataFrame(np.concatenate(variances) if variances else empty,
                                     index=df.index, columns=names)

    def decode(self, z: pd.DataFrame | np.ndarray, sample: bool = False,
               random_state: int | None = None) -> pd.DataFrame:
        """Rows for latent points `z` (n, latent_dim): each column's most likely value given
        the latent and the columns before it, or with `sample=True` a random draw."""
        self._check_fitted()
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}")
        if not np.isfinite(z).all():
            raise ValueError("z holds NaN or infinite values")
        rng = np.random.default_rng(random_state)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        continuous, discrete, _ = self.model_.generate(torch.from_numpy(z), generator,
                                                       greedy=not sample)
        return self.rules_.apply(self.encoder_.decode(continuous.numpy(), discrete.numpy(), rng),
                                 self.encoder_, rng=rng)

    def interpolate(self, row_a: pd.DataFrame | pd.Series | dict, row_b: pd.DataFrame | pd.Series | dict,
                    steps: int = 10) -> pd.DataFrame:
        """`steps` rows along the straight latent path from row_a's posterior mean to row_b's
        (both ends included), each decoded to its most likely values."""
        if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 2:
            raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
        self._check_fitted()
        rows = [_one_row(row_a, "row_a"), _one_row(row_b, "row_b")]
        for row, name in zip(rows, ("row_a", "row_b")):
            self.encoder_.check_columns(row, name)
        ends = pd.concat(rows, ignore_index=True)
        z = self.encode(ends).to_numpy()
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return self.decode((1 - t) * z[0] + t * z[1])

    def augment(self, df: pd.DataFrame, target: str, balance: bool | dict[Any, float] = True,
                n: int | None = None, random_state: int | None = None) -> pd.DataFrame:
        """`df` with synthetic rows appended, drawn per class of `target`.

        `balance=True` tops every class up to the largest one's count (or, with `n`, adds `n`
        rows that bring the classes as close to equal as they can); a dict of class shares
        (`{"<=50K": 0.5, ">50K": 0.5}`) adds rows so the result has those shares (with `n`,
        adds exactly `n`, split to approach them); `balance=False` adds `n` rows drawn with
        the model's own class frequencies.
        """
        self._check_fitted()
        self._check_rows(df, "augment", validate=True)
        if target not in df.columns:
            raise ValueError(f"target {target!r} is not a column; columns: {list(df.columns)}")
        if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0):
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        counts = df[target].value_counts(dropna=False)
        plan = _augment_plan(counts, balance, n, target)
        seeds = np.random.SeedSequence(random_state if random_state is not None
                                       else [self._sample_seed, self._draws, 1])
        self._draws += random_state is None
        parts = [df]
        for (label, k), seed in zip(plan.items(), seeds.spawn(max(1, len(plan)))):
            if k > 0:
                cond = None if label is _ANY else {target: None if _is_na(label) else label}
                parts.append(self._sample(int(k), int(seed.generate_state(1)[0]), cond))
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------ anomalies
    def anomaly_score(self, df: pd.DataFrame, validate: bool = False, n_draws: int = 16,
                      random_state: int | None = 0) -> pd.Series:
        """How unlikely each row is under the model: -log p(x) in nats (higher = more unusual).

        Values the training rows never had (a category never seen, a number outside the
        observed range) are what a detector looks for, so by default they are scored: each
        adds to its row's score, and further out of range scores higher. With
        `validate=True` such rows raise a SchemaViolation naming them instead. Rows with
        other columns than the fitted table's always raise."""
        return self._score(df, validate, n_draws, random_state)[0]

    def explain_anomaly(self, df: pd.DataFrame, validate: bool = False, n_draws: int = 16,
                        random_state: int | None = 0) -> pd.DataFrame:
        """Per row and column, the nats each column adds to `anomaly_score` (its negative
        log-likelihood given the latent and the columns before it, plus any out-of-range
        surprise), and "(latent)" for the rest; each row sums to its score."""
        return self._score(df, validate, n_draws, random_state)[1]

    def _score(self, df: pd.DataFrame, validate: bool, n_draws: int, random_state: int | None
               ) -> tuple[pd.Series, pd.DataFrame]:
        self._check_fitted()
        if not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
            raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}")
        surprise = self._check_rows(df, "anomaly_score", validate)
        continuous, discrete = self.encoder_.encode(df, lenient=not validate)
        generator = torch.Generator().manual_seed(
            int(np.random.default_rng(random_state).integers(2**62)))
        score, per_slot = score_rows(self.model_, continuous, discrete, n_draws, generator)
        columns = self.encoder_.columns_per_slot()
        parts = pd.DataFrame(0.0, index=df.index, columns=list(self.encoder_.columns_))
        for slot, name in enumerate(columns):
            parts[name] += per_slot[:, slot]
        for name, nats in surprise.items():
            parts[name] += nats
        total = score + sum(surprise.values(), np.zeros(len(df)))
        parts[LATENT_COLUMN] = total - parts.sum(axis=1).to_numpy()
        return pd.Series(total, index=df.index, name="anomaly_score"), parts

    def _check_rows(self, df: pd.DataFrame, what: str, validate: bool) -> dict[str, np.ndarray]:
        """Raises on wrong columns, and with `validate` on values outside the training
        support; returns the extra surprise (nats) per column of such values."""
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{what} expects a pandas DataFrame, got {type(df).__name__}")
        self.encoder_.check_columns(df, f"rows given to {what}")
        found = self.encoder_.out_of_support(df)
        if validate and found:
            problems = [{"column": name, "rule": p.rule, "count": int(p.rows.sum()),
                         "examples": [{"row": _plain(i), "value": _plain(v)} for i, v in
                                      df[name][p.rows].head(5).items()]}
                        for name, ps in found.items() for p in ps]
            lines = [f"  - {p['column']}: {p['rule']} ({p['count']} rows): "
                     + ", ".join(f"{e['value']!r} at row {e['row']}" for e in p["examples"])
                     for p in problems]
            raise SchemaViolation(f"rows given to {what} break the fitted table's schema:\n"
                                  + "\n".join(lines) + "\nFix them, or pass validate=False "
                                  "to score such values as anomalies.", problems)
        return {name: sum((p.nats for p in ps), np.zeros(len(df))) for name, ps in found.items()}

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
            "dp": {"epsilon_spent": self.dp_epsilon_spent_, "delta": self.dp_delta_},
            "calibration": self.calibration_, "rules": self.rules_.to_list(),
            "near_rules": self.rules_.near_list(),
            "unenforced_rules": self.rules_.unenforced_list(), "numeric_bins": self.numeric_bins_,
            "validation_groups": self.validation_groups_,
        }
        save_tensors({k: v.contiguous() for k, v in self.model_.state_dict().items()},
                     str(path / "model.safetensors"))
        save_arrays(arrays, str(path / "arrays.safetensors"))
        (path / "synthesizer.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        """The synthesizer `save` wrote to `path`. Raises FileNotFoundError when `path` holds
        none, and ModelFileError (an InputError) naming the file when one of its files is
        cut short, damaged or from another model."""
        path = Path(path)
        meta_file = path / "synthesizer.json"
        if not meta_file.is_file():
            raise FileNotFoundError(f"no saved synthesizer at {path} (missing synthesizer.json)")
        meta = _read_model_file(meta_file, lambda f: json.loads(f.read_text()))
        if not isinstance(meta, dict) or meta.get("format") != "synthvae" \
                or meta.get("format_version") not in READS_VERSIONS:
            found = meta if isinstance(meta, dict) else {}
            raise ModelFileError(f"{meta_file}: unsupported format {found.get('format')!r} "
                                 f"version {found.get('format_version')!r}; this synthvae "
                                 f"reads versions {', '.join(map(str, READS_VERSIONS))}")
        arrays = _read_model_file(path / "arrays.safetensors", lambda f: load_arrays(str(f)))
        weights = _read_model_file(path / "model.safetensors", lambda f: load_tensors(str(f)))
        try:
            self = cls(**meta["params"])
            self.encoder_ = TableEncoder.from_state(meta["encoders"], arrays)
            self.prior_ = GaussianMixturePrior.from_state(
                {k[len("prior."):]: v for k, v in arrays.items() if k.startswith("prior.")})
            self.model_config_ = VAEConfig(**meta["model_config"])
            self.train_config_ = TrainConfig(**meta["train_config"])
            self.history_ = [EpochStats(**h) for h in meta["history"]]
            self._sample_seed, self.n_rows_ = meta["sample_seed"], meta["n_rows"]
            self.fit_seconds_ = meta["fit_seconds"]
            dp = meta.get("dp") or {}
            self.dp_epsilon_spent_, self.dp_delta_ = dp.get("epsilon_spent"), dp.get("delta")
            self.calibration_ = meta.get("calibration")  # absent from older models
            self.rules_ = RuleSet.from_list(meta.get("rules"), meta.get("near_rules"),
                                             meta.get("unenforced_rules"))
            self.numeric_bins_ = meta.get("numeric_bins", 0)
            self.validation_groups_ = meta.get("validation_groups")
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise ModelFileError(f"{meta_file} and {path / 'arrays.safetensors'} do not make "
                                 f"a synthesizer ({_first_line(err)}); save the model again"
                                 ) from None
        self.model_ = VAE(self.model_config_)
        try:
            self.model_.load_state_dict(weights)
        except RuntimeError as err:  # missing, unexpected or mis-shaped weights
            raise ModelFileError(f"{path / 'model.safetensors'} does not hold this model's "
                                 f"weights ({_first_line(err)}); save the model again") from None
        self.model_.eval()
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


DP_EPOCHS = 10  # DP-SGD costs ~5x a plain epoch and every epoch spends privacy budget
# Optimiser steps when `epochs` is not given. With the default sizes (a 64-wide MLP with one
# residual block, 64-wide heads), 2,500 steps fit Adult faster than 1,500 did with two
# 128-wide blocks and 128-wide heads, for a higher TSTR and rows about 2.5x cheaper to sample
# (README).
TRAIN_STEPS = 2_500
# batch_size="auto": a table's batches are about a 32nd of its rows, at least 128 and at most
# 1,024 (from 16,384 training rows on: as before). Small tables otherwise took 2 steps an
# epoch and, capped at 300 epochs, a quarter of TRAIN_STEPS. On the corpus, 128 rather than
# 1,024 lowered detection AUC on ames 0.984 -> 0.972, city_weather 0.892 -> 0.790 and
# spam_email 0.703 -> 0.651; star (8,119 rows) did best at 256 (0.937 -> 0.929; 0.943 at 128).
AUTO_BATCHES = 32
AUTO_BATCH_MIN = 128
# numeric_bins="auto": ranges, where a table has the rows to learn them. On the corpus 32
# lowered detection AUC on all 12 tables of 10,000 rows or more (covid_testing 0.739 ->
# 0.514, storms 0.912 -> 0.784) and raised it on the 4 smaller ones tried (spam_email
# 0.697 -> 0.799, police_force, 9,048 rows, 0.599 -> 0.683).
AUTO_NUMERIC_BINS = 32
AUTO_BINS_MIN_ROWS = 10_000


def _numeric_bins(value: int | str, n_rows: int, private: bool) -> int:
    if value == "auto":
        return AUTO_NUMERIC_BINS if n_rows >= AUTO_BINS_MIN_ROWS and not private else 0
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 0 or value == 1:
        raise ValueError(f"numeric_bins must be \"auto\", 0 (off) or an integer of 2 or "
                         f"more, got {value!r}")
    return int(value)


# "at most": training stops early once the validation loss stops improving (`patience`)
_EPOCH_BAR = ("{desc}: {percentage:3.0f}%|{bar}| epoch {n_fmt} of at most {total_fmt} "
              "[{elapsed}<{remaining}{postfix}]")


class _EpochBar:
    """Training's `on_epoch` (and `on_stop`): moves the bar one epoch on, shows the latest
    losses and, when training ends early, why; then calls `then`, the caller's own."""

    def __init__(self, bar: tqdm, then: Callable[[EpochStats], None] | None):
        self.bar, self.then, self.losses, self.why = bar, then, "", None

    def __call__(self, stats: EpochStats) -> None:
        # Under DP there are no validation rows: its loss is NaN
        self.losses = f"train loss {stats.train_loss:.4g}" + (
            f", val loss {stats.val_loss:.4g}" if np.isfinite(stats.val_loss) else "")
        self.bar.set_postfix_str(self.losses, refresh=False)
        self.bar.update()
        if self.then is not None:
            self.then(stats)

    def stopped(self, why: str) -> None:
        # The reason first: a line wider than the terminal loses its end
        self.why, bar = why, self.bar
        bar.bar_format = "{desc} [{elapsed}{postfix}]"
        bar.set_description_str(f"fit: stopped early at epoch {bar.n} of {bar.total} ({why})")

    def __enter__(self) -> _EpochBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        bar = self.bar
        if kind is None and self.why is None and not bar.disable and bar.n < bar.total:
            # DP-SGD's loop does not say why it ended: its only early end is the time budget
            self.stopped("time budget spent")
        bar.close()


def _counted(chunks: Iterator[pd.DataFrame], bar: tqdm) -> Iterator[pd.DataFrame]:
    for chunk in chunks:
        bar.update(len(chunk))
        yield chunk


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False


def resolve_device(device: str) -> torch.device:
    """`"auto"`: the first CUDA GPU when there is one, else the CPU; otherwise as named."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be 'auto', 'cpu' or a torch device such as 'cuda:0', "
                         f"got {device!r}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA GPU "
                         f"(use device='auto' to fall back to the CPU)")
    return resolved


def _batch_size(value: int | str, n_rows: int, private: bool) -> int:
    """"auto": about AUTO_BATCHES batches an epoch, a power of two within [AUTO_BATCH_MIN,
    TrainConfig.batch_size]; under DP, TrainConfig.batch_size (it sets the privacy
    accounting's sampling rate)."""
    if value == "auto":
        if private:
            return TrainConfig.batch_size
        wanted = 2 ** math.ceil(math.log2(max(1, n_rows / AUTO_BATCHES)))
        return int(np.clip(wanted, AUTO_BATCH_MIN, TrainConfig.batch_size))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f"batch_size must be \"auto\" or a positive integer, got {value!r}")
    return int(value)


def _context_rank(value: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 0:
        raise ValueError(f"context_rank must be 0 (one plain sum) or a positive integer, "
                         f"got {value!r}")
    return int(value)


def _auto_epochs(n_rows: int, batch_size: int) -> int:
    """Epochs for about TRAIN_STEPS steps, within [2, 300]: big tables need fewer passes,
    small ones more; early stopping on the validation rows still ends training sooner. So
    training time stops growing with the rows once an epoch is TRAIN_STEPS / 2 steps."""
    steps_per_epoch = max(1, -(-n_rows // batch_size))
    return int(np.clip(round(TRAIN_STEPS / steps_per_epoch), 2, 300))


def _validation_groups(value: str | None, df: pd.DataFrame, encoder: TableEncoder,
                       n_val: int) -> str | None:
    """The column whose equal values early stopping holds back together, or None."""
    if value is None or not n_val:
        return None
    if value == "auto":
        return event_column(df, encoder)
    if value not in df.columns:
        raise InputError(f"validation_groups: no column {value!r} in the table (its columns: "
                         f"{list(df.columns)}); give a column, \"auto\" or None")
    return value


def _kl_warmup_epochs(epochs: int) -> int:
    """KL annealing over the first fifth of training, at most 10 epochs: a fixed 10 would
    keep beta below 1 for the whole of a 10-epoch fit of a big table."""
    return int(np.clip(round(epochs / 5), 1, 10))


# As scikit-learn does: the parameters are the constructor's.
_PARAMS = tuple(name for name in inspect.signature(Synthesizer.__init__).parameters
                if name != "self")


def _check_declared(df: pd.DataFrame, texts: list[str] | None, private: bool
                    ) -> list[declared.Declared]:
    """The declared rules, each kept by every row of `df`; InputError otherwise."""
    if isinstance(texts, str):
        texts = [texts]
    rules = []
    for text in texts or []:
        try:
            rule = declared.parse(text, df.columns)
        except ValueError as err:
            raise InputError(str(err)) from None
        bad = np.flatnonzero(declared.broken(rule, df))
        if len(bad):
            shown = ", ".join(str(i) for i in df.index[bad[:5]]) + (", ..." if len(bad) > 5 else "")
            raise InputError(f"declared rule {text!r}: {len(bad)} of {len(df)} training rows "
                             f"break it (rows {shown})")
        if private and rule.kind == "lookup":
            raise InputError(f"declared rule {text!r}: a lookup table reads the real rows "
                             f"outside the differential privacy guarantee; declare orders and "
                             f"equal columns only under DP")
        rules.append(rule)
    return rules


def _check_table(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"fit expects a pandas DataFrame, got {type(df).__name__}")
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValueError(f"cannot fit on an empty table ({df.shape[0]} rows, {df.shape[1]} columns)")
    duplicated = df.columns[df.columns.duplicated()].tolist()
    if duplicated:
        raise ValueError(f"column names must be unique; repeated: {duplicated}")


_ANY = object()  # augment's plan key for rows drawn without a class condition


def _augment_plan(counts: pd.Series, balance: bool | dict[Any, float], n: int | None,
                  target: str) -> dict[Any, int]:
    """Synthetic rows to add per class of the target."""
    if balance is False:
        if n is None:
            raise ValueError("augment with balance=False needs n, the rows to add")
        return {_ANY: n}
    if balance is True:
        shares = {label: 1.0 / len(counts) for label in counts.index}
    elif isinstance(balance, dict):
        by_text = {str(label): label for label in counts.index}  # "1" names class 1, too
        balance = {k if k in counts.index else by_text.get(str(k), k): v for k, v in balance.items()}
        unknown = [k for k in balance if k not in counts.index]
        if unknown:
            raise ConditionError(f"balance names classes of {target!r} not in the rows: "
                                 f"{unknown}; classes: {counts.index.tolist()}")
        if any(not isinstance(v, (int, float)) or v < 0 for v in balance.values()) \
                or sum(balance.values()) <= 0:
            raise ValueError(f"balance shares must be non-negative numbers with a positive "
                             f"sum, got {balance}")
        total = sum(balance.values())
        shares = {label: balance.get(label, 0.0) / total for label in counts.index}
    else:
        raise ValueError(f"balance must be True, False or a dict of class shares, got {balance!r}")
    have = counts.to_dict()
    if n is None:
        # The smallest final table with these shares that keeps every real row.
        size = max(have[label] / share for label, share in shares.items() if share > 0)
        size = max(size, sum(have[label] for label, share in shares.items() if share > 0))
        return {label: max(0, int(round(size * share)) - have[label]) for label, share in shares.items()}
    # n rows to add: fill the classes furthest below their share first (water-filling).
    final = sum(have.values()) + n
    gap = {label: max(0.0, final * share - have[label]) for label, share in shares.items()}
    total_gap = sum(gap.values())
    if total_gap == 0:
        gap, total_gap = dict(shares), 1.0
    raw = {label: n * g / total_gap for label, g in gap.items()}
    plan = {label: int(np.floor(v)) for label, v in raw.items()}
    for label in sorted(raw, key=lambda k: raw[k] - plan[k], reverse=True)[:n - sum(plan.values())]:
        plan[label] += 1
    return plan


def _one_row(row: pd.DataFrame | pd.Series | dict, name: str) -> pd.DataFrame:
    if isinstance(row, pd.DataFrame):
        if len(row) != 1:
            raise ValueError(f"{name} must be one row, got {len(row)}")
        return row
    if isinstance(row, pd.Series):
        return row.to_frame().T.infer_objects()
    if isinstance(row, dict):
        return pd.DataFrame([row])
    raise TypeError(f"{name} must be a one-row DataFrame, a Series or a dict, got {type(row).__name__}")


def _is_na(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _read_model_file(file: Path, read: Callable[[Path], Any]) -> Any:
    """`read(file)`, with any failure (missing, cut short, not the format) as one line."""
    if not file.is_file():
        raise ModelFileError(f"{file} is missing: the model folder is incomplete; save or "
                             f"copy it again")
    try:
        return read(file)
    except Exception as err:  # safetensors' SafetensorError, JSONDecodeError, OSError, ...
        raise ModelFileError(f"{file} cannot be read, it is cut short or damaged "
                             f"({_first_line(err)}); save or copy the model again") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")
