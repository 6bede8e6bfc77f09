"""FuseRank training package: the PyTorch reference model of docs/model-format.md."""

from .config import ModelConfig
from .features import Request, Tokens, build_row_index, request_tokens
from .model import FuseRankModel
from .tokenizer import tokenize

__all__ = ["ModelConfig", "Request", "Tokens", "build_row_index", "request_tokens",
           "FuseRankModel", "tokenize"]
