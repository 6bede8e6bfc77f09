"""FuseRank training package: the PyTorch reference model of docs/model-format.md."""

from .model.config import ModelConfig
from .model.features import Request, Tokens, build_row_index, request_tokens
from .model.transformer import FuseRankModel
from .model.tokenizer import tokenize

__all__ = ["ModelConfig", "Request", "Tokens", "build_row_index", "request_tokens",
           "FuseRankModel", "tokenize"]
