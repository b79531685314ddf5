"""The VAE: rows → q(z|x) = N(mean, diag(exp(logvar))) → z → p(x|z), per-column likelihoods.

Inputs are the table encoder's two blocks: normalised continuous features and class codes.
The loss is the negative ELBO (Kingma & Welling 2014, eq. 3): reconstruction negative
log-likelihood plus `beta` times KL(q(z|x) || N(0, I)).

The decoder is autoregressive over the model's outputs ("slots": discrete codes first, then
continuous features): p(x|z) = prod_s p(x_s | z, x_<s), as in PixelVAE (Gulrajani et al.
2017) but over columns. A decoder that emits every column independently given z must push all
of a row's dependencies through z, and whatever z misses comes out as mismatched pairs
(education vs education-num, relationship vs sex). Here each slot also sees a summary of the
values already drawn for earlier slots: a few running sums of their embeddings, each
weighted by what the slot learned to listen to (MADE-style masking, Germain et al. 2015,
with one hidden layer), so training is one pass and sampling adds only a cheap step per slot.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import fused

_LOG_2PI = math.log(2 * math.pi)
GENERATE_BLOCK = 8192  # rows the PyTorch sampling loop decodes together
MLP_BLOCK = 2048  # rows through the decoder MLP at once: its activations then stay in L2


@dataclass
class VAEConfig:
    n_continuous: int = 0
    cardinalities: list[int] = field(default_factory=list)
    latent_dim: int = 32
    hidden_dim: int = 64
    n_blocks: int = 1          # residual blocks in the encoder and in the decoder
    embedding_dim: int = 16    # per discrete input column, in the encoder
    head_dim: int = 64         # width of the autoregressive output heads
    head_layers: int = 0       # extra residual layers in the heads, shared by every slot
    slot_order: list[int] = field(default_factory=list)  # decoding order; empty: as laid out
    free_bits: float = 4.0     # nats of KL per row not charged (spread over the dimensions)
    encoder_dropout: float = 0.0  # share of inputs hidden from the encoder while training
    value_bins: int = 32       # bins of each continuous value's context embedding; 0: linear only
    bin_edges: list[list[float]] = field(default_factory=list)  # per continuous slot, value_bins - 1
    context_rank: int = 0      # mixes of earlier slots each slot reads; 0: one plain sum
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class ResidualBlock(nn.Module):
    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.dropout(F.silu(self.fc1(self.norm(x)))))


class MLP(nn.Module):
    def __init__(self, in_dim: int, cfg: VAEConfig):
        super().__init__()
        self.proj = nn.Linear(in_dim, cfg.hidden_dim)
        self.blocks = nn.Sequential(*[ResidualBlock(cfg.hidden_dim, cfg.dropout)
                                      for _ in range(cfg.n_blocks)])
        self.norm = nn.LayerNorm(cfg.hidden_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.norm(self.blocks(self.proj(x))))


class AutoregressiveHeads(nn.Module):
    """Per-slot output distributions from the decoder state h and the earlier slots' values.

    Slot s gets g_s = silu(LayerNorm(A h + sum_{r<s} m_sr e_r(x_r))), then its own linear head:
    softmax logits for a discrete slot, a Gaussian mean and log-variance for a continuous one.
    e_r embeds a class code (a lookup) or a continuous value (value * w_r + b_r); m_sr is 1,
    or with `context_rank` k a learned weight of rank k (see below). Slots run
    in `slot_order` (indices into [discrete slots..., continuous slots...]), which follows
    the table's column order, so a target column placed last sees every other column.
    """

    def __init__(self, hidden_dim: int, n_continuous: int, cardinalities: list[int], width: int,
                 slot_order: list[int] | None = None, n_layers: int = 0, value_bins: int = 0,
                 bin_edges: list[list[float]] | None = None, context_rank: int = 0):
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.n_discrete, self.n_continuous = len(cardinalities), n_continuous
        n_slots = self.n_discrete + n_continuous
        order = torch.tensor(slot_order if slot_order else range(n_slots), dtype=torch.long)
        self.register_buffer("order", order, persistent=False)
        rank = torch.argsort(order)
        # before[s, r] = 1 when slot r is decoded before slot s: the context is one batched
        # matmul, which trains several times faster than cumsum over a gathered permutation.
        self.register_buffer("before", (rank[None, :] < rank[:, None]).float(), persistent=False)
        # With a rank k, slot r writes its embedding into k running sums with weights
        # mix_a[r] and slot s reads them with weights mix_b[s]: slot s's context is then
        # sum_{r<s} (mix_b mix_a^T)[s, r] e_r, a learned weight per pair of slots, so a
        # column can listen to the few columns it depends on. In one plain sum, on a table
        # of 74 columns, a house's latitude heard its neighbourhood among 72 others and came
        # back spread over the whole town. Both start as one sum of weight 1 plus noise.
        self.mix_a = self.mix_b = None
        if context_rank > 0:
            a, b = 0.1 * torch.randn(2, n_slots, context_rank)
            a[:, 0] = b[:, 0] = 1.0
            self.mix_a, self.mix_b = nn.Parameter(a), nn.Parameter(b)
        cards = torch.tensor(self.cardinalities, dtype=torch.long)
        self.register_buffer("offsets", torch.cumsum(cards, 0) - cards, persistent=False)
        # Each continuous value also gets the embedding of its bin, so later slots can depend
        # on it non-linearly (a threshold on capital-gain, say), which a linear value
        # embedding alone cannot. `bin_edges` come from the column's distinct values (so a
        # spike such as capital-gain's zeros is one bin, and its rare tail gets the others);
        # without them, bins are equiprobable under N(0, 1), the quantile-normal marginal.
        self.value_bins = value_bins
        if bin_edges:
            edges = torch.tensor(bin_edges, dtype=torch.float32)
        else:
            grid = torch.arange(1, max(value_bins, 1)) / max(value_bins, 1)
            edges = torch.distributions.Normal(0.0, 1.0).icdf(grid).repeat(n_continuous, 1)
        self.register_buffer("bin_edges", edges.contiguous(), persistent=False)
        self.register_buffer("bin_offsets", torch.arange(n_continuous) * max(value_bins, 1),
                             persistent=False)
        self.bin_embedding = nn.Embedding(n_continuous * value_bins, width) \
            if value_bins > 1 and n_continuous else None
        self.from_hidden = nn.Linear(hidden_dim, width)
        self.norm = nn.LayerNorm(width)
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(n_layers))
        self.code_embedding = nn.Embedding(max(int(cards.sum()), 1), width)
        self.value_weight = nn.Parameter(0.1 * torch.randn(n_continuous, width))
        self.value_bias = nn.Parameter(torch.zeros(n_continuous, width))
        self.discrete_heads = nn.ModuleList(nn.Linear(width, c) for c in self.cardinalities)
        self.continuous_weight = nn.Parameter(torch.randn(n_continuous, width, 2) / math.sqrt(width))
        self.continuous_bias = nn.Parameter(torch.zeros(n_continuous, 2))

    def _mixing(self) -> torch.Tensor:
        """(slot, earlier slot) weights of the context sum, zero where r is not before s."""
        if self.mix_a is None:
            return self.before
        return self.before * (self.mix_b @ self.mix_a.T)

    def _state(self, pre: torch.Tensor) -> torch.Tensor:
        g = F.silu(self.norm(pre))
        for layer in self.layers:
            g = g + F.silu(layer(g))
        return g

    def _continuous_params(self, g: torch.Tensor, slots: slice | int) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.einsum("b...w,...wo->b...o", g, self.continuous_weight[slots]) + self.continuous_bias[slots]
        return out[..., 0], out[..., 1].clamp(-10.0, 4.0)

    def _embed_values(self, values: torch.Tensor, slots: slice | int) -> torch.Tensor:
        """(B, k) continuous values → (B, k, width) context embeddings (or (B, width) for one)."""
        out = values[..., None] * self.value_weight[slots] + self.value_bias[slots]
        if self.bin_embedding is not None:
            if isinstance(slots, int):
                bins = torch.searchsorted(self.bin_edges[slots], values.detach().contiguous())
            else:
                bins = torch.searchsorted(self.bin_edges[slots], values.detach().T.contiguous()).T
            out = out + self.bin_embedding(bins + self.bin_offsets[slots])
        return out

    def forward(self, h: torch.Tensor, continuous: torch.Tensor, discrete: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Teacher forcing: every slot conditioned on the true values of the slots before it.

        Slots lead (slot, row, width): the context is then one plain matmul over slots and
        each slot's state a contiguous block, with no copies in between."""
        codes = self.code_embedding((discrete + self.offsets).T)
        values = continuous.T[..., None] * self.value_weight[:, None] + self.value_bias[:, None]
        if self.bin_embedding is not None:
            bins = torch.searchsorted(self.bin_edges, continuous.detach().T.contiguous())
            values = values + self.bin_embedding(bins + self.bin_offsets[:, None])
        embedded = torch.cat([codes, values], dim=0)
        n_slots, n_rows, width = embedded.shape
        # n_rows * width, not -1: a table of constant columns only has no slots to reshape
        context = (self._mixing() @ embedded.reshape(n_slots, n_rows * width)).reshape(
            n_slots, n_rows, width)
        g = self._state(self.from_hidden(h)[None] + context)  # slots before s only, via `before`
        # split/unbind, not indexing: their backward is one cat/stack, not a zero-fill per slot
        g_discrete, g_continuous = g.split([self.n_discrete, self.n_continuous])
        logits = [head(g_j) for g_j, head in zip(g_discrete.unbind(0), self.discrete_heads)]
        out = torch.baddbmm(self.continuous_bias[:, None], g_continuous, self.continuous_weight)
        return out[..., 0].T, out[..., 1].T.clamp(-10.0, 4.0), logits

    @property
    def kernel_draws(self) -> bool:
        """Whether these heads' plain draws on the CPU go through `synthvae.fused`."""
        return not len(self.layers) and fused.enabled()

    def fusable(self, h: torch.Tensor, constraints: Constraints | None, greedy: bool) -> bool:
        """Whether `synthvae.fused` can draw these rows: plain sampling on the CPU."""
        return (not greedy and not (constraints and not constraints.empty)
                and h.device.type == "cpu" and self.kernel_draws)

    def noise(self, n: int, generator: torch.Generator | None, device: torch.device | str = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each row's randomness, drawn up front: one uniform per discrete slot, one normal
        per continuous slot."""
        return (torch.rand(n, self.n_discrete, generator=generator, device=device),
                torch.randn(n, self.n_continuous, generator=generator, device=device))

    @torch.no_grad()
    def sample(self, h: torch.Tensor, generator: torch.Generator | None,
               temperature: float = 1.0, constraints: Constraints | None = None,
               greedy: bool = False, noise: tuple[torch.Tensor, torch.Tensor] | None = None,
               fuse: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draws slot by slot: classes by inverse CDF (an exact softmax sample), values from
        their Gaussians; `greedy` takes each slot's most likely class or its mean instead.

        Each row's randomness (`noise`, drawn here when not given) is fixed up front, one
        uniform per discrete slot and one normal per continuous slot, so the fused CPU
        kernel (`synthvae.fused`), which takes the plain case, draws the very same rows as
        this loop.

        `constraints` restricts some slots (allowed classes, or a value interval); each such
        slot is drawn from its distribution renormalised to what is allowed, and the log of
        the probability mass that was allowed is summed per row into the returned log-weight:
        weighting rows by it turns these draws into draws conditioned on the constraints
        (sequential importance sampling).
        """
        n = len(h)
        u, eps = noise if noise is not None else self.noise(n, generator, h.device)
        base = self.from_hidden(h)
        log_weight = base.new_zeros(n)
        constraints = constraints or Constraints()
        if fuse and self.fusable(h, constraints, greedy):
            values, codes = fused.sample_slots(self, base, u, eps, temperature)
            return values, codes, log_weight
        context = torch.zeros_like(base)
        sums = None if self.mix_a is None else base.new_zeros(self.mix_a.shape[1], *base.shape)
        codes = torch.zeros(n, self.n_discrete, dtype=torch.long, device=h.device)
        values = base.new_zeros(n, self.n_continuous)
        for slot in self.order.tolist():
            if sums is not None:
                context = torch.einsum("k,knw->nw", self.mix_b[slot], sums)
            g = self._state(base + context)
            if slot < self.n_discrete:
                logits = self.discrete_heads[slot](g) / temperature
                given = constraints.codes.get(slot)
                allowed = constraints.classes.get(slot)
                if allowed is not None:
                    masked = logits.masked_fill(~allowed, -math.inf)
                    log_weight += torch.logsumexp(masked, 1) - torch.logsumexp(logits, 1)
                    logits = masked
                if given is not None:  # the row's own value, weighted by how likely it was
                    log_weight += torch.log_softmax(logits, 1).gather(1, given[:, None])[:, 0]
                    code = given
                elif greedy:
                    code = torch.argmax(logits, dim=1)
                else:
                    cdf = torch.softmax(logits, 1).cumsum(1)
                    target = u[:, slot:slot + 1] * cdf[:, -1:]
                    code = (cdf[:, :-1] <= target).sum(1)
                    if allowed is not None:  # rounding must never land on a forbidden class
                        last = int(torch.nonzero(allowed)[-1])
                        code = torch.where(allowed[code], code, last)
                codes[:, slot] = code
                e = self.code_embedding(code + self.offsets[slot])
                if sums is None:
                    context += e
                else:
                    sums += self.mix_a[slot][:, None, None] * e
            else:
                k = slot - self.n_discrete
                mean, logvar = self._continuous_params(g, k)
                std = temperature * torch.exp(0.5 * logvar)
                bounds = constraints.intervals.get(k)
                given = constraints.values.get(k)
                if given is not None:
                    log_weight += (-0.5 * ((given - mean) / std) ** 2 - torch.log(std)
                                   - 0.5 * _LOG_2PI)
                    values[:, k] = given
                elif bounds is not None:
                    a, b = (bounds[0] - mean) / std, (bounds[1] - mean) / std
                    low, high = torch.special.ndtr(a), torch.special.ndtr(b)
                    log_weight += torch.log((high - low).clamp_min(1e-30))
                    # Phi(eps) is uniform: the truncated draw reuses the row's normal
                    q = 0.5 if greedy else torch.special.ndtr(eps[:, k])
                    p = (low + q * (high - low)).clamp(1e-12, 1 - 1e-12)
                    values[:, k] = torch.minimum(torch.maximum(mean + std * torch.special.ndtri(p),
                                                 mean.new_tensor(bounds[0])), mean.new_tensor(bounds[1]))
                elif greedy:
                    values[:, k] = mean
                else:
                    values[:, k] = mean + std * eps[:, k]
                e = self._embed_values(values[:, k], k)
                if sums is None:
                    context += e
                else:
                    sums += self.mix_a[slot][:, None, None] * e
        return values, codes, log_weight


@dataclass
class Constraints:
    """Allowed values per model slot: `classes[j]` a bool mask over discrete slot j's classes,
    `intervals[k]` an inclusive (low, high) range for continuous slot k. `codes[j]` and
    `values[k]` give each row its own value of a slot instead (one entry per row): the slot
    is not drawn, and the log-weight gains the value's log-likelihood, so weighting draws by
    it conditions them on the given values."""
    classes: dict[int, torch.Tensor] = field(default_factory=dict)
    intervals: dict[int, tuple[float, float]] = field(default_factory=dict)
    codes: dict[int, torch.Tensor] = field(default_factory=dict)
    values: dict[int, torch.Tensor] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.classes or self.intervals or self.codes or self.values)

    def rows(self, part: slice) -> Constraints:
        """These constraints for the rows in `part` (the per-row ones cut to them)."""
        return Constraints(self.classes, self.intervals,
                           {j: c[part] for j, c in self.codes.items()},
                           {k: v[part] for k, v in self.values.items()})


class VAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.cfg = cfg
        cards = torch.tensor(cfg.cardinalities, dtype=torch.long)
        # One embedding table for all discrete columns; each column's codes are offset into it.
        self.register_buffer("offsets", torch.cumsum(cards, 0) - cards, persistent=False)
        self.embedding = nn.Embedding(max(int(cards.sum()), 1), cfg.embedding_dim)
        in_dim = cfg.n_continuous + len(cfg.cardinalities) * cfg.embedding_dim
        self.encoder = MLP(in_dim, cfg)
        self.to_mean = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.to_logvar = nn.Linear(cfg.hidden_dim, cfg.latent_dim)
        self.decoder = MLP(cfg.latent_dim, cfg)
        self.heads = AutoregressiveHeads(cfg.hidden_dim, cfg.n_continuous, cfg.cardinalities,
                                         cfg.head_dim, cfg.slot_order, cfg.head_layers,
                                         cfg.value_bins, cfg.bin_edges, cfg.context_rank)

    def encode(self, continuous: torch.Tensor, discrete: torch.Tensor,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_continuous), (B, n_discrete) → latent mean and log-variance, each (B, latent)."""
        embedded = self.embedding(discrete + self.offsets)
        if self.training and self.cfg.encoder_dropout > 0:
            # Hiding some inputs from the encoder makes the decoder's heads learn each column
            # from the other columns too, instead of copying it out of z.
            p = self.cfg.encoder_dropout
            keep_d = torch.rand(discrete.shape, generator=generator) >= p
            keep_c = torch.rand(continuous.shape, generator=generator) >= p
            embedded = embedded * keep_d[..., None]
            continuous = continuous * keep_c
        h = self.encoder(torch.cat([continuous, embedded.flatten(1)], dim=1))
        return self.to_mean(h), self.to_logvar(h).clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor, continuous: torch.Tensor, discrete: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(B, latent) and the row's values → per-slot distributions: continuous means and
        log-variances (B, n_continuous), and one (B, cardinality) logits tensor per code."""
        return self.heads(self.decoder(z), continuous, discrete)

    @staticmethod
    def reparameterize(mean: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + eps * torch.exp(0.5 * logvar)

    def reconstruction_nll(self, continuous: torch.Tensor, discrete: torch.Tensor,
                           z: torch.Tensor) -> torch.Tensor:
        """Per row and per model output: (B, n_discrete + n_continuous) negative log-likelihoods."""
        cont_mean, cont_logvar, logits = self.decode(z, continuous, discrete)
        gaussian = 0.5 * ((continuous - cont_mean) ** 2 * torch.exp(-cont_logvar)
                          + cont_logvar + _LOG_2PI)
        categorical = [F.cross_entropy(lg, discrete[:, j], reduction="none")
                       for j, lg in enumerate(logits)]
        return torch.cat([torch.stack(categorical, 1) if categorical else
                          gaussian.new_zeros(len(gaussian), 0), gaussian], dim=1)

    def forward(self, continuous: torch.Tensor, discrete: torch.Tensor, beta: float = 1.0,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        mean, logvar = self.encode(continuous, discrete, generator)
        z = self.reparameterize(mean, logvar, generator)
        nll = self.reconstruction_nll(continuous, discrete, z).sum(1)
        kl_dims = 0.5 * (mean ** 2 + logvar.exp() - 1.0 - logvar)
        kl = kl_dims.sum(1)
        # Free bits (Kingma et al. 2016): each latent dimension's first free_bits / latent_dim
        # nats are not charged, so an autoregressive decoder cannot win by ignoring z.
        floor = self.cfg.free_bits / self.cfg.latent_dim
        charged = kl_dims.mean(0).clamp_min(floor).sum() if floor > 0 else kl.mean()
        return {"loss": nll.mean() + beta * charged, "nll": nll.mean(), "kl": kl.mean(),
                "elbo": -(nll + kl)}

    def start_kernel_threads(self) -> None:
        """Call on the thread that will hand draws to worker threads, before it does: see
        `fused.start_threads`. Nothing to start where the heads are drawn in PyTorch."""
        if self.heads.kernel_draws:
            fused.start_threads()

    @torch.no_grad()
    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None,
                 temperature: float = 1.0, constraints: Constraints | None = None,
                 greedy: bool = False, fuse: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode latents into drawn values: (B, n_continuous) floats, (B, n_discrete) codes,
        and (B,) log-weights of the constraints (zeros without any); see `heads.sample`.
        `fuse=False` keeps to PyTorch (the same rows; no wait on the kernel's compile)."""
        u, eps = self.heads.noise(len(z), generator, z.device)
        if fuse and self.heads.fusable(z, constraints, greedy):
            # The MLP runs in small blocks, whose activations stay in cache (about 2x faster
            # than 8,192-row blocks), and each block goes straight on to the kernel.
            draw = fused.SlotSampler(self.heads, temperature)
            values = np.empty((len(z), self.heads.n_continuous), np.float32)
            codes = np.empty((len(z), self.heads.n_discrete), np.int64)
            for start in range(0, len(z), MLP_BLOCK):
                rows = slice(start, start + MLP_BLOCK)
                draw(fused.project_t(self.heads, self.decoder(z[rows])), u[rows], eps[rows],
                     values[rows], codes[rows])
            return torch.from_numpy(values), torch.from_numpy(codes), z.new_zeros(len(z))
        # Slot-by-slot decoding is memory-bound; blocks that stay in cache run ~2x faster.
        constraints = constraints or Constraints()
        parts = [self.heads.sample(self.decoder(z[rows]), generator, temperature,
                                   constraints.rows(rows), greedy, noise=(u[rows], eps[rows]),
                                   fuse=fuse)
                 for rows in (slice(i, i + GENERATE_BLOCK)
                              for i in range(0, len(z), GENERATE_BLOCK))]
        if not parts:
            return self.heads.sample(self.decoder(z), generator, temperature, constraints,
                                     greedy, noise=(u, eps), fuse=fuse)
        return tuple(torch.cat(p) for p in zip(*parts))
