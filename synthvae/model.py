"""The VAE: rows → q(z|x) = N(mean, diag(exp(logvar))) → z → p(x|z), per-column likelihoods.

Inputs are the table encoder's two blocks: normalised continuous features and class codes.
The loss is the negative ELBO (Kingma & Welling 2014, eq. 3): reconstruction negative
log-likelihood plus `beta` times KL(q(z|x) || N(0, I)).

The decoder is autoregressive over the model's outputs ("slots": discrete codes first, then
continuous features): p(x|z) = prod_s p(x_s | z, x_<s), as in PixelVAE (Gulrajani et al.
2017) but over columns. A decoder that emits every column independently given z must push all
of a row's dependencies through z, and whatever z misses comes out as mismatched pairs
(education vs education-num, relationship vs sex). Here each slot also sees a summary of the
values already drawn for earlier slots: a running sum of their embeddings (MADE-style
masking, Germain et al. 2015, with one hidden layer), so training is one pass and sampling
adds only a cheap step per slot.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

_LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig:
    n_continuous: int = 0
    cardinalities: list[int] = field(default_factory=list)
    latent_dim: int = 32
    hidden_dim: int = 256
    n_blocks: int = 2          # residual blocks in the encoder and in the decoder
    embedding_dim: int = 16    # per discrete input column, in the encoder
    head_dim: int = 128        # width of the autoregressive output heads
    head_layers: int = 0       # extra residual layers in the heads, shared by every slot
    slot_order: list[int] = field(default_factory=list)  # decoding order; empty: as laid out
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

    Slot s gets g_s = silu(LayerNorm(A h + sum_{r<s} e_r(x_r))), then its own linear head:
    softmax logits for a discrete slot, a Gaussian mean and log-variance for a continuous one.
    e_r embeds a class code (a lookup) or a continuous value (value * w_r + b_r). Slots run
    in `slot_order` (indices into [discrete slots..., continuous slots...]), which follows
    the table's column order, so a target column placed last sees every other column.
    """

    def __init__(self, hidden_dim: int, n_continuous: int, cardinalities: list[int], width: int,
                 slot_order: list[int] | None = None, n_layers: int = 0):
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.n_discrete, self.n_continuous = len(cardinalities), n_continuous
        n_slots = self.n_discrete + n_continuous
        order = torch.tensor(slot_order if slot_order else range(n_slots), dtype=torch.long)
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("rank", torch.argsort(order), persistent=False)
        cards = torch.tensor(self.cardinalities, dtype=torch.long)
        self.register_buffer("offsets", torch.cumsum(cards, 0) - cards, persistent=False)
        self.from_hidden = nn.Linear(hidden_dim, width)
        self.norm = nn.LayerNorm(width)
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(n_layers))
        self.code_embedding = nn.Embedding(max(int(cards.sum()), 1), width)
        self.value_weight = nn.Parameter(0.1 * torch.randn(n_continuous, width))
        self.value_bias = nn.Parameter(torch.zeros(n_continuous, width))
        self.discrete_heads = nn.ModuleList(nn.Linear(width, c) for c in self.cardinalities)
        self.continuous_weight = nn.Parameter(torch.randn(n_continuous, width, 2) / math.sqrt(width))
        self.continuous_bias = nn.Parameter(torch.zeros(n_continuous, 2))

    def _state(self, pre: torch.Tensor) -> torch.Tensor:
        g = F.silu(self.norm(pre))
        for layer in self.layers:
            g = g + F.silu(layer(g))
        return g

    def _continuous_params(self, g: torch.Tensor, slots: slice | int) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.einsum("b...w,...wo->b...o", g, self.continuous_weight[slots]) + self.continuous_bias[slots]
        return out[..., 0], out[..., 1].clamp(-10.0, 4.0)

    def forward(self, h: torch.Tensor, continuous: torch.Tensor, discrete: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Teacher forcing: every slot conditioned on the true values of the slots before it."""
        codes = self.code_embedding(discrete + self.offsets)
        values = continuous[:, :, None] * self.value_weight + self.value_bias
        embedded = torch.cat([codes, values], dim=1)[:, self.order]
        context = (torch.cumsum(embedded, dim=1) - embedded)[:, self.rank]  # slots before s only
        g = self._state(self.from_hidden(h)[:, None, :] + context)
        logits = [head(g[:, j]) for j, head in enumerate(self.discrete_heads)]
        mean, logvar = self._continuous_params(g[:, self.n_discrete:], slice(None))
        return mean, logvar, logits

    @torch.no_grad()
    def sample(self, h: torch.Tensor, generator: torch.Generator | None,
               temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws slot by slot; classes by Gumbel-max (an exact softmax sample, never argmax)."""
        base = self.from_hidden(h)
        context = torch.zeros_like(base)
        codes = torch.zeros(len(h), self.n_discrete, dtype=torch.long)
        values = torch.zeros(len(h), self.n_continuous)
        for slot in self.order.tolist():
            g = self._state(base + context)
            if slot < self.n_discrete:
                logits = self.discrete_heads[slot](g)
                u = torch.rand(logits.shape, generator=generator).clamp_(1e-10, 1.0)
                codes[:, slot] = torch.argmax(logits / temperature - torch.log(-torch.log(u)), dim=1)
                context += self.code_embedding(codes[:, slot] + self.offsets[slot])
            else:
                k = slot - self.n_discrete
                mean, logvar = self._continuous_params(g, k)
                noise = torch.randn(mean.shape, generator=generator)
                values[:, k] = mean + temperature * noise * torch.exp(0.5 * logvar)
                context += values[:, k, None] * self.value_weight[k] + self.value_bias[k]
        return values, codes


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
                                         cfg.head_dim, cfg.slot_order, cfg.head_layers)

    def encode(self, continuous: torch.Tensor, discrete: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_continuous), (B, n_discrete) → latent mean and log-variance, each (B, latent)."""
        embedded = self.embedding(discrete + self.offsets).flatten(1)
        h = self.encoder(torch.cat([continuous, embedded], dim=1))
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
        mean, logvar = self.encode(continuous, discrete)
        z = self.reparameterize(mean, logvar, generator)
        nll = self.reconstruction_nll(continuous, discrete, z).sum(1)
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1.0 - logvar).sum(1)
        return {"loss": (nll + beta * kl).mean(), "nll": nll.mean(), "kl": kl.mean(),
                "elbo": -(nll + kl)}

    @torch.no_grad()
    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None,
                 temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode latents into sampled values: (B, n_continuous) floats, (B, n_discrete) codes."""
        return self.heads.sample(self.decoder(z), generator, temperature)
