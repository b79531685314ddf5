"""The fused CPU kernel draws what the PyTorch loop draws from the same randomness."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synthvae import fused
from synthvae.model import VAE, VAEConfig

CASES = {
    "mixed, binned values": dict(n_continuous=3, cardinalities=[2, 7, 42, 1], value_bins=8),
    "mixed, linear values": dict(n_continuous=2, cardinalities=[5, 3], value_bins=0),
    "discrete only": dict(n_continuous=0, cardinalities=[4, 9]),
    "continuous only": dict(n_continuous=4, cardinalities=[], value_bins=16),
    "classes wider than the heads": dict(n_continuous=1, cardinalities=[300, 2], head_dim=64),
    "mixed context, binned values": dict(n_continuous=3, cardinalities=[2, 7, 42, 1],
                                         value_bins=8, context_rank=4),
    "mixed context of one sum": dict(n_continuous=2, cardinalities=[5, 3], context_rank=1),
}


def _model(seed: int = 0, **cfg) -> VAE:
    torch.manual_seed(seed)
    n_slots = cfg.get("n_continuous", 0) + len(cfg.get("cardinalities", []))
    order = list(np.random.default_rng(seed).permutation(n_slots))  # not the laid-out order
    model = VAE(VAEConfig(latent_dim=8, hidden_dim=32, slot_order=[int(i) for i in order], **cfg))
    # Random heads are flat; bigger weights give peaked, row-dependent distributions.
    with torch.no_grad():
        for p in model.heads.parameters():
            p.mul_(3.0)
    return model.eval()


def _both(model: VAE, n: int, temperature: float = 1.0, seed: int = 0):
    z = torch.randn(n, model.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        h = model.decoder(z)
        fused_draw = model.heads.sample(h, torch.Generator().manual_seed(1), temperature)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SYNTHVAE_FUSED", "0")
            torch_draw = model.heads.sample(h, torch.Generator().manual_seed(1), temperature)
    return fused_draw, torch_draw


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_fused_kernel_draws_what_the_torch_loop_draws(case: str, temperature: float):
    model = _model(**CASES[case])
    (values, codes, weight), (t_values, t_codes, t_weight) = _both(model, 5000, temperature)
    assert codes.shape == t_codes.shape and values.shape == t_values.shape
    # Float rounding may tip a class whose cumulative mass sits on the uniform; when it does,
    # the rest of that row differs too, so compare rows whose codes all agree.
    same_rows = (codes == t_codes).all(1) if codes.shape[1] else torch.ones(len(codes), dtype=torch.bool)
    assert same_rows.float().mean() >= 0.999
    torch.testing.assert_close(values[same_rows], t_values[same_rows], rtol=1e-4, atol=1e-4)
    assert torch.equal(weight, t_weight) and not weight.any()
    # the draws are draws, not a constant
    for j, card in enumerate(model.cfg.cardinalities):
        if card > 1:
            assert len(torch.unique(codes[:, j])) >= 2


def test_kernel_output_is_split_across_threads_without_changing_it():
    model = _model(**CASES["mixed, binned values"])
    h = model.decoder(torch.randn(4096, 8))
    base = model.heads.from_hidden(h).detach()
    u, eps = torch.rand(4096, 4), torch.randn(4096, 3)
    one = fused.sample_slots(model.heads, base, u, eps, threads=1)
    two = fused.sample_slots(model.heads, base, u, eps, threads=2)
    assert torch.equal(one[0], two[0]) and torch.equal(one[1], two[1])


def test_kernel_switch_off(monkeypatch):
    monkeypatch.setenv("SYNTHVAE_FUSED", "0")
    assert not fused.enabled()
    monkeypatch.setenv("SYNTHVAE_FUSED", "1")
    assert fused.enabled()


def test_compile_ahead_makes_the_very_kernel_sampling_runs():
    """The flow compiles the kernel on a thread while Prefect starts: that is only worth it
    if drawing rows afterwards finds that compiled version instead of making another."""
    fused.compile_ahead()
    compiled = set(fused._sample_rows.overloads)
    model = _model(**CASES["mixed, binned values"])
    with torch.no_grad():
        model.generate(torch.randn(300, model.cfg.latent_dim))
    assert set(fused._sample_rows.overloads) == compiled and len(compiled) == 1


def test_compiled_in_background_joins_its_thread_when_the_block_ends():
    with fused.compiled_in_background() as thread:
        assert thread is not None and thread.name == "synthvae-compile" and not thread.daemon
    assert not thread.is_alive()
    assert len(fused._sample_rows.overloads) == 1  # compiled, the very kernel draws run


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_compiled_in_background_joins_its_thread_when_the_block_raises(error):
    with pytest.raises(error):
        with fused.compiled_in_background() as thread:
            raise error("stopped")
    assert not thread.is_alive()


def test_compiled_in_background_compiles_nothing_with_the_kernel_off(monkeypatch):
    monkeypatch.setenv("SYNTHVAE_FUSED", "0")
    with fused.compiled_in_background() as thread:
        assert thread is None


def _fresh_python(code: str, **env: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=300, env={**os.environ, **env}).stdout


def test_a_compile_in_a_fresh_process_joins_before_the_process_ends():
    """Leaving the block while LLVM still compiles would abort the interpreter."""
    out = _fresh_python("from synthvae import fused\n"
                        "with fused.compiled_in_background() as thread:\n"
                        "    pass\n"
                        "print(thread.is_alive(), len(fused._sample_rows.overloads))")
    assert out.split() == ["False", "1"]


@pytest.mark.parametrize("switch, started", [("1", "True"), ("0", "False")])
def test_start_threads_starts_numbas_threads_on_this_thread(switch, started):
    code = ("import numba\nfrom synthvae import fused\n"
            "def layer():\n"
            "    try:\n"
            "        return numba.threading_layer()\n"
            "    except ValueError:\n"
            "        return None\n"
            "assert layer() is None\n"
            "fused.start_threads()\n"
            "print(layer() is not None)")
    assert _fresh_python(code, SYNTHVAE_FUSED=switch).strip() == started


def test_only_the_kernel_module_uses_numba_and_it_uses_no_other_synthvae_module():
    root = Path(fused.__file__).parent

    def imported(path: Path) -> set[str]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names.add("." * node.level + (node.module or ""))
        return names

    users = {p.relative_to(root).as_posix() for p in root.rglob("*.py")
             if any(n == "numba" or n.startswith("numba.") for n in imported(p))}
    assert users == {"fused.py"}
    assert not [n for n in imported(root / "fused.py")
                if n.startswith(".") or n.startswith("synthvae")]
