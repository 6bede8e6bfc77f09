"""The figures of a freshly trained model, as the training CLI reports them: its validation
function during training, the baselines drawn on its learning curve, and the test and validation
tables of docs/evaluation.md (next-item protocols, or next-basket ones on basket data)."""

from __future__ import annotations

from typing import Callable, Sequence

from ..data.datasets import Dataset
from ..model.transformer import FuseRankModel
from .baskets import (basket_cases, basket_metrics, basket_table, evaluate_baskets, model_top, p_topfreq,
                      popularity_order, tune_tifu)
from .protocols import baselines, evaluate, full_ranking
from .report import format_table


def validator(ds: Dataset, val_cases: list, val_search: list, eval_exclude: bool) -> Callable[[FuseRankModel], float]:
    """Validation NDCG@10 of a model: next-basket on basket data, else full ranking (the mean with
    search mode when `val_search` has cases)."""
    def validate(m: FuseRankModel) -> float:
        if ds.has_baskets:
            return basket_metrics(model_top(m, val_cases), [c.targets for c in val_cases]).ndcg10
        full = full_ranking(m, val_cases, exclude_seen=eval_exclude).ndcg10
        if not val_search:
            return full
        return 0.5 * (full + full_ranking(m, val_search, exclude_seen=eval_exclude).ndcg10)
    return validate


def validation_baselines(ds: Dataset, eval_exclude: bool) -> dict[str, float]:
    """The baselines' validation NDCG@10, the learning curve's reference lines."""
    if ds.has_baskets:
        cases = basket_cases(ds, "val")
        popular = popularity_order(ds)
        return {"val p-topfreq": basket_metrics([p_topfreq(c, popular) for c in cases],
                                                [c.targets for c in cases]).ndcg10}
    val_base = {f"val {k}": m.ndcg10 for k, m in baselines(ds, "val", eval_exclude).items()}
    if eval_exclude:  # seen items left out: recency is popularity
        val_base.pop("val recency")
    return val_base


def evaluate_trained(model: FuseRankModel, ds: Dataset, vocab: Sequence[str], modes: Sequence[str],
                     eval_exclude: bool) -> tuple[dict, dict, str]:
    """Test and validation figures (baselines and the robustness costs included) and their table."""
    if ds.has_baskets:
        tifu, tifu_val = tune_tifu(ds)   # TIFU-KNN's settings: validation chooses them
        test = evaluate_baskets(model, ds, "test", tifu, robustness=True)
        val = evaluate_baskets(model, ds, "val", tifu, robustness=True)
        test["tifu_val_ndcg@10"] = tifu_val
        table = f"Test (each user's last basket):\n\n{basket_table(test)}\n\nValidation (the basket before):\n\n" \
                f"{basket_table(val)}"
        return test, val, table
    test = evaluate(model, ds, vocab, "test", modes, exclude_seen=eval_exclude, with_baselines=True,
                    robustness=True)
    val = evaluate(model, ds, vocab, "val", [m for m in modes if m != "sampled"], exclude_seen=eval_exclude,
                   with_baselines=True)
    rows = {f"test {k}": test[k] for k in ("full", "sampled", "search", "recency", "popularity") if k in test}
    rows.update({f"val {k}": val[k] for k in ("full", "search", "recency", "popularity") if k in val})
    return test, val, format_table(rows)
