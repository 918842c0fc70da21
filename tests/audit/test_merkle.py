"""RFC 9162 Merkle hashing against a naive transcription of the RFC's definitions."""

from __future__ import annotations

import random
from hashlib import sha256

import pytest

from storage.audit import merkle
from storage.audit.merkle import Frontier


# --- the naive reference: RFC 9162 section 2.1.1, 2.1.3.1, 2.1.4.1, on the raw data -------------

def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return sha256(b"\x00" + data[0]).digest()
    k = _k(n)
    return sha256(b"\x01" + naive_mth(data[:k]) + naive_mth(data[k:])).digest()


def naive_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return naive_path(m, data[:k]) + [naive_mth(data[k:])]
    return naive_path(m - k, data[k:]) + [naive_mth(data[:k])]


def naive_subproof(m: int, data: list[bytes], b: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if b else [naive_mth(data)]
    k = _k(n)
    if m <= k:
        return naive_subproof(m, data[:k], b) + [naive_mth(data[k:])]
    return naive_subproof(m - k, data[k:], False) + [naive_mth(data[:k])]


def data_items(n: int) -> list[bytes]:
    return [b"entry %d" % i for i in range(n)]


# --- agreement ------------------------------------------------------------------------------------

def test_root_and_frontier_agree_with_the_naive_reference_for_every_size_up_to_1025() -> None:
    data = data_items(1025)
    leaves = [merkle.leaf_hash(d) for d in data]
    frontier = Frontier()
    for n in range(1, 1026):
        frontier.append(leaves[n - 1])
        expected = naive_mth(data[:n])
        assert frontier.root() == expected, n
        assert merkle.root(leaves[:n]) == expected, n
        assert len(frontier.hashes) == bin(n).count("1")
    assert merkle.root([]) == naive_mth([]) == merkle.EMPTY_ROOT


def test_frontier_round_trips_through_bytes() -> None:
    frontier = Frontier()
    for i in range(77):
        frontier.append(merkle.leaf_hash(b"%d" % i))
    copy = Frontier.from_bytes(77, frontier.to_bytes())
    assert copy.root() == frontier.root()
    with pytest.raises(ValueError):
        Frontier.from_bytes(79, frontier.to_bytes())  # 79 has five subtrees, 77 four


@pytest.mark.parametrize("n", list(range(1, 65)) + [100, 127, 128, 129, 1000, 1025])
def test_inclusion_proofs_match_the_reference_and_verify(n: int) -> None:
    data = data_items(n)
    leaves = [merkle.leaf_hash(d) for d in data]
    root = merkle.root(leaves)
    indices = range(n) if n <= 64 else random.Random(n).sample(range(n), 12) + [0, n - 1]
    for m in indices:
        proof = merkle.inclusion_proof(leaves, m)
        assert proof == naive_path(m, data)
        assert merkle.verify_inclusion(m, n, leaves[m], proof, root)


@pytest.mark.parametrize("n", list(range(1, 40)) + [64, 65, 100, 1025])
def test_consistency_proofs_match_the_reference_and_verify(n: int) -> None:
    data = data_items(n)
    leaves = [merkle.leaf_hash(d) for d in data]
    root = merkle.root(leaves)
    sizes = range(1, n + 1) if n < 40 else sorted(set(random.Random(n).sample(range(1, n + 1), 12) + [1, n]))
    for m in sizes:
        proof = merkle.consistency_proof(leaves, m)
        assert proof == naive_subproof(m, data, True)
        assert merkle.verify_consistency(m, n, merkle.root(leaves[:m]), root, proof)


# --- rejection ------------------------------------------------------------------------------------

def _mutations(proof: list[bytes]) -> list[list[bytes]]:
    """Every element with each of a few bits flipped, each element dropped, an element added, swaps."""
    mutated = []
    for i, element in enumerate(proof):
        for bit in (0, 7, 100, 255):
            flipped = bytearray(element)
            flipped[bit // 8] ^= 1 << (bit % 8)
            mutated.append(proof[:i] + [bytes(flipped)] + proof[i + 1:])
        mutated.append(proof[:i] + proof[i + 1:])
    mutated.append(proof + [bytes(32)])
    mutated.append([bytes(32)] + proof)
    if len(proof) > 1 and proof[0] != proof[1]:
        mutated.append([proof[1], proof[0]] + proof[2:])
    return mutated


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 31, 32, 33, 100])
def test_mutated_inclusion_proofs_are_rejected(n: int) -> None:
    leaves = [merkle.leaf_hash(d) for d in data_items(n)]
    root = merkle.root(leaves)
    for m in range(n):
        proof = merkle.inclusion_proof(leaves, m)
        for bad in _mutations(proof):
            assert not merkle.verify_inclusion(m, n, leaves[m], bad, root), (n, m)
        assert not merkle.verify_inclusion(m, n, leaves[(m + 1) % n], proof, root)
        assert not merkle.verify_inclusion((m + 1) % n, n, leaves[m], proof, root)
        assert not merkle.verify_inclusion(m, n, leaves[m], proof, bytes(32))
        assert not merkle.verify_inclusion(n, n, leaves[m], proof, root)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 31, 32, 33, 100])
def test_mutated_consistency_proofs_are_rejected(n: int) -> None:
    leaves = [merkle.leaf_hash(d) for d in data_items(n)]
    root = merkle.root(leaves)
    for m in range(1, n):
        old_root = merkle.root(leaves[:m])
        proof = merkle.consistency_proof(leaves, m)
        for bad in _mutations(proof):
            assert not merkle.verify_consistency(m, n, old_root, root, bad), (n, m)
        assert not merkle.verify_consistency(m, n, bytes(32), root, proof)
        assert not merkle.verify_consistency(m, n, old_root, bytes(32), proof)
        assert not merkle.verify_consistency(m + 1, n, old_root, root, proof)
        assert not merkle.verify_consistency(m, n, old_root, root, [])
        assert not merkle.verify_consistency(n, m, root, old_root, proof)


def test_equal_sizes_are_consistent_only_with_an_empty_proof_and_equal_roots() -> None:
    root = merkle.root([merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")])
    assert merkle.verify_consistency(2, 2, root, root, [])
    assert not merkle.verify_consistency(2, 2, root, bytes(32), [])
    assert not merkle.verify_consistency(2, 2, root, root, [root])
    assert not merkle.verify_consistency(0, 2, merkle.EMPTY_ROOT, root, [])


def test_a_large_tree_folds_into_a_compact_frontier() -> None:
    frontier = Frontier()
    leaf = merkle.leaf_hash(b"x")
    for _ in range((1 << 17) + 5):
        frontier.append(leaf)
    assert frontier.size == (1 << 17) + 5 and len(frontier.hashes) == 3  # 2**17 + 4 + 1
