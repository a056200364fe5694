"""Threads of in-process CPU engines: half the cores, torch fitted unless OMP_NUM_THREADS says."""

from __future__ import annotations

import os

import pytest

from sciinstruct.llm.threads import default_threads, fit_torch_threads


def test_half_the_cores_shared_among_processes(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert (default_threads(), default_threads(2), default_threads(32)) == (8, 4, 1)
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: as a 2-core machine
    assert default_threads() == 1


def test_torch_is_fitted_unless_the_environment_says(monkeypatch):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert fit_torch_threads(torch, 1) == 1 == torch.get_num_threads()
        monkeypatch.setattr(os, "cpu_count", lambda: 4)
        assert fit_torch_threads(torch) == 2
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        torch.set_num_threads(3)
        assert fit_torch_threads(torch) == 3  # the user's choice stands
        assert fit_torch_threads(torch, 1) == 1  # an explicit count still wins
    finally:
        torch.set_num_threads(before)
