"""Reading a Hugging Face `LlamaForCausalLM` folder: ours exported, or any compatible one.

`llm-train sample` runs such a folder and `llm-train pretrain --init-from` continues training
it. Only what our model computes is accepted: a llama with SwiGLU (silu), no biases, plain
rotary embeddings (no rope scaling) and a head size of hidden / heads. Anything else is refused
with the setting that differs, rather than loaded into a model that computes something else.
The weights come from safetensors only (no pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from tokenizers import Tokenizer

from llm_pretrain.storage import read_json
from llm_pretrain.tokenizer.bpe import TOKENIZER_FILE
from llm_pretrain.train.data import TokenData
from llm_pretrain.train.hf_mapping import from_hf_config, from_hf_weights, unsupported
from llm_pretrain.train.model import ModelConfig, Transformer, empty_model
from llm_pretrain.train.runtime import TrainError

CONFIG_FILE = "config.json"  # the model's


def is_hf_folder(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file()


def _read_config(folder: Path) -> dict[str, Any]:
    try:
        hf = read_json(folder / CONFIG_FILE)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TrainError(f"{folder}/{CONFIG_FILE} cannot be read: {exc}") from None
    if not isinstance(hf, dict):
        raise TrainError(f"{folder}/{CONFIG_FILE} is not a JSON object")
    return hf


def load_tokenizer(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # the tokenizers binding raises plain Exception on a bad file
        raise TrainError(f"{path} is not a readable tokenizer: {exc}") from None


def read_hf_config(folder: Path) -> ModelConfig:
    """Our model config from `config.json`; refuses a model ours would compute differently."""
    hf = _read_config(folder)
    if hf.get("model_type") != "llama":
        raise TrainError(f"{folder}/{CONFIG_FILE} is not a llama model ({hf.get('model_type')})")
    problems = unsupported(hf)
    if problems:
        raise TrainError(f"{folder} is a llama our model cannot compute: {'; '.join(problems)}")
    try:
        return from_hf_config(hf)
    except KeyError as exc:
        raise TrainError(f"{folder}/{CONFIG_FILE} has no {exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise TrainError(f"{folder}/{CONFIG_FILE} has a setting that does not fit: {exc}") from None


def read_hf_weights(folder: Path, config: ModelConfig) -> dict[str, torch.Tensor]:
    """Every parameter of the model in float32, by our names (`hf_mapping`)."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise TrainError(f"{folder} has no .safetensors weights")
    weights: dict[str, torch.Tensor] = {}
    for path in files:
        try:
            weights.update(load_file(str(path)))
        except (OSError, SafetensorError) as exc:
            raise TrainError(f"{path} is not a readable safetensors file: {exc}") from None
    weights = from_hf_weights({k: v.float() for k, v in weights.items()}, config)
    with torch.device("meta"):  # shapes only, no memory
        expected = Transformer(config).state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise TrainError(
            f"{folder}'s weights do not match its config.json: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for name, tensor in weights.items():
        if tensor.shape != expected[name].shape:
            raise TrainError(
                f"{folder}: {name} is {tuple(tensor.shape)}, config.json implies "
                f"{tuple(expected[name].shape)}"
            )
    return weights


def load_exported(folder: Path) -> Transformer:
    """Our model, on the CPU in float32, with the folder's weights."""
    config = read_hf_config(folder)
    model = empty_model(config)
    model.load_state_dict(read_hf_weights(folder, config), strict=True)
    return model


def check_vocabulary(folder: Path, config: ModelConfig, data: TokenData) -> None:
    """Refuse training `folder`'s model on ids that do not mean what its embeddings learned.

    Every token of the data's tokenizer must have the same id in the folder's tokenizer, and
    the model must have a row for each (a larger, padded vocabulary is fine).
    """
    assert config.vocab_size is not None
    if config.vocab_size < data.vocab_size:
        raise TrainError(
            f"{folder} has {config.vocab_size} token embeddings, fewer than the "
            f"{data.vocab_size} tokens of the data's tokenizer ({data.folder})"
        )
    theirs_file = folder / TOKENIZER_FILE
    if not theirs_file.is_file():
        raise TrainError(
            f"{folder} has no {TOKENIZER_FILE}: whether the data's token ids mean what the "
            "model learned cannot be checked"
        )
    ours_file = data.folder / data.manifest["tokenizer"]["file"]
    if ours_file.read_bytes() == theirs_file.read_bytes():
        return
    ours = load_tokenizer(ours_file).get_vocab(with_added_tokens=True)
    theirs = load_tokenizer(theirs_file).get_vocab(with_added_tokens=True)
    differ = sorted((i, t) for t, i in ours.items() if theirs.get(t) != i)
    if differ:
        examples = ", ".join(repr(t) for _, t in differ[:5])
        raise TrainError(
            f"{len(differ):,} of the data's {len(ours):,} tokens have another id (or none) in "
            f"{theirs_file} (e.g. {examples}): the model's embeddings would be read for other "
            f"tokens. Tokenize the documents with its tokenizer: llm-data tokenize INPUT OUTPUT "
            f"--tokenizer {folder}"
        )
