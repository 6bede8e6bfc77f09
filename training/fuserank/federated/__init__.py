"""Federated training on Flower (issue 25, first slice): shops that may not pool their events
train one model; each SuperNode reads only its own shop's file.

Modules: `shops.py` (split a file into shops, the shared catalogue), `task.py` (one shop's local
training: read its file, train from the global weights), `server_app.py` / `client_app.py` (the
Flower ServerApp and ClientApp, FedAvg), `run.py` (one command: SuperLink, SuperNodes, the run),
`app/pyproject.toml` (the Flower App that `flwr run` ships). Only the Flower apps and `run.py`'s
processes need `flwr`; the rest is plain PyTorch.
"""
