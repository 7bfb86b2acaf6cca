"""SAM LoRA / CrackSAM strategies (being written)."""
