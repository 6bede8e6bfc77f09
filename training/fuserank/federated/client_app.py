"""The Flower ClientApp: one per SuperNode, one shop. It reads only the file its node config
names (`data-path=...`), trains from the global weights and returns them with its example count.

Node config: `data-path` (the shop's events file), optional `catalogue` (the shared catalogue
file; else the run config's), optional `record` (a JSON-lines file where each round writes what
the shop read: its file, its users, its examples).
"""

from __future__ import annotations

import time

import torch
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from .task import catalogue_model, load_shared, read_catalogue, read_shop, record, shared_state, train_local

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    """One round of one shop: global weights in, locally trained weights and `num-examples` out."""
    torch.set_num_threads(1)
    node, run = context.node_config, context.run_config
    data_path = str(node["data-path"])
    cat = read_catalogue(str(node.get("catalogue") or run["catalogue"]))
    model, tc = catalogue_model(cat)
    load_shared(model, msg.content["arrays"].to_torch_state_dict())
    ds, users = read_shop(data_path, cat)
    t0 = time.time()
    n, loss = train_local(model, tc, ds, cat["vocab"], float(run.get("local-minutes", 0.0)), log=lambda _: None)
    rnd = int(msg.content["config"].get("server-round", 0)) if "config" in msg.content else 0
    print(f"fuserank.federated client: round {rnd} read {data_path}: {len(users)} users, "
          f"{n} examples, loss {loss:.4f}, {time.time() - t0:.1f}s", flush=True)
    if node.get("record"):
        record(str(node["record"]), {"round": rnd, "data_path": data_path, "users": users, "examples": n,
                                     "loss": loss, "seconds": time.time() - t0})
    content = RecordDict({"arrays": ArrayRecord(shared_state(model)),
                          "metrics": MetricRecord({"num-examples": n, "train-loss": loss})})
    return Message(content=content, reply_to=msg)
