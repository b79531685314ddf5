"""The VAE: rows → q(z|x) = N(mean, diag(exp(logvar))) → z → p(x|z), per-column likelihoods.

Inputs are the table encoder's two blocks: normalised continuous features and class codes.
The decoder gives, per row, a Gaussian (mean and log-variance) for every continuous feature
and softmax logits for every discrete output. The loss is the negative ELBO (Kingma & Welling
2014, eq. 3): reconstruction negative log-likelihood plus `beta` times KL(q(z|x) || N(0, I)).
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
    embedding_dim: int = 16    # per discrete input column
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
        self.to_cont_mean = nn.Linear(cfg.hidden_dim, cfg.n_continuous)
        self.to_cont_logvar = nn.Linear(cfg.hidden_dim, cfg.n_continuous)
        self.to_logits = nn.Linear(cfg.hidden_dim, max(int(cards.sum()), 1))

    def encode(self, continuous: torch.Tensor, discrete: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_continuous), (B, n_discrete) → latent mean and log-variance, each (B, latent)."""
        embedded = self.embedding(discrete + self.offsets).flatten(1)
        h = self.encoder(torch.cat([continuous, embedded], dim=1))
        return self.to_mean(h), self.to_logvar(h).clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(B, latent) → continuous means and log-variances, and one logits tensor per column."""
        h = self.decoder(z)
        cont_logvar = self.to_cont_logvar(h).clamp(-10.0, 4.0)
        logits = (list(self.to_logits(h).split(self.cfg.cardinalities, dim=1))
                  if self.cfg.cardinalities else [])
        return self.to_cont_mean(h), cont_logvar, logits

    @staticmethod
    def reparameterize(mean: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + eps * torch.exp(0.5 * logvar)

    def reconstruction_nll(self, continuous: torch.Tensor, discrete: torch.Tensor,
                           decoded: tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]
                           ) -> torch.Tensor:
        """Per row and per model output: (B, n_continuous + n_discrete) negative log-likelihoods."""
        cont_mean, cont_logvar, logits = decoded
        gaussian = 0.5 * ((continuous - cont_mean) ** 2 * torch.exp(-cont_logvar)
                          + cont_logvar + _LOG_2PI)
        categorical = [F.cross_entropy(lg, discrete[:, j], reduction="none")
                       for j, lg in enumerate(logits)]
        return torch.cat([gaussian, torch.stack(categorical, 1) if categorical else
                          gaussian.new_zeros(len(gaussian), 0)], dim=1)

    def forward(self, continuous: torch.Tensor, discrete: torch.Tensor, beta: float = 1.0,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        mean, logvar = self.encode(continuous, discrete)
        z = self.reparameterize(mean, logvar, generator)
        nll = self.reconstruction_nll(continuous, discrete, self.decode(z)).sum(1)
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1.0 - logvar).sum(1)
        return {"loss": (nll + beta * kl).mean(), "nll": nll.mean(), "kl": kl.mean(),
                "elbo": -(nll + kl)}

    @torch.no_grad()
    def generate(self, z: torch.Tensor, generator: torch.Generator | None = None,
                 temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode latents and *sample* each column's value (never argmax): continuous values
        from their Gaussians, classes from their softmax (Gumbel-max, which is exact)."""
        cont_mean, cont_logvar, logits = self.decode(z)
        noise = torch.randn(cont_mean.shape, generator=generator)
        continuous = cont_mean + temperature * noise * torch.exp(0.5 * cont_logvar)
        codes = []
        for lg in logits:
            u = torch.rand(lg.shape, generator=generator).clamp_(1e-10, 1.0)
            codes.append(torch.argmax(lg / temperature - torch.log(-torch.log(u)), dim=1))
        discrete = torch.stack(codes, 1) if codes else torch.zeros(len(z), 0, dtype=torch.long)
        return continuous, discrete
