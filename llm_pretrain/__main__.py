"""`python -m llm_pretrain ...` is `llm-data ...`, for where the script is not on PATH."""

from llm_pretrain.entry import data

if __name__ == "__main__":
    data()
