"""The table of hostile cases tried per category and entry point (issue 17), from a real run of the tests.

    python benchmarks/hostile_inputs.py

Runs ``tests/test_hostile_inputs.py``, ``tests/test_untrusted_files.py``, ``tests/test_crash.py`` and
``tests/test_app_load.py`` with pytest (JUnit XML), maps every test to the entry point it drives and the cases of
``tests/hostile.py`` it asserts on, and writes ``benchmarks/results/hostile_inputs.{md,json}``: cases per category
and entry point, and how many passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hostile import image_cases, mask_cases  # noqa: E402
from sac.files import atomic_write_json, atomic_write_text  # noqa: E402

FILES = ["tests/test_hostile_inputs.py", "tests/test_untrusted_files.py", "tests/test_crash.py",
         "tests/test_app_load.py"]


def cases_of(test: str, param: str) -> list[tuple[str, str]]:
    """(entry point, category) of each case a test asserts on."""
    images, masks = image_cases(), mask_cases()
    by_param = lambda: [param.split(":")[0]]  # noqa: E731 - "category:name" ids
    table = {
        "test_api_read_image": [("Python API read_image", c) for c in by_param()],
        "test_app_upload": [("web app upload", c) for c in by_param()],
        "test_cli_predict_batch_processes_the_good_photos_and_lists_the_bad":
            [("sac predict (a batch)", c.category) for c in images] + [("sac predict --resume", "repaired photo")],
        "test_cli_predict_one_bad_photo": [("sac predict (one photo)", c) for c in by_param()],
        "test_cli_predict_awkward_inputs": [("sac predict (folders)", c) for c in
                                            ("empty folder", "no photos in folder", "missing path", "mixed folder",
                                             "broken link", "link loop", "link loop")],
        "test_cli_predict_outputs_that_cannot_be_written": [("sac predict (output)", "file as output folder"),
                                                            ("sac predict (output)", "read-only folder")],
        "test_cli_predict_on_a_full_disk_names_the_file_and_leaves_nothing_half_written":
            [("sac predict (output)", "full disk")],
        "test_cli_measure_masks": [("sac measure", c) for c in by_param()],
        "test_cli_measure_with_a_photo_of_another_size": [("sac measure", "photo of another size")],
        "test_cli_data_check_lists_every_bad_pair": [("sac data check", m[1]) for m in masks]
        + [("sac data check", "image without mask"), ("sac data check", "mask without image")],
        "test_cli_evaluate_and_train_refuse_a_bad_pair": [("sac evaluate", c) for c in by_param()]
        + [("sac train", c) for c in by_param()],
        "test_exif_rotated_pair_is_aligned": [("sac data check", "EXIF-rotated pair")],
        "test_a_pickle_with_a_payload_is_refused_and_never_runs": [("checkpoint loading", "pickle payload")] * 3,
        "test_bad_adapters_are_refused_naming_the_file": [("adapter loading", param.split("-")[0])],
        "test_the_adapter_itself_loads": [("adapter loading", "valid")],
        "test_train_killed_anywhere_resumes_to_the_same_weights":
            [("sac train SIGKILL", p) for p in ("in a step", "in validation", "mid checkpoint write")],
        "test_predict_killed_between_photos_resumes_to_the_same_files": [("sac predict SIGKILL", "between photos")],
        "test_concurrent_users_get_their_own_results_and_the_server_keeps_answering": [("web app load", "18 uploads")],
    }
    return table.get(test, [("other", test)])


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        xml = Path(d) / "junit.xml"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:randomly", f"--junitxml={xml}",
                        *FILES], cwd=ROOT, env=env, check=False)
        root = ET.parse(xml).getroot()
    tried: Counter = Counter()
    passed: Counter = Counter()
    for tc in root.iter("testcase"):
        name = tc.get("name", "")
        test, _, param = name.partition("[")
        ok = not any(child.tag in ("failure", "error", "skipped") for child in tc)
        for key in cases_of(test, param.rstrip("]")):
            tried[key] += 1
            passed[key] += ok
    by_entry: dict[str, list] = defaultdict(list)
    for (entry, cat), n in sorted(tried.items()):
        by_entry[entry].append((cat, n, passed[(entry, cat)]))
    lines = ["# Hostile inputs: cases tried per entry point and category", "",
             "`python benchmarks/hostile_inputs.py` (runs " + ", ".join(f"`{f}`" for f in FILES) + "). A bad case "
             "passes when SAC answers with one message naming the file and the problem, a non-zero exit, no "
             "traceback and nothing half-written; a valid one when it is read at the right size.", "",
             "| entry point | cases | passed | categories (cases) |", "|---|---|---|---|"]
    total = total_ok = 0
    for entry, rows in by_entry.items():
        n, ok = sum(r[1] for r in rows), sum(r[2] for r in rows)
        total, total_ok = total + n, total_ok + ok
        lines.append(f"| {entry} | {n} | {ok} | " + ", ".join(f"{c} ({k})" for c, k, _ in rows) + " |")
    lines.append(f"| **all** | **{total}** | **{total_ok}** | |")
    out = ROOT / "benchmarks" / "results"
    atomic_write_text(out / "hostile_inputs.md", "\n".join(lines) + "\n")
    atomic_write_json(out / "hostile_inputs.json", {"total": total, "passed": total_ok,
                                                    "by_entry": {e: [list(r) for r in v] for e, v in by_entry.items()}})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
