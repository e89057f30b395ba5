"""`bench/reconcile_day.py` runs end to end at a tiny size (the day of 10,000 calls is run by
hand: see README «Reconciliation of a day with 10,000 calls»)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests.support.servers import ROOT


def test_the_reconciliation_benchmark_runs_at_a_tiny_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(
            "reconcile_day", ROOT / "bench/reconcile_day.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(["--calls", "120", "--rounds", "1", "--work", str(tmp_path)])
    finally:
        sys.path.remove(str(ROOT / "bench"))
    out = capsys.readouterr().out
    assert "restored in the cold round: 120 of 120" in out
    for phase in ("ceiling", "cold", "warm", "tick"):
        assert f"\n{phase} " in out
