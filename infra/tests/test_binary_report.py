"""deploy_helpers.py binary-report: the size and architecture gate of scripts/lambda-build.sh."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import deploy_helpers  # noqa: E402


def elf(path: Path, machine: int, size: int) -> str:
    header = b"\x7fELF" + bytes(14) + machine.to_bytes(2, "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + bytes(size - len(header)))
    return str(path)


def test_small_arm64_bootstraps_pass(tmp_path, capsys):
    files = [elf(tmp_path / f / "bootstrap", 0xB7, 4096) for f in ("postback", "leads")]
    assert deploy_helpers.binary_report(files) == 0
    out = capsys.readouterr().out
    assert "postback" in out and "leads" in out and "aarch64" in out


def test_a_bootstrap_of_8_mb_or_more_fails(tmp_path, capsys):
    ok = elf(tmp_path / "stage" / "bootstrap", 0xB7, deploy_helpers.MAX_BOOTSTRAP_BYTES - 1)
    big = elf(tmp_path / "leads" / "bootstrap", 0xB7, deploy_helpers.MAX_BOOTSTRAP_BYTES)
    assert deploy_helpers.binary_report([ok]) == 0
    assert deploy_helpers.binary_report([ok, big]) == 1
    assert "leads: 8000000 B is over the 8000000 B limit" in capsys.readouterr().err


def test_wrong_architecture_or_missing_fails(tmp_path):
    assert deploy_helpers.binary_report([elf(tmp_path / "x" / "bootstrap", 0x3E, 4096)]) == 1
    assert deploy_helpers.binary_report([str(tmp_path / "missing" / "bootstrap")]) == 1
