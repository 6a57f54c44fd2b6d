"""run_streams: embed's forward streams (work items on several threads, other items passed on in order)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from kgalign.neural.model import run_streams

NAME = "kgalign-test-streams"


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == NAME]


def _plan(steps: int, per_step: int):
    for k in range(steps):
        yield "step", k
        for i in range(per_step):
            yield "work", (k, i)


def test_every_work_item_is_done_once_and_a_step_comes_before_the_results_taken_after_it():
    def work(p):
        time.sleep(0.001 * (p[1] % 3))  # uneven: the streams finish out of order
        return p[0] * 100 + p[1]

    seen_steps: list[int] = []
    results = []
    for kind, payload in run_streams(_plan(6, 7), work, streams=3, depth=4, name=NAME):
        if kind == "step":
            seen_steps.append(payload)
        else:
            (k, i), r = payload
            assert k in seen_steps  # the step's marker was out before any of its results
            assert r == k * 100 + i
            results.append((k, i))
    assert seen_steps == list(range(6))
    assert sorted(results) == [(k, i) for k in range(6) for i in range(7)]
    assert _workers() == []


def test_setup_runs_on_each_worker_and_the_work_is_shared():
    names: list[str] = []
    ran_on: set[int] = set()
    lock = threading.Lock()

    def setup():
        with lock:
            names.append(threading.current_thread().name)

    def work(p):
        ran_on.add(threading.get_ident())
        time.sleep(0.002)
        return p

    out = list(run_streams((("work", i) for i in range(40)), work, streams=2, setup=setup, name=NAME))
    assert names == [NAME, NAME]
    assert len(ran_on) == 2 and threading.get_ident() not in ran_on
    assert sorted(p for _, (p, _) in out) == list(range(40))


def test_a_workers_error_is_raised_in_the_consumer_and_every_worker_stops():
    def work(p):
        if p == 13:
            raise ValueError("bad batch 13")
        return p

    got = []
    with pytest.raises(ValueError, match="bad batch 13"):
        for _, (p, _) in run_streams((("work", i) for i in range(10_000)), work, streams=2, depth=2, name=NAME):
            got.append(p)
    assert 13 not in got and len(got) < 100
    assert _workers() == []


def test_an_error_of_the_producer_is_raised_in_the_consumer():
    def items():
        yield "work", 1
        raise RuntimeError("no plan for step 2")

    with pytest.raises(RuntimeError, match="no plan for step 2"):
        list(run_streams(items(), lambda p: p, streams=2, name=NAME))
    assert _workers() == []


def test_stopping_early_stops_the_workers_and_closes_the_producer():
    state = {"made": 0, "closed": False}

    def items():
        try:
            for i in range(10_000):
                state["made"] += 1
                yield "work", i
        finally:
            state["closed"] = True

    gen = run_streams(items(), lambda p: p, streams=2, depth=2, name=NAME)
    for _ in range(3):
        next(gen)
    gen.close()
    assert _workers() == []
    assert state["closed"]
    assert state["made"] <= 12  # a few items ahead, never the whole producer


def test_an_interrupt_in_the_consumer_stops_the_workers():
    gen = run_streams((("work", i) for i in range(10_000)), lambda p: p, streams=2, name=NAME)
    with pytest.raises(KeyboardInterrupt):
        for _, (p, _) in gen:
            if p >= 5:
                raise KeyboardInterrupt
    gen.close()
    assert _workers() == []


def test_captures_on_two_threads_at_once_each_get_their_own_state(minilm):
    """The capture hook is installed once per block and answers only the thread that asked: two threads
    forwarding different batches at once get the states a lone forward gives."""
    import torch

    texts = [["duty of care owed to a neighbour", "a river bank"], ["breach of contract", "the judge", "a tort"]]
    padded = [minilm._pad(minilm.encode(t)) for t in texts]
    with torch.inference_mode():
        alone = [minilm._capture(*p).clone() for p in padded]
    got: dict[int, list] = {0: [], 1: []}
    errors: list[BaseException] = []

    def run(j: int) -> None:
        try:
            with torch.inference_mode():
                for _ in range(15):
                    got[j].append(minilm._capture(*padded[j]).clone())
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(j,)) for j in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for j in (0, 1):
        assert len(got[j]) == 15
        for h in got[j]:
            assert h.shape == alone[j].shape
            np.testing.assert_allclose(h.numpy(), alone[j].numpy(), rtol=1e-5, atol=1e-5)
    # and a forward that asks for nothing is not stopped by the installed hook
    with torch.inference_mode():
        out = minilm.forward(texts[0])
    assert out.last_hidden_state.shape[0] == 2
