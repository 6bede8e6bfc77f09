"""The Flower ServerApp: builds the global model from the shared catalogue (the run config's
`catalogue`), runs FedAvg (weighted by each shop's training examples) for `num-server-rounds`
rounds, and writes a servable bundle into the run config's `out`.

Every round, every connected shop trains (fraction_train 1.0, `min-nodes` shops at least); there
is no federated evaluation round yet (the bundle's card says so).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from ..bundle import export_bundle
from .task import catalogue_model, load_shared, read_catalogue, shared_state

app = ServerApp()


def federated_card(name: str, rounds: int, shops: int, history: list[dict], seconds: float, n_params: int) -> str:
    """The bundle's model card: what was trained, how, and what is not yet measured."""
    lines = [f"# {name} (federated)", "",
             f"Trained with Flower (FedAvg weighted by training examples) over {shops} shops for {rounds} rounds "
             f"in {seconds / 60:.1f} min; {n_params} parameters. Each shop read only its own events file; "
             "the shops share one item id space (the catalogue of the whole data).", "",
             "| round | shops | examples | mean train loss |", "|---|---|---|---|"]
    for h in history:
        lines.append(f"| {h['round']} | {h['shops']} | {h['examples']} | {h['loss']:.4f} |")
    lines += ["", "Not yet measured: the per-shop alone / federated / pooled NDCG@10 table (issue 25).", ""]
    return "\n".join(lines)


@app.main()
def main(grid: Grid, context: Context) -> None:
    """FedAvg rounds, then the bundle."""
    torch.set_num_threads(1)
    rc = context.run_config
    t0 = time.time()
    cat = read_catalogue(str(rc["catalogue"]))
    model, _ = catalogue_model(cat)
    rounds, nodes = int(rc["num-server-rounds"]), int(rc["min-nodes"])
    history: list[dict] = []

    def aggregate_metrics(replies, key):  # per round: shops, examples, example-weighted loss
        ms = [r["metrics"] for r in replies]
        n = sum(int(m["num-examples"]) for m in ms)
        loss = sum(float(m["train-loss"]) * int(m["num-examples"]) for m in ms) / max(1, n)
        history.append({"round": len(history) + 1, "shops": len(ms), "examples": n, "loss": loss})
        print(f"fuserank.federated server: round {len(history)}: {len(ms)} shops, {n} examples, "
              f"loss {loss:.4f}", flush=True)
        return MetricRecord({"num-examples": n, "train-loss": loss})

    strategy = FedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=nodes,
                      min_available_nodes=nodes, train_metrics_aggr_fn=aggregate_metrics)
    result = strategy.start(grid=grid, initial_arrays=ArrayRecord(shared_state(model)), num_rounds=rounds,
                            train_config=ConfigRecord({"lr": float(cat["conf"]["train"].get("lr", 0.003))}))
    load_shared(model, result.arrays.to_torch_state_dict())
    model.set_item_ids(cat["item_ids"])
    model.eval()
    out = Path(str(rc["out"]))
    n_params = sum(p.numel() for p in model.parameters())
    card = federated_card(out.name, rounds, nodes, history, time.time() - t0, n_params)
    export_bundle(model, model.cfg, cat["item_ids"], cat["vocab"], out, card)
    (out / "federated.json").write_text(json.dumps({"rounds": rounds, "shops": nodes, "history": history,
                                                    "seconds": time.time() - t0}, indent=2) + "\n")
    print(f"fuserank.federated server: bundle written to {out}", flush=True)
