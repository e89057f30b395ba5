"""`bench/calls_million.py` runs end to end at a tiny size, plans checked as at a million (the
full million, minutes of loading, runs with `-m benchmark`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.servers import ROOT


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calls_million", ROOT / "bench/calls_million.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("calls_million", module)
    spec.loader.exec_module(module)
    return module


def test_the_calls_benchmark_runs_at_a_tiny_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    args = ["--calls", "3000", "--clients", "600", "--rounds", "2", "--work", str(tmp_path)]
    bench().main(args)
    out = capsys.readouterr().out
    for part in ("ceiling", "journal: no filter", "journal: name (surname prefix)", "export CSV"):
        assert part in out
    assert "export XLSX 2" in out  # every call exported
    bench().main([*args, "--no-export"])  # the cached file is used again, not loaded twice
    assert "loading" not in capsys.readouterr().out


@pytest.mark.benchmark
@pytest.mark.timeout(3600)
def test_the_calls_benchmark_at_a_million(request: pytest.FixtureRequest, tmp_path: Path):
    if "benchmark" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the million runs with -m benchmark")
    bench().main(["--rounds", "20"])
