"""The Flower ClientApp for SecAgg+ runs (`app-secagg`): the same round as `client_app` (read only the
shop's own file, train from the global weights), through Flower's `NumPyClient` so that
`secaggplus_mod` can mask the shop's weights before they leave the node.
"""

from __future__ import annotations

import torch
from flwr.client import ClientApp, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.common import Context

from .task import catalogue_model, load_shared, read_catalogue, read_shop, shared_state, train_local


class ShopClient(NumPyClient):
    """One shop: `fit` is one local round."""

    def __init__(self, context: Context) -> None:
        self.node, self.run = context.node_config, context.run_config

    def fit(self, parameters, config):
        torch.set_num_threads(1)
        cat = read_catalogue(str(self.node.get("catalogue") or self.run["catalogue"]))
        model, tc = catalogue_model(cat)
        names = list(shared_state(model))
        load_shared(model, {k: torch.from_numpy(v.copy()) for k, v in zip(names, parameters)})
        ds, users = read_shop(str(self.node["data-path"]), cat)
        n, loss = train_local(model, tc, ds, cat["vocab"], float(self.run.get("local-minutes", 0.0)), log=lambda _: None)
        print(f"fuserank.federated client (SecAgg+): round {config.get('server-round', 0)} read "
              f"{self.node['data-path']}: {len(users)} users, {n} examples, loss {loss:.4f}", flush=True)
        state = shared_state(model)
        return [state[k].numpy() for k in names], n, {"train-loss": loss}


app = ClientApp(client_fn=lambda context: ShopClient(context).to_client(), mods=[secaggplus_mod])
