"""run_ahead: the forward passes one batch ahead on a worker thread (embed's overlap)."""

from __future__ import annotations

import threading

import pytest

from kgalign.neural.model import run_ahead


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "kgalign-test-ahead"]


def test_items_arrive_in_order_and_the_worker_ends():
    assert list(run_ahead(iter(range(50)), name="kgalign-test-ahead")) == list(range(50))
    assert _workers() == []


def test_the_workers_error_is_raised_in_the_consumer_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("bad batch 3")

    got = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for x in run_ahead(items(), name="kgalign-test-ahead"):
            got.append(x)
    assert got == [1, 2]
    assert _workers() == []


def test_stopping_early_closes_the_producer_on_its_own_thread_and_leaves_no_worker():
    state = {"made": 0, "closed_on": None}

    def items():
        try:
            for i in range(10_000):
                state["made"] += 1
                yield i
        finally:
            state["closed_on"] = threading.current_thread().name

    gen = run_ahead(items(), name="kgalign-test-ahead")
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    assert _workers() == []
    assert state["closed_on"] == "kgalign-test-ahead"
    assert state["made"] <= 6  # at most a couple of items ahead, never the whole producer


def test_an_interrupt_in_the_consumer_stops_the_worker():
    gen = run_ahead(iter(range(10_000)), name="kgalign-test-ahead")
    with pytest.raises(KeyboardInterrupt):
        for x in gen:
            if x == 5:
                raise KeyboardInterrupt
    gen.close()
    assert _workers() == []
