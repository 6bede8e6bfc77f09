"""FuseRank training package: the PyTorch reference model of docs/model-format.md.

Subpackages (training/README.md): `model` (the reference model), `data` (readers, splits),
`heads` (repeat, purchase, content), `train` (the trainer; `python -m fuserank.train`),
`evaluate` (the protocols; `python -m fuserank.evaluate`), `bundle` (bundle files), `parity`
(references for the Swift engine), `fixtures` (golden fixtures), `update` (continuous training),
`forecast` (the demand forecaster), `federated` (training on Flower)."""

from .model.config import ModelConfig
from .model.features import Request, Tokens, build_row_index, request_tokens
from .model.transformer import FuseRankModel
from .model.tokenizer import tokenize

__all__ = ["ModelConfig", "Request", "Tokens", "build_row_index", "request_tokens",
           "FuseRankModel", "tokenize"]
