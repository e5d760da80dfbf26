"""Llama-style model, FSDP2 training loop, checkpoints and export (see DESIGN.md)."""
