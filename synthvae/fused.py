"""The autoregressive heads' sampling loop as one compiled kernel (numba), for the CPU.

`AutoregressiveHeads.sample` in PyTorch runs a dozen whole-batch operations per slot (add,
layer norm, SiLU, a small matmul, softmax, cumsum, gather...), each a pass over a
(rows × width) tensor: at 15 slots that is memory traffic, not arithmetic, and it caps
sampling near 100k rows/s on two cores. Here a block of 128 rows goes through all its slots
while its state (width x 128 floats) stays in cache, so the same arithmetic runs about 4x
faster. The rows of a block are the vector lanes: every step is the same arithmetic on 128
rows side by side, with no sums across a vector (see `_sample_rows`).

It draws exactly what the PyTorch path draws from the same uniforms `u` and normals `eps`
(classes by inverse CDF, values as mean + std * eps): the two agree up to float rounding,
which `tests/test_fused.py` checks. Only unconstrained, non-greedy sampling comes here;
conditions and greedy decoding stay in PyTorch, where they are not the hot path.

exp() has no vectorised form in numba without Intel's SVML, so SiLU and softmax use their
own: 2^x split into an integer part (set straight into the float's exponent bits) and a
degree-6 polynomial for the fraction, relative error about 2e-7 (float32 rounding is 6e-8).

Everything numba does in this package is here, and only here:
- compiling: about 13 s once per install, then a load from numba's cache. `compile_ahead`
  does it without drawing; `compiled_in_background()` runs it on a thread for the length of
  a block and joins that thread on the way out, whatever ends the block;
- the thread pool: it must start on the thread that draws (`start_threads`);
- concurrency: numba's workqueue layer takes no concurrent calls (`_kernel_lock`).
The kernel reads plain arrays; `kernel_arguments` gathers them from a set of heads (anything
with `AutoregressiveHeads`' attributes), so this module needs nothing from `synthvae.model`.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import os
import threading
from collections.abc import Iterator

import numpy as np
import torch
import numba
from numba import njit, prange

F32 = np.float32
LOG2E = F32(1.4426950408889634)
# 2^f on [-0.5, 0.5]: Taylor coefficients of exp(f ln 2), enough for float32
C1, C2, C3 = F32(0.6931471805599453), F32(0.2402265069591007), F32(0.05550410866482158)
C4, C5, C6 = F32(0.009618129107628477), F32(0.0013333558146428443), F32(0.00015403530393381606)
ONE, HALF, ZERO = F32(1.0), F32(0.5), F32(0.0)
LANES = 128  # rows drawn side by side, one per vector lane: 4 KiB per width-row of state
EXP_FLOOR, EXP_CEIL = F32(-87.0), F32(87.0)  # exp(+-87) stays a normal float32


@njit(fastmath=True, inline="always")
def _exp2_rows(t, out, n_rows, lanes):
    """out[i, r] = 2^t[i, r] for i < n_rows, r < lanes (t clamped to +-87 / ln 2 already;
    t is overwritten). The integer part goes straight into the float's exponent bits."""
    bits = out.view(np.int32)
    for i in range(n_rows):
        for r in range(lanes):
            k = np.floor(t[i, r] + HALF)  # np.floor stays float32 (math.floor's int64 does not vectorise)
            f = t[i, r] - k
            t[i, r] = ONE + f * (C1 + f * (C2 + f * (C3 + f * (C4 + f * (C5 + f * C6)))))
            bits[i, r] = (np.int32(k) + np.int32(127)) << np.int32(23)
    for i in range(n_rows):
        for r in range(lanes):
            out[i, r] = out[i, r] * t[i, r]


@njit(fastmath=True, inline="always")
def _dot_rows(weight, g, acc, width, lanes):
    """acc[r] += weight . g[:, r]: four of g's rows per pass, so acc is read and written a
    quarter as often as it is multiplied into."""
    w = 0
    while w + 4 <= width:
        a0, a1, a2, a3 = weight[w], weight[w + 1], weight[w + 2], weight[w + 3]
        for r in range(lanes):
            acc[r] += (a0 * g[w, r] + a1 * g[w + 1, r]) + (a2 * g[w + 2, r] + a3 * g[w + 3, r])
        w += 4
    while w < width:
        a = weight[w]
        for r in range(lanes):
            acc[r] += a * g[w, r]
        w += 1


@njit(parallel=True, fastmath=True, cache=True, nogil=True)
def _sample_rows(base_t, ln_w, ln_b, ln_eps, order, n_disc, head_w, head_b, offsets, cards,
                 code_emb_t, cont_w, cont_b, val_w, val_b, bin_edges, bin_emb_t, n_bins,
                 mix_a, mix_b, u, eps, temperature, codes_out, values_out):
    width, n_rows = base_t.shape
    max_card = 1
    for j in range(cards.shape[0]):
        max_card = max(max_card, cards[j])
    scratch = max(width, max_card)
    inv_width = F32(1.0 / width)
    inv_t = F32(1.0 / temperature)
    temp = F32(temperature)
    norm_eps = F32(ln_eps)
    n_blocks = (n_rows + LANES - 1) // LANES
    # Rows are the vector lanes: a block's state is (width, rows), and every step (layer
    # norm, SiLU, the heads' dot products, softmax) is the same arithmetic on `lanes` rows
    # side by side, with no sums across a vector. Row by row, with the width as the vector,
    # each dot product and norm ended in a horizontal sum: 1.4x slower at 64-wide heads.
    # Every block is LANES rows wide, the last one padded (zeros in, nothing out): a trip
    # count known when compiling lets LLVM drop each loop's remainder and checks: 5% faster.
    lanes = LANES
    n_disc_slots, n_cont_slots = u.shape[1], eps.shape[1]
    n_mix = mix_a.shape[1]
    for block in prange(n_blocks):
        first = block * LANES
        valid = min(LANES, n_rows - first)
        base = np.empty((width, lanes), np.float32)  # the decoder state
        sums = np.zeros((width, n_mix, lanes), np.float32)  # earlier slots' embeddings, mixed
        ctx = np.empty((width, lanes), np.float32)  # the state plus this slot's read of `sums`
        emb_out = np.empty((width, lanes), np.float32)  # the slot just drawn, embedded
        g = np.empty((width, lanes), np.float32)
        t = np.empty((scratch, lanes), np.float32)
        e = np.empty((scratch, lanes), np.float32)
        mean = np.empty(lanes, np.float32)
        rstd = np.empty(lanes, np.float32)
        top = np.empty(lanes, np.float32)
        target = np.empty(lanes, np.float32)
        code = np.empty(lanes, np.int64)
        row = np.empty(lanes, np.int64)
        mu = np.empty(lanes, np.float32)
        lv = np.empty(lanes, np.float32)
        v = np.empty(lanes, np.float32)
        u_block = np.zeros((n_disc_slots, lanes), np.float32)
        eps_block = np.zeros((n_cont_slots, lanes), np.float32)
        codes_block = np.empty((n_disc_slots, lanes), np.int64)
        values_block = np.empty((n_cont_slots, lanes), np.float32)
        for r in range(valid):
            for j in range(n_disc_slots):
                u_block[j, r] = u[first + r, j]
            for j in range(n_cont_slots):
                eps_block[j, r] = eps[first + r, j]
        for w in range(width):
            for r in range(valid):
                base[w, r] = base_t[w, first + r]
            for r in range(valid, lanes):
                base[w, r] = ZERO
        for w in range(width):
            for r in range(lanes):
                ctx[w, r] = base[w, r]  # the first slot reads nothing: every sum is zero
        for position in range(order.shape[0]):
            s = order[position]
            # g = silu(layer_norm(ctx)), per row
            for r in range(lanes):
                mean[r] = ZERO
                rstd[r] = ZERO
            for w in range(width):
                for r in range(lanes):
                    mean[r] += ctx[w, r]
            for r in range(lanes):
                mean[r] *= inv_width
            for w in range(width):
                for r in range(lanes):
                    d = ctx[w, r] - mean[r]
                    rstd[r] += d * d
            for r in range(lanes):
                rstd[r] = ONE / math.sqrt(rstd[r] * inv_width + norm_eps)
            for w in range(width):
                a, b = ln_w[w], ln_b[w]
                for r in range(lanes):
                    y = (ctx[w, r] - mean[r]) * rstd[r] * a + b
                    g[w, r] = y
                    t[w, r] = min(max(-y, EXP_FLOOR), EXP_CEIL) * LOG2E
            _exp2_rows(t, e, width, lanes)
            for w in range(width):
                for r in range(lanes):
                    g[w, r] = g[w, r] / (ONE + e[w, r])
            if s < n_disc:
                off = offsets[s]
                card = cards[s]
                for r in range(lanes):
                    top[r] = F32(-np.inf)
                for k in range(card):
                    b = head_b[off + k]
                    for r in range(lanes):
                        t[k, r] = b
                    _dot_rows(head_w[off + k], g, t[k], width, lanes)
                    for r in range(lanes):
                        x = t[k, r] * inv_t
                        t[k, r] = x
                        top[r] = max(top[r], x)
                for k in range(card):
                    for r in range(lanes):
                        t[k, r] = max(t[k, r] - top[r], EXP_FLOOR) * LOG2E
                _exp2_rows(t, e, card, lanes)
                for r in range(lanes):
                    target[r] = ZERO
                for k in range(card):
                    for r in range(lanes):
                        target[r] += e[k, r]
                # inverse CDF: the class is how many cumulative masses (all but the last
                # class's) do not pass u * total
                for r in range(lanes):
                    target[r] *= u_block[s, r]
                    code[r] = 0
                    top[r] = ZERO
                for k in range(card - 1):
                    for r in range(lanes):
                        top[r] += e[k, r]
                        code[r] += top[r] <= target[r]
                for r in range(lanes):
                    codes_block[s, r] = code[r]
                    code[r] += off
                for w in range(width):
                    emb = code_emb_t[w]
                    for r in range(lanes):
                        emb_out[w, r] = emb[code[r]]
            else:
                k = s - n_disc
                for r in range(lanes):
                    mu[r] = cont_b[k, 0]
                    lv[r] = cont_b[k, 1]
                _dot_rows(cont_w[k, 0], g, mu, width, lanes)
                _dot_rows(cont_w[k, 1], g, lv, width, lanes)
                for r in range(lanes):
                    t[0, r] = min(max(lv[r], F32(-10.0)), F32(4.0)) * HALF * LOG2E
                _exp2_rows(t, e, 1, lanes)
                for r in range(lanes):
                    v[r] = mu[r] + temp * e[0, r] * eps_block[k, r]
                    values_block[k, r] = v[r]
                for w in range(width):
                    a, b = val_w[k, w], val_b[k, w]
                    for r in range(lanes):
                        emb_out[w, r] = v[r] * a + b
                if n_bins > 1:
                    # the value's bin: how many edges lie below it (searchsorted, side left)
                    edges = bin_edges[k]
                    for r in range(lanes):
                        row[r] = k * n_bins
                    for j in range(edges.shape[0]):
                        edge = edges[j]
                        for r in range(lanes):
                            row[r] += edge < v[r]
                    for w in range(width):
                        emb = bin_emb_t[w]
                        for r in range(lanes):
                            emb_out[w, r] += emb[row[r]]
            if position + 1 == order.shape[0]:
                break
            # one pass over the sums writes this slot in and reads the next slot's context:
            # at 16 sums they are most of the kernel's memory traffic
            after = order[position + 1]
            for w in range(width):
                for r in range(lanes):
                    ctx[w, r] = base[w, r]
                for k in range(n_mix):
                    c_in, c_out = mix_a[s, k], mix_b[after, k]
                    for r in range(lanes):
                        x = sums[w, k, r] + c_in * emb_out[w, r]
                        sums[w, k, r] = x
                        ctx[w, r] += c_out * x
        for r in range(valid):
            for j in range(n_disc_slots):
                codes_out[first + r, j] = codes_block[j, r]
            for j in range(n_cont_slots):
                values_out[first + r, j] = values_block[j, r]


def _f32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)


def kernel_arguments(heads) -> dict:
    """The heads' weights as the contiguous float32 arrays the kernel reads."""
    width = heads.norm.normalized_shape[0]
    n_disc, n_cont = heads.n_discrete, heads.n_continuous
    n_slots = n_disc + n_cont
    return dict(
        ln_w=_f32(heads.norm.weight), ln_b=_f32(heads.norm.bias), ln_eps=float(heads.norm.eps),
        order=heads.order.cpu().numpy().astype(np.int64), n_disc=n_disc,
        head_w=_f32(torch.cat([h.weight for h in heads.discrete_heads])) if n_disc
        else np.zeros((0, width), np.float32),
        head_b=_f32(torch.cat([h.bias for h in heads.discrete_heads])) if n_disc
        else np.zeros(0, np.float32),
        offsets=heads.offsets.cpu().numpy().astype(np.int64),
        cards=np.asarray(heads.cardinalities, dtype=np.int64).reshape(-1),
        code_emb_t=_f32(heads.code_embedding.weight.T),  # (width, classes): one row per lane step
        cont_w=_f32(heads.continuous_weight.permute(0, 2, 1)),  # (slot, mean|logvar, width)
        cont_b=_f32(heads.continuous_bias).reshape(n_cont, 2),
        val_w=_f32(heads.value_weight).reshape(n_cont, width),
        val_b=_f32(heads.value_bias).reshape(n_cont, width),
        bin_edges=_f32(heads.bin_edges).reshape(n_cont, -1) if n_cont
        else np.zeros((0, 1), np.float32),
        bin_emb_t=_f32(heads.bin_embedding.weight.T) if heads.bin_embedding is not None
        else np.zeros((width, 1), np.float32),
        n_bins=heads.value_bins if heads.bin_embedding is not None else 0,
        # a plain running sum is one mix of weight 1
        mix_a=_f32(heads.mix_a) if heads.mix_a is not None else np.ones((n_slots, 1), np.float32),
        mix_b=_f32(heads.mix_b) if heads.mix_b is not None else np.ones((n_slots, 1), np.float32),
    )


class SlotSampler:
    """The kernel bound to one set of heads' weights (gathered once), to draw many blocks.

    `threads` (default: torch's) run blocks of rows in parallel through numba's own
    thread pool. Numba's OpenMP and TBB layers take calls from several threads at once
    (`synthvae.stream` draws a chunk on each core); its workqueue layer, the fallback where
    neither is installed, must not be entered from two threads at once, so there calls are
    serialised by a lock, as is every call before the layer is known."""

    def __init__(self, heads, temperature: float = 1.0, threads: int | None = None):
        self.args = kernel_arguments(heads)
        self.n_discrete, self.n_continuous = heads.n_discrete, heads.n_continuous
        self.temperature = float(temperature)
        self.threads = _threads(threads)

    def __call__(self, base_t: torch.Tensor, u: torch.Tensor, eps: torch.Tensor,
                 values: np.ndarray, codes: np.ndarray) -> None:
        """Fills `values` (rows, n_continuous) float32 and `codes` (rows, n_discrete) int64
        from the projected decoder state laid out (width, rows): `project_t`."""
        with _kernel_lock():
            numba.set_num_threads(self.threads)
            _sample_rows(_f32(base_t), **self.args, u=_f32(u), eps=_f32(eps),
                         temperature=self.temperature, codes_out=codes, values_out=values)


def project_t(heads, h: torch.Tensor) -> torch.Tensor:
    """`heads.from_hidden(h)` transposed, (width, rows), as the kernel reads it: the matmul
    writes it in that layout at no extra cost, where transposing afterwards is a copy."""
    layer = heads.from_hidden
    return torch.addmm(layer.bias[:, None], layer.weight, h.T)


def sample_slots(heads, base: torch.Tensor, u: torch.Tensor, eps: torch.Tensor,
                 temperature: float = 1.0, threads: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Values (rows, n_continuous) and codes (rows, n_discrete) drawn from the heads given
    the decoder state projected to head width (`heads.from_hidden(h)`), as the PyTorch path
    draws them from the same `u` (rows, n_discrete) and `eps` (rows, n_continuous)."""
    n = len(base)
    codes = np.empty((n, heads.n_discrete), np.int64)
    values = np.empty((n, heads.n_continuous), np.float32)
    SlotSampler(heads, temperature, threads)(base.T, u, eps, values, codes)
    return torch.from_numpy(values), torch.from_numpy(codes)


def _threads(threads: int | None) -> int:
    return max(1, min(threads or torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))


def _example_arguments() -> dict:
    """One row for heads of width 8 with a two-class slot and a value slot of two bins, as
    `kernel_arguments` and `SlotSampler` lay them out: every array of the same dtype, rank
    and layout, every scalar of the same type, so the kernel compiled for these is the one
    every draw runs."""
    width = 8

    def zeros(*shape, dtype=np.float32):
        return np.zeros(shape, dtype)

    return dict(base_t=zeros(width, 1), ln_w=np.ones(width, np.float32), ln_b=zeros(width),
                ln_eps=1e-5, order=np.arange(2, dtype=np.int64), n_disc=1,
                head_w=zeros(2, width), head_b=zeros(2), offsets=zeros(1, dtype=np.int64),
                cards=np.full(1, 2, np.int64), code_emb_t=zeros(width, 2),
                cont_w=zeros(1, 2, width), cont_b=zeros(1, 2), val_w=zeros(1, width),
                val_b=zeros(1, width), bin_edges=zeros(1, 1), bin_emb_t=zeros(width, 2),
                n_bins=2, mix_a=np.ones((2, 1), np.float32), mix_b=np.ones((2, 1), np.float32),
                u=zeros(1, 1), eps=zeros(1, 1), temperature=1.0,
                codes_out=zeros(1, 1, dtype=np.int64), values_out=zeros(1, 1))


def compile_ahead() -> None:
    """Compiles the kernel, or loads it from numba's cache, without running it.

    The first draw of a fresh install otherwise waits for the compile (about 13 s on 2
    cores). It only compiles: numba's thread pool must start on the thread that draws
    (`start_threads`), so this may run on any thread (see `compiled_in_background`)."""
    args = _example_arguments()
    names = inspect.signature(_sample_rows.py_func).parameters
    _sample_rows.compile(tuple(numba.typeof(args[name]) for name in names))


@contextlib.contextmanager
def compiled_in_background() -> Iterator[threading.Thread | None]:
    """Compiles the kernel (`compile_ahead`) on a thread while the block runs; yields that
    thread (None where the kernel is off, `enabled`), and joins it when the block ends,
    however it ends: the interpreter aborts (SIGABRT) if it exits while LLVM compiles.

    The thread is not a daemon, so even a join cut short by a second Ctrl-C leaves Python's
    exit waiting for it instead of tearing it down mid-compile."""
    if not enabled():
        yield None
        return
    thread = threading.Thread(target=compile_ahead, name="synthvae-compile")
    thread.start()
    try:
        yield thread
    finally:
        thread.join()


def start_threads() -> None:
    """Runs the kernel once on this thread if no numba parallel kernel has run in the
    process yet: call it before drawing on worker threads. Numba's thread pool started
    from a worker thread instead made sampling about 30% slower for the whole process.
    Compiles the kernel first if nothing has (see `compile_ahead`)."""
    if not enabled():
        return
    try:
        numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet, so no layer has been chosen
        with _kernel_lock():
            numba.set_num_threads(_threads(None))
            _sample_rows(**_example_arguments())


_LOCK = threading.Lock()


def _kernel_lock() -> contextlib.AbstractContextManager:
    """The lock where concurrent calls are unsafe, else nothing. The kernel is about half of
    drawing a chunk: serialised, two threads drew 1.28x what one thread did, 1.43x without
    the lock (Adult, model and decoders only, 2 cores)."""
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet, so no layer has been chosen
        return _LOCK
    return _LOCK if layer == "workqueue" else contextlib.nullcontext()


def enabled() -> bool:
    """SYNTHVAE_FUSED=0 turns the kernel off (the PyTorch path then does all sampling)."""
    return os.environ.get("SYNTHVAE_FUSED", "1") != "0"
