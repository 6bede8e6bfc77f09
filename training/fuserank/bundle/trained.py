"""A trained model's bundle: the files of docs/model-format.md, items.tsv where the data have
titles or their own item ids, and a text-only content projection where items have text."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ..data.datasets import Dataset
from ..model.config import ModelConfig
from ..model.transformer import FuseRankModel
from .card import update_card
from .io import export_bundle
from .items_meta import export_items, preset_items, write_items_tsv


def export_trained(out: Path, model: FuseRankModel, cfg: ModelConfig, item_ids: list[int], vocab: Sequence[str],
                   card: str, ds: Dataset, data_root: str, log: Callable[[str], None]) -> None:
    export_bundle(model, cfg, item_ids, vocab, out, card)
    # items.tsv, where the data have titles or their own (string) item ids
    titled = write_items_tsv(out, list(item_ids), preset_items(ds.name, data_root) or export_items(ds),
                             ds.item_external)
    if titled:
        log(f"items.tsv: {titled} items" + (" with the shop's own ids" if ds.item_external else ""))
    if ds.item_titles and len(vocab) > 2:
        # the item text column: a text-only content projection, so new items can be upserted
        # from their description (docs/operations.md) without another step
        from ..heads.content import TEXT_ONLY, fit_text_projection, write_content
        from ..model.tokenizer import tokenize, vocab_index
        vindex = vocab_index(vocab)
        toks = [tokenize(ds.item_text.get(i, ""), vindex) for i in ds.catalogue]
        w, b, lam, mse = fit_text_projection(model, toks)
        write_content(out, w, b, 0, TEXT_ONLY)
        log(f"content.safetensors: text-only projection (ridge lambda {lam:g}, held-out row MSE {mse:.4f})")
        update_card(str(out), "\n".join([
            "## Content projection", "",
            "`content.safetensors` maps an item's text tokens (its description, tokenized with `vocab.txt`) to its "
            "item row (content_dim 0: no sentence vector), so `UpsertItems` with a new item's text adds it with no "
            f"other step. Ridge regression from every catalogue item's text to its trained row; lambda {lam:g}, "
            f"chosen on a random tenth of the items held out (their row's mean squared error {mse:.4f}).", ""]),
            marker="## Content projection")
