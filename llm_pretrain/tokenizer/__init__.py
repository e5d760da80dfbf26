"""Byte-level BPE: training, the Hugging Face file format, encoding and packing."""
