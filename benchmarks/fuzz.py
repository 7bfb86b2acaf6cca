"""Fuzzing: the property checks of ``tests/properties_lib.py`` with many examples each, counted.

    python benchmarks/fuzz.py                          # 2000 examples per property + 10 000 atheris runs (≈ 6 min)
    python benchmarks/fuzz.py --examples 5000 --atheris 100000   # longer
    python benchmarks/fuzz.py --only read_random_bytes,measure_no_crash --examples 5000 --seed 7
    python benchmarks/fuzz.py --atheris 0              # hypothesis only
    python benchmarks/fuzz.py --only atheris --atheris 100000

Each property runs ``--examples`` hypothesis examples (fresh random ones, seeded by ``--seed``; no shrinking: a
failure is counted and the run goes on). For every example the checks call the project's functions and count
the outcome: a result (checked against the invariant), an expected error (a ``SACError`` subclass; for the
metrics functions their documented ``ValueError``), a property violation (``AssertionError``) or an unexpected
exception (anything else: the bugs this hunts). The first input of each kind of failure is printed.

With atheris installed (``pip install atheris==3.0.0``, the ``fuzz`` extra; Linux wheels only), ``--atheris N``
also runs N coverage-guided libFuzzer executions of ``read_image`` / ``read_mask`` / ``image_size`` on raw bytes,
Pillow's Python format plugins and ``sac.data`` instrumented, seeded with one small valid file per format and
mode. It runs in a child process (libFuzzer ends the process when done).

Writes ``benchmarks/results/fuzz.{md,json}`` (``--out``). Single-threaded (``OMP_NUM_THREADS=1``, torch 1 thread).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # properties_lib
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_EXAMPLES = 2000
DEFAULT_ATHERIS = 10000


@contextlib.contextmanager
def quiet_stderr(enabled: bool = True):
    """Send fd 2 to /dev/null (libtiff / libpng print every problem of a corrupt file there)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(null)
        os.close(saved)


def _where(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    frame = next((f for f in reversed(tb) if "/src/sac/" in f.filename), tb[-1] if tb else None)
    return f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"


def run_property(prop: Any, n: int, seed: int, verbose: bool = False) -> dict[str, Any]:
    """Run ``n`` examples of one property; count outcomes, violations and unexpected exceptions."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    stats: dict[str, Any] = {"examples": 0, "outcomes": Counter(), "violations": Counter(),
                             "unexpected": Counter(), "first_failures": []}
    t0 = time.perf_counter()
    every = max(1, n // 10)

    @settings(max_examples=n, database=None, deadline=None, derandomize=False, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False)
    @hseed(seed)
    @given(prop.strategy)
    def body(value: Any) -> None:
        stats["examples"] += 1
        try:
            stats["outcomes"].update(prop.check(value))
        except AssertionError as e:
            key = f"AssertionError at {_where(e)}"
            stats["violations"][key] += 1
            if stats["violations"][key] == 1:
                stats["first_failures"].append({"kind": key, "message": str(e)[:400], "input": repr(value)[:600]})
        except Exception as e:  # noqa: BLE001 - counting them is the point
            key = f"{type(e).__name__} at {_where(e)}"
            stats["unexpected"][key] += 1
            if stats["unexpected"][key] == 1:
                stats["first_failures"].append({"kind": key, "message": str(e)[:400], "input": repr(value)[:600]})
        if stats["examples"] % every == 0:
            el = time.perf_counter() - t0
            bad = sum(stats["unexpected"].values()) + sum(stats["violations"].values())
            print(f"  {prop.name}: {stats['examples']}/{n} examples, {el:.0f} s, failures {bad}", flush=True)

    with quiet_stderr(not verbose):
        body()
    stats["seconds"] = time.perf_counter() - t0
    return stats


# ------------------------------------------------------------------------------------------- atheris

ATHERIS_READERS = ("read_image", "read_mask", "image_size")


def _atheris_seeds(folder: Path) -> int:
    """One small valid file per (encoder, format, mode) of properties_lib, as libFuzzer's starting corpus."""
    from properties_lib import ENCODINGS, ImageSpec, encode

    n = 0
    for (encoder, fmt), modes in sorted(ENCODINGS.items()):
        for i, mode in enumerate(modes):
            data, _ = encode(ImageSpec(encoder, fmt, mode, 5 + i % 3, 7, seed=i))
            (folder / f"{encoder}_{fmt}_{mode.replace(';', '')}").write_bytes(data)
            n += 1
    return n


def atheris_child(runs: int, out_json: Path, corpus: Path, crashes: Path) -> None:
    """Runs in the child process: instrument, fuzz, write the counts after every execution."""
    import atheris

    with atheris.instrument_imports(include=["PIL", "sac"]):
        from PIL import (  # noqa: F401 - imported to be instrumented
            BmpImagePlugin,
            GifImagePlugin,
            Image,
            ImageFile,
            ImageOps,
            JpegImagePlugin,
            PngImagePlugin,
            TiffImagePlugin,
            TiffTags,
            WebPImagePlugin,
        )

        from sac.data.io import image_size, read_image, read_mask
    from sac.errors import SACError

    warnings.simplefilter("ignore")
    readers = {"read_image": read_image, "read_mask": read_mask, "image_size": image_size}
    stats: dict[str, Any] = {"executions": 0, "outcomes": Counter(), "unexpected": Counter(), "crash_files": []}
    scratch = Path(tempfile.mkdtemp(prefix="sac-atheris-"))
    exts = (".png", ".jpg", ".tif", ".webp", ".bmp", ".gif")

    def one(data: bytes) -> None:
        stats["executions"] += 1
        p = scratch / f"input{exts[data[0] % len(exts)] if data else '.png'}"
        p.write_bytes(data)
        for name, fn in readers.items():
            try:
                fn(p)
                stats["outcomes"][f"{name}:ok"] += 1
            except SACError as e:
                if str(p) not in str(e):
                    stats["unexpected"][f"{name}: SACError not naming the file"] += 1
                stats["outcomes"][f"{name}:{type(e).__name__}"] += 1
            except Exception as e:  # noqa: BLE001
                key = f"{name}: {type(e).__name__} at {_where(e)}"
                stats["unexpected"][key] += 1
                if stats["unexpected"][key] == 1:
                    f = crashes / f"crash_{len(stats['crash_files'])}"
                    f.write_bytes(data)
                    stats["crash_files"].append(str(f))
        out_json.write_text(json.dumps(stats))

    atheris.Setup([sys.argv[0], f"-runs={runs}", "-max_len=4096", "-rss_limit_mb=4096", "-timeout=20",
                   str(corpus)], one)
    atheris.Fuzz()


def run_atheris(runs: int, verbose: bool) -> dict[str, Any] | None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install atheris==3.0.0): skipping the coverage-guided run", flush=True)
        return None
    work = Path(tempfile.mkdtemp(prefix="sac-fuzz-"))
    corpus, crashes = work / "corpus", work / "crashes"
    corpus.mkdir()
    crashes.mkdir()
    n_seeds = _atheris_seeds(corpus)
    out = work / "atheris.json"
    print(f"atheris: {runs} runs from {n_seeds} seed files (work folder {work})", flush=True)
    t0 = time.perf_counter()
    cmd = [sys.executable, __file__, "--atheris-child", str(runs), "--atheris-json", str(out),
           "--atheris-corpus", str(corpus), "--atheris-crashes", str(crashes)]
    proc = subprocess.run(cmd, stdout=None if verbose else subprocess.DEVNULL,
                          stderr=None if verbose else subprocess.PIPE, text=True)
    stats = json.loads(out.read_text()) if out.is_file() else {"executions": 0, "outcomes": {}, "unexpected": {}}
    stats["seconds"] = time.perf_counter() - t0
    stats["returncode"] = proc.returncode
    stats["work"] = str(work)
    if proc.returncode != 0:
        tail = (proc.stderr or "")[-2000:] if not verbose else ""
        stats["unexpected"]["libFuzzer stopped (crash, timeout or out of memory)"] = 1
        print(f"atheris child exited with {proc.returncode}\n{tail}", flush=True)
    return stats


# ------------------------------------------------------------------------------------------- report

def _fmt_counts(c: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items(), key=lambda kv: -kv[1])) or "–"


def _expected_errors(outcomes: dict[str, int]) -> dict[str, int]:
    """``{"read_image:DataError": 3, ...}`` -> ``{"DataError": n}`` (the non-ok outcomes by error type)."""
    out: Counter = Counter()
    for k, v in outcomes.items():
        kind = k.rsplit(":", 1)[1]
        if kind != "ok":
            out[kind] += v
    return dict(out)


def write_report(results: dict[str, Any], out: Path, command: str) -> None:
    from properties_lib import PROPERTIES
    from sac.files import atomic_write_json, atomic_write_text

    env = results["environment"]
    lines = [
        "# Fuzzing and property-based tests\n",
        f"`{command}` — {env['python']}, hypothesis {env['hypothesis']}, Pillow {env['pillow']}, "
        f"OpenCV {env['opencv']}, numpy {env['numpy']}, torch {env['torch']}; seed {results['seed']}, one thread, "
        f"{results['total_seconds']:.0f} s in all.\n",
        "Each property ran the examples below (fresh random inputs, no shrinking). *calls* counts the project calls "
        "the checks made; *expected errors* are the project's own error types (`SACError` subclasses; for the "
        "metrics functions the documented `ValueError` for a caller's bad array); *violations* are failed "
        "invariants; *unexpected* are any other exception.\n",
        "| property | examples | calls | expected errors raised | violations | unexpected exceptions | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results["properties"].items():
        calls = sum(r["outcomes"].values())
        lines.append(f"| {name} | {r['examples']} | {calls} | {_fmt_counts(_expected_errors(r['outcomes']))} | "
                     f"{sum(r['violations'].values())} | {sum(r['unexpected'].values())} | {r['seconds']:.0f} |")
    tot = results["totals"]
    lines.append(f"| **all** | **{tot['examples']}** | {tot['calls']} | {tot['expected_errors']} | "
                 f"**{tot['violations']}** | **{tot['unexpected']}** | {results['total_seconds']:.0f} |")
    a = results.get("atheris")
    if a:
        lines += ["", "## atheris (coverage-guided, libFuzzer)\n",
                  f"{a['executions']} executions of `read_image`, `read_mask` and `image_size` on libFuzzer's byte "
                  f"inputs (Pillow's Python plugins and `sac.data` instrumented), {a['seconds']:.0f} s, exit code "
                  f"{a['returncode']}.\n",
                  "| reader | ok | expected errors raised | unexpected exceptions |", "|---|---|---|---|"]
        for reader in ATHERIS_READERS:
            outs = {k: v for k, v in a["outcomes"].items() if k.startswith(reader + ":")}
            unexp = sum(v for k, v in a["unexpected"].items() if k.startswith(reader))
            lines.append(f"| {reader} | {outs.get(reader + ':ok', 0)} | {_fmt_counts(_expected_errors(outs))} | "
                         f"{unexp} |")
        if a["unexpected"]:
            lines.append(f"\nunexpected: {_fmt_counts(a['unexpected'])}")
    failures = [f for r in results["properties"].values() for f in r["first_failures"]]
    if failures:
        lines += ["", "## First failing inputs\n"]
        for f in failures:
            lines.append(f"- **{f['kind']}**: {f['message']}\n  input: `{f['input']}`")
    lines += ["", "## Properties\n"]
    for name in results["properties"]:
        doc = " ".join(PROPERTIES[name].doc.split())
        lines.append(f"- **{name}**: {doc}")
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    atomic_write_json(out.with_suffix(".json"), results)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES, help="hypothesis examples per property")
    ap.add_argument("--only", help="comma-separated property names (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--atheris", type=int, default=DEFAULT_ATHERIS, help="atheris runs (0: none)")
    ap.add_argument("--out", default=str(RESULTS / "fuzz"), help="report path without suffix")
    ap.add_argument("--verbose", action="store_true", help="keep the C libraries' stderr messages")
    ap.add_argument("--atheris-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--atheris-json", help=argparse.SUPPRESS)
    ap.add_argument("--atheris-corpus", help=argparse.SUPPRESS)
    ap.add_argument("--atheris-crashes", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.atheris_child is not None:
        atheris_child(args.atheris_child, Path(args.atheris_json), Path(args.atheris_corpus),
                      Path(args.atheris_crashes))
        return 0

    import cv2
    import hypothesis
    import numpy as np
    import PIL
    import torch

    torch.set_num_threads(1)
    from properties_lib import PROPERTIES

    names = args.only.split(",") if args.only else [*PROPERTIES, "atheris"]
    unknown = [n for n in names if n not in PROPERTIES and n != "atheris"]
    if unknown:
        ap.error(f"unknown properties {unknown}; known: {', '.join(PROPERTIES)}")
    t0 = time.perf_counter()
    results: dict[str, Any] = {
        "seed": args.seed, "examples_per_property": args.examples,
        "environment": {"python": platform.python_version(), "hypothesis": hypothesis.__version__,
                        "pillow": PIL.__version__, "opencv": cv2.__version__, "numpy": np.__version__,
                        "torch": torch.__version__, "machine": platform.machine()},
        "properties": {},
    }
    for name in (n for n in names if n != "atheris"):
        print(f"{name}: {args.examples} examples", flush=True)
        r = run_property(PROPERTIES[name], args.examples, args.seed, args.verbose)
        results["properties"][name] = {k: (dict(v) if isinstance(v, Counter) else v) for k, v in r.items()}
        for f in r["first_failures"]:
            print(f"  FAILURE {f['kind']}: {f['message'][:300]}\n    input: {f['input'][:300]}", flush=True)
    if args.atheris > 0 and "atheris" in names:
        results["atheris"] = run_atheris(args.atheris, args.verbose)
    results["total_seconds"] = time.perf_counter() - t0
    props = results["properties"].values()
    results["totals"] = {
        "examples": sum(r["examples"] for r in props),
        "calls": sum(sum(r["outcomes"].values()) for r in props),
        "expected_errors": sum(sum(_expected_errors(r["outcomes"]).values()) for r in props),
        "violations": sum(sum(r["violations"].values()) for r in props),
        "unexpected": sum(sum(r["unexpected"].values()) for r in props)
                      + (sum(results["atheris"]["unexpected"].values()) if results.get("atheris") else 0),
    }
    cmd = "python benchmarks/fuzz.py " + " ".join(sys.argv[1:] if argv is None else argv)
    write_report(results, Path(args.out), cmd.strip())
    tot = results["totals"]
    print(f"{tot['examples']} examples, {tot['calls']} calls, {tot['expected_errors']} expected errors, "
          f"{tot['violations']} violations, {tot['unexpected']} unexpected exceptions "
          f"({results['total_seconds']:.0f} s); wrote {Path(args.out).with_suffix('.md')}", flush=True)
    return 1 if tot["violations"] or tot["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
