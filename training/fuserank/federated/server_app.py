"""The Flower ServerApp: builds the global model from the shared catalogue (the run config's
`catalogue`), runs `num-server-rounds` rounds of the run config's `strategy`, and writes a servable
bundle into the run config's `out`.

- `strategy`: `fedavg` (the shops' weights averaged, weighted by their training examples) or
  `fedadam` (FedAdam: the averaged update applied with server-side Adam, Reddi et al., "Adaptive
  Federated Optimization", ICLR 2021; `server-lr` its step size).
- `secagg` true: FedAvg under SecAgg+ (Bell et al., "Secure Single-Server Aggregation with
  (Poly)Logarithmic Overhead", CCS 2020) with Flower's `SecAggPlusWorkflow`: the server only ever
  sees the sum of the shops' (example-weighted, quantised) weights, never one shop's. It needs the
  ClientApp of `app-secagg` (`secaggplus_mod`); `max-weight` bounds a shop's example count.

Every round, every connected shop trains (fraction_train 1.0). The first round waits for all
`min-nodes` shops; later rounds go on with `min-shops` (default: all): a SuperNode that dies is
answered NODE_UNAVAILABLE by the SuperLink once it misses its heartbeats, and the round averages the
other shops (not under SecAgg+, where the protocol's own threshold decides). There is no federated
evaluation round (the shops' own test users are scored afterwards, outside Flower).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAdam, FedAvg

from ..bundle.io import export_bundle
from ..bundle.items_meta import write_items_tsv
from .task import catalogue_model, load_shared, read_catalogue, shared_state

app = ServerApp()


def federated_card(name: str, rounds: int, shops: int, history: list[dict], seconds: float, n_params: int,
                   how: str) -> str:
    """The bundle's model card: what was trained, how, and what is not yet measured."""
    lines = [f"# {name} (federated)", "",
             f"Trained with Flower ({how}) over {shops} shops for {rounds} rounds "
             f"in {seconds / 60:.1f} min; {n_params} parameters. Each shop read only its own events file; "
             "the shops share one item id space (the catalogue of the whole data).", "",
             "| round | shops | examples | mean train loss |", "|---|---|---|---|"]
    for h in history:
        lines.append(f"| {h['round']} | {h['shops']} | {h['examples']} | {h['loss']:.4f} |")
    lines += ["", "The per-shop alone / federated / pooled table: `python -m fuserank.federated.compare` "
              "(docs/evaluation.md, \"Federated training\").", ""]
    return "\n".join(lines)


@app.main()
def main(grid: Grid, context: Context) -> None:
    """The rounds (FedAvg, FedAdam, or FedAvg under SecAgg+), then the bundle."""
    torch.set_num_threads(1)
    rc = context.run_config
    t0 = time.time()
    cat = read_catalogue(str(rc["catalogue"]))
    model, _ = catalogue_model(cat)
    rounds, nodes = int(rc["num-server-rounds"]), int(rc["min-nodes"])
    lr = float(cat["conf"]["train"].get("lr", 0.003))
    history: list[dict] = []

    def note_round(metrics: list[tuple[int, float]]) -> float:
        """Records a round from each shop's (examples, mean loss); returns the example-weighted loss."""
        n = sum(k for k, _ in metrics)
        loss = sum(k * v for k, v in metrics) / max(1, n)
        history.append({"round": len(history) + 1, "shops": len(metrics), "examples": n, "loss": loss})
        print(f"fuserank.federated server: round {len(history)}: {len(metrics)} shops, {n} examples, "
              f"loss {loss:.4f}", flush=True)
        return loss

    if bool(rc.get("secagg", False)):
        how = "FedAvg under SecAgg+, weighted by training examples"
        final = secure_rounds(grid, context, model, rounds, nodes, lr, float(rc["max-weight"]), note_round)
    else:
        def aggregate_metrics(replies, key):  # per round: shops, examples, example-weighted loss
            ms = [r["metrics"] for r in replies]
            loss = note_round([(int(m["num-examples"]), float(m["train-loss"])) for m in ms])
            return MetricRecord({"num-examples": history[-1]["examples"], "train-loss": loss})

        # Every shop takes part in the first round; later rounds go on with `min-shops` (a shop
        # whose SuperNode died gets Flower's NODE_UNAVAILABLE reply and is left out of the average).
        wait_for_shops(grid, nodes)
        least = int(rc.get("min-shops", nodes))
        common = dict(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=least, min_available_nodes=least,
                      train_metrics_aggr_fn=aggregate_metrics)
        name = str(rc.get("strategy", "fedavg"))
        if name == "fedadam":
            strategy = FedAdam(**common, eta=float(rc.get("server-lr", 0.01)), eta_l=lr)
            how = f"FedAdam, server step {float(rc.get('server-lr', 0.01)):g}"
        elif name == "fedavg":
            strategy = FedAvg(**common)
            how = "FedAvg weighted by training examples"
        else:
            raise ValueError(f"strategy {name!r}: fedavg or fedadam")
        result = strategy.start(grid=grid, initial_arrays=ArrayRecord(shared_state(model)), num_rounds=rounds,
                                train_config=ConfigRecord({"lr": lr}))
        final = result.arrays.to_torch_state_dict()
    load_shared(model, final)
    model.set_item_ids(cat["item_ids"])
    model.eval()
    out = Path(str(rc["out"]))
    n_params = sum(p.numel() for p in model.parameters())
    card = federated_card(out.name, rounds, nodes, history, time.time() - t0, n_params, how)
    export_bundle(model, model.cfg, cat["item_ids"], cat["vocab"], out, card)
    # as a `make train DATA=` bundle: the data spec and settings, and the shop's own item ids
    (out / "train-config.json").write_text(json.dumps(cat["conf"], indent=2) + "\n")
    write_items_tsv(out, cat["item_ids"], {i: (t, "") for i, t in cat["titles"].items()}, cat["item_external"] or None)
    (out / "federated.json").write_text(json.dumps({"rounds": rounds, "shops": nodes, "how": how, "history": history,
                                                    "seconds": time.time() - t0}, indent=2) + "\n")
    print(f"fuserank.federated server: bundle written to {out}", flush=True)


def wait_for_shops(grid: Grid, nodes: int, timeout_s: float = 600.0) -> None:
    """Waits until `nodes` SuperNodes are connected (the first round is everyone's).
    - Throws: RuntimeError after `timeout_s`."""
    t0 = time.time()
    while len(list(grid.get_node_ids())) < nodes:
        if time.time() - t0 > timeout_s:
            raise RuntimeError(f"only {len(list(grid.get_node_ids()))} of {nodes} shops connected in {timeout_s:.0f} s")
        time.sleep(0.5)


def secure_rounds(grid: Grid, context: Context, model, rounds: int, nodes: int, lr: float, max_weight: float,
                  note_round) -> dict[str, torch.Tensor]:
    """FedAvg rounds under SecAgg+ (Flower's legacy workflow, which hosts SecAgg+): every shop's
    private mask cancels only in the sum, and a shop's secret shares let the others recover its
    mask if it drops out (`reconstruction_threshold` of the `num_shares` must answer)."""
    from flwr.common import ndarrays_to_parameters
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.strategy import FedAvg as LegacyFedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.server.workflow.constant import MAIN_PARAMS_RECORD

    state = shared_state(model)
    names = list(state)

    def fit_metrics(metrics):
        return {"train-loss": note_round([(n, float(m["train-loss"])) for n, m in metrics])}

    strategy = LegacyFedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=nodes, min_available_clients=nodes,
                            initial_parameters=ndarrays_to_parameters([state[k].numpy() for k in names]),
                            on_fit_config_fn=lambda rnd: {"lr": lr, "server-round": rnd},
                            fit_metrics_aggregation_fn=fit_metrics)
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=rounds), strategy=strategy)
    # Every shop holds a share of every other's secrets, and all but one must answer to unmask the
    # sum (so one shop may drop out mid-round); with 2 shops both must (Flower takes a fraction there).
    shares, threshold = (nodes, nodes - 1) if nodes >= 3 else (1.0, 1.0)
    workflow = DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(
        num_shares=shares, reconstruction_threshold=threshold, max_weight=max_weight))
    workflow(grid, legacy)
    arrays = legacy.state.array_records[MAIN_PARAMS_RECORD]
    values = [a.numpy() for a in arrays.values()]
    return {k: torch.from_numpy(v.copy()) for k, v in zip(names, values)}
