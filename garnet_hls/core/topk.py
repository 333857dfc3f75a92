"""GravNet's neighbour selection network: its shape and its cost (pure Python, no hls4ml).

``firmware/gravnet.h`` implements a pruned bitonic top-k: keys ``[empty | distance code | j]`` are
sorted in blocks of K = k (rounded up to a power of two), then merged pairwise keeping the K smallest.
The generator (``garnet_hls.backends.hls.gravnet``) takes the shape from here; the estimator counts with it.
"""

from __future__ import annotations

from garnet_hls.errors import UserError


def _log2_ceil(n: int) -> int:
    return max(0, (int(n) - 1).bit_length())


def topk_network_plan(n_vertices: int, k: int) -> dict:
    """Shape of the top-k network of a GravNet layer with V = ``n_vertices`` and k neighbours.

    ``n_pad`` (N): V rounded up to a power of two; ``n_block`` (K): k rounded up to a power of two;
    ``log_block`` = log2 K; ``n_levels`` = log2(N/K) merge levels; ``sort_final``: whether the last
    merge level sorts its K keys (only needed when k < K, to take the first k).
    """
    V, k = int(n_vertices), int(k)
    if not 1 <= k < V:
        raise UserError(f"GravNet: k = {k} neighbours needs 1 <= k < V = {V}")
    lk = _log2_ceil(k)
    ln = _log2_ceil(V)
    return {"n_pad": 1 << ln, "n_block": 1 << lk, "log_block": lk, "n_levels": ln - lk,
            "index_bits": max(1, ln), "sort_final": (1 << lk) != k}


def topk_network_cost(n_vertices: int, k: int) -> tuple[int, int]:
    """(comparators, stages) of the selection network of ONE query vertex.

    A comparator is one compare-exchange (or, in the merge levels' first step, one compare-and-keep-min)
    of two keys; a stage is one layer of comparators that work in parallel (the network's depth).
    With N = V and K = k rounded up to powers of two, LK = log2 K, B = N/K blocks, L = log2 B levels:

    * block sort: B * (K/2) * LK(LK+1)/2 comparators in LK(LK+1)/2 stages;
    * merge levels: B - 1 merges of K min-comparators (1 stage) plus (K/2) * LK for the bitonic merge
      (LK stages), the very last merge without the bitonic merge when k == K.

    So comparators ~ N * (LK(LK+1)/4 + 1 + LK/2): linear in V and O(log^2 k), against
    N * log2 N (log2 N + 1) / 4 for a full bitonic sort; stages LK(LK+1)/2 + L(LK+1) (- LK), against
    log2 N (log2 N + 1)/2. The layer has V such networks (V/R of them in hardware at reuse factor R).
    """
    p = topk_network_plan(n_vertices, k)
    return network_cost(p["n_pad"], p["n_block"], p["log_block"], p["n_levels"], p["sort_final"])


def network_cost(n_pad: int, n_block: int, log_block: int, n_levels: int, sort_final: bool) -> tuple[int, int]:
    """(comparators, stages) of the network with the shape of :func:`topk_network_plan` (see
    :func:`topk_network_cost`); the estimator calls it with the shape read from a project's config."""
    K, LK, L = n_block, log_block, n_levels
    B = max(1, n_pad // max(1, K))
    sort_stages = LK * (LK + 1) // 2
    comparators = B * (K // 2) * sort_stages
    stages = sort_stages
    merges = B - 1
    comparators += merges * K + merges * (K // 2) * LK
    stages += L * (1 + LK)
    if L > 0 and not sort_final:
        comparators -= (K // 2) * LK
        stages -= LK
    return comparators, stages


def full_sort_cost(n_vertices: int) -> tuple[int, int]:
    """(comparators, stages) of a full bitonic sort of V (padded to a power of two) keys, for comparison."""
    ln = _log2_ceil(n_vertices)
    stages = ln * (ln + 1) // 2
    return (1 << ln) // 2 * stages, stages


# ------------------------------------------------------------------------------------------------
# Exact types of the distance computation
# ------------------------------------------------------------------------------------------------
