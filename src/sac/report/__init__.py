"""Reports: the paper's tables (markdown + HTML) and figures (PNG) from run folders.

``build_report(runs_dir)`` reads every run folder (``summary.json``, ``metrics.csv``, ``config.yaml``,
``eval_test.json``, ``eval_zeroshot.json``, ``run.json``) and ``sac search`` folders, and writes
``report.md``, a self-contained ``report.html`` and the figures (Fig. 4, 6, 7, 8 layouts).
"""

from sac.report.build import build_report
from sac.report.collect import RunData, SearchData, collect_runs, collect_searches
from sac.report.table import Table

__all__ = ["RunData", "SearchData", "Table", "build_report", "collect_runs", "collect_searches"]
