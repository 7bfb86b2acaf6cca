"""sac.files: claims that let several workers share one experiment folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sac.files import claim


def test_claim_is_exclusive_and_released(tmp_path):
    target = tmp_path / "r" / "a.json"
    with claim(target) as first:
        assert first
        assert (tmp_path / "r" / "a.json.claim").is_file()
        with claim(target) as second:
            assert not second  # held by a live process (this one)
    assert not (tmp_path / "r" / "a.json.claim").exists()
    with claim(target) as again:
        assert again


def test_claim_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / "a.json.claim"
    lock.write_text(json.dumps({"host": os.uname().nodename, "pid": int(dead.stdout)}))
    with claim(tmp_path / "a.json") as mine:
        assert mine


def test_claim_of_another_host_is_respected(tmp_path):
    lock = tmp_path / "a.json.claim"
    lock.write_text(json.dumps({"host": "some-other-machine", "pid": 1}))
    with claim(tmp_path / "a.json") as mine:
        assert not mine
    assert lock.is_file()  # not ours to remove
