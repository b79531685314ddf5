"""DP-SGD on Adult: quality of synthetic rows against the privacy budget epsilon.

    python benchmarks/dp.py [--epochs 10] [--epsilons 1,3,10] [--delta 1e-5] [--rows 20000]
                            [--seed 0] [--json out.json]

For each epsilon, and once without DP, fits a VAE on the bundled Adult training split
(32,561 rows) for a fixed number of epochs (`synthvae.dp.train_private` with Opacus'
RDP accountant; the non-private run uses `synthvae.train.train`), draws `--rows` rows by
decoding z ~ N(0, I) (the prior a private model must use: a prior fitted on the real rows'
latents is not covered by DP), and scores them with the independent yardstick in
../shared/yardstick (SDMetrics quality). The model and training settings are the
Synthesizer's defaults (latent 32, batch 1024, learning rate 3e-3), which is what
`Synthesizer(dp_epsilon=...)` trains, except the width: hidden 128 here, the Synthesizer's
default until its MLP went to 64 wide (`--hidden-dim 64` for that; the README's DP figures
are for 128); `--hidden-dim 256` gives VAEConfig's own default
at about twice the DP cost. The column encoders are fitted on the real table in every
run (not covered by DP; see synthvae/dp.py). The non-private run trains the same fixed
number of epochs, keeping the epoch with the best loss on the training rows (in practice
the last one, under the OneCycle schedule).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
YARDSTICK = ROOT.parent / "shared" / "yardstick"

from synthvae.columns import TableEncoder  # noqa: E402
from synthvae.dp import train_private  # noqa: E402
from synthvae.model import VAE, VAEConfig  # noqa: E402
from synthvae.train import TrainConfig, train  # noqa: E402


class _NoiseLog(logging.Handler):
    """Keeps the noise multiplier that train_private logs."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.sigma = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("DP-SGD: noise multiplier"):
            self.sigma = float(record.args[0])


def run(df: pd.DataFrame, epsilon: float | None, args, score) -> dict:
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    enc_seed, torch_seed, sample_seed = (int(s.generate_state(1)[0]) for s in seeds)
    rng = np.random.default_rng(enc_seed)
    start = time.perf_counter()
    enc = TableEncoder().fit(df, rng)
    cont, disc = enc.encode(df, rng)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        model = VAE(VAEConfig(n_continuous=enc.n_continuous, cardinalities=enc.cardinalities,
                              hidden_dim=args.hidden_dim, slot_order=enc.slot_order))
    cfg = TrainConfig(epochs=args.epochs, batch_size=1024, learning_rate=3e-3,
                      patience=args.epochs + 1)
    generator = torch.Generator().manual_seed(torch_seed)
    noise = _NoiseLog()
    logging.getLogger("synthvae.dp").addHandler(noise)
    logging.getLogger("synthvae.dp").setLevel(logging.INFO)
    try:
        if epsilon is None:
            history = train(model, (cont, disc), (cont, disc), cfg, generator)
            spent = None
        else:
            history, spent = train_private(model, (cont, disc), cfg, generator, epsilon,
                                           args.delta)
    finally:
        logging.getLogger("synthvae.dp").removeHandler(noise)
    fit_s = time.perf_counter() - start

    gen = torch.Generator().manual_seed(sample_seed)
    z = torch.randn(args.rows, model.cfg.latent_dim, generator=gen)
    c, d, _ = model.generate(z, gen)
    synth = enc.decode(c.numpy(), d.numpy(), np.random.default_rng(sample_seed))
    q = score.quality(df, synth)
    return {"epsilon": epsilon, "epsilon_spent": spent, "noise_multiplier": noise.sigma,
            "quality": q["quality"], "shapes": q["shapes"], "trends": q["trends"],
            "final_train_loss": history[-1].train_loss, "epochs": len(history),
            "fit_s": round(fit_s, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--epsilons", default="1,3,10")
    parser.add_argument("--delta", type=float, default=1e-5)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--no-baseline", action="store_true", help="skip the non-private run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not (YARDSTICK / "score.py").is_file():
        sys.exit(f"the yardstick is missing: {YARDSTICK}/score.py")
    sys.path.insert(0, str(YARDSTICK))
    import score  # the anchors' own scorer

    df = pd.read_csv(ROOT / "data" / "adult.csv.gz")
    budgets: list[float | None] = [float(e) for e in args.epsilons.split(",") if e.strip()]
    if not args.no_baseline:
        budgets.append(None)
    print(f"Adult, {len(df)} rows; {args.epochs} epochs, batch 1024, hidden {args.hidden_dim}; "
          f"delta {args.delta:g}; {args.rows} rows drawn from z ~ N(0, I); "
          f"{torch.get_num_threads()} torch thread(s)", flush=True)
    results = []
    for eps in budgets:
        r = run(df, eps, args, score)
        results.append(r)
        print(f"  done: epsilon {eps}: quality {r['quality']:.4f} in {r['fit_s']:.0f} s",
              flush=True)

    print(f"\n{'epsilon':>8} {'spent':>7} {'sigma':>6} {'quality':>8} {'shapes':>7} "
          f"{'trends':>7} {'loss':>7} {'fit s':>7}")
    for r in results:
        eps = "no DP" if r["epsilon"] is None else f"{r['epsilon']:g}"
        spent = "-" if r["epsilon_spent"] is None else f"{r['epsilon_spent']:.3f}"
        sigma = "-" if r["noise_multiplier"] is None else f"{r['noise_multiplier']:.3f}"
        print(f"{eps:>8} {spent:>7} {sigma:>6} {r['quality']:8.4f} {r['shapes']:7.4f} "
              f"{r['trends']:7.4f} {r['final_train_loss']:7.2f} {r['fit_s']:7.1f}")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)},
                                         "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
