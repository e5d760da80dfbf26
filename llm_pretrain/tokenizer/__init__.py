"""Byte-level BPE training, encoding and packing into token shards (see DESIGN.md)."""
