"""One command for a federated run on this machine: split a file into shops, start a real
`flower-superlink` and one `flower-supernode` per shop (localhost, free ports), run the Flower App
(`flwr run`), stop the processes and check the bundle.

CLI: `python -m fuserank.federated.run --data FILE --partition COLUMN[:GROUPS.json]|user-hash:K
[--rounds 3] [--minutes M] [--strategy fedavg|fedadam] [--secagg] --out models/NAME`
(`make federated DATA=... PARTITION=...`). The Flower programs
are looked up in `$FUSERANK_FLOWER_BIN`, beside this Python, in the repository's `.venv-flwr/bin`,
then on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent / "app"
SECAGG_APP_DIR = Path(__file__).resolve().parent / "app-secagg"
TRAINING_DIR = Path(__file__).resolve().parents[2]
PROGRAMS = ("flower-superlink", "flower-supernode", "flwr")


class FederatedError(RuntimeError):
    """A Flower process failed or the run produced no bundle (the message carries its log tail)."""


def flower_bin() -> Path:
    """The folder holding `flower-superlink`, `flower-supernode` and `flwr`.
    - Throws: FederatedError naming the places looked in."""
    places = [os.environ.get("FUSERANK_FLOWER_BIN", ""), str(Path(sys.executable).parent),
              str(TRAINING_DIR.parent / ".venv-flwr" / "bin")]
    found = shutil.which("flower-superlink")
    if found:
        places.append(str(Path(found).parent))
    for p in places:
        if p and all((Path(p) / prog).is_file() for prog in PROGRAMS):
            return Path(p)
    raise FederatedError("Flower (flwr 1.42) not found: install it (pip install 'flwr==1.42.*') or set "
                         f"FUSERANK_FLOWER_BIN; looked in {[p for p in places if p]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


class Processes:
    """The SuperLink and SuperNodes of one run: started with their logs in `logs`, stopped together."""

    def __init__(self, logs: Path, env: dict) -> None:
        self.logs, self.env, self.procs = logs, env, []
        self.killed: set[str] = set()

    def kill(self, name: str) -> None:
        """SIGKILL one process and its children (a SuperNode dying), on purpose."""
        for n, p, _ in self.procs:
            if n == name and p.poll() is None:
                self.killed.add(name)
                os.killpg(p.pid, 9)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self.procs.append((name, p, log))
        return p

    def check(self) -> None:
        """Raise if any process has exited (but those killed on purpose: `kill`)."""
        for name, p, _ in self.procs:
            if p.poll() is not None and name not in self.killed:
                raise FederatedError(f"{name} exited with status {p.returncode}; its log ends:\n"
                                     f"{tail(self.logs / f'{name}.log')}")

    def stop(self) -> None:
        for _, p, _ in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, 15)
        for _, p, log in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()
            log.close()


def wait_port(port: int, procs: Processes, seconds: float = 60.0) -> None:
    t = time.time()
    while time.time() - t < seconds:
        procs.check()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise FederatedError(f"nothing listens on port {port} after {seconds:.0f}s")


def prepare(data: str, partition: str, minutes: float, out: str, work: Path) -> tuple[dict[str, Path], int]:
    """The catalogue of the whole file (settings chosen as `make train DATA=` chooses them) and each
    shop's file under `work`. Returns shop -> events file, and the file's event count (a bound on a
    shop's training examples, SecAgg+'s `max-weight`)."""
    from ..data.autoconfig import auto_config, sniff_interactions
    from ..data.datasets import build_vocab, decide_exclude_seen, load_dataset
    from ..data.datasets import default_data_root
    from ..train.config import TrainConfig, resolve_auto
    from .shops import split_file, write_catalogue

    spec = sniff_interactions(data)
    ds = load_dataset({"name": Path(data).stem, "interactions": spec}, default_data_root())
    conf = {**auto_config(ds, minutes, Path(out).name), "data": {"name": Path(data).stem, "interactions": spec}}
    tc = TrainConfig(**conf["train"])
    resolve_auto(tc, decide_exclude_seen(ds)[0])
    conf["train"].update(exclude_seen=tc.exclude_seen, repeat_head=tc.repeat_head, threads=1)
    vocab = build_vocab(ds.item_text.get(i, "") for i in ds.catalogue)
    write_catalogue(work / "catalogue.json", conf, [0, -1] + list(ds.catalogue), ds.item_external, vocab,
                    ds.item_titles)
    return split_file(data, spec, partition, work / "shops"), sum(len(u) for u in ds.users)


def run(data: str, partition: str, rounds: int, minutes: float, out: str, work: Path,
        timeout_s: float = 3600.0, log=print, strategy: str = "fedavg", secagg: bool = False,
        min_shops: int | None = None, watch=None) -> Path:
    """The whole federated run (module docstring). Returns the bundle folder.
    - min_shops: later rounds go on with at least this many shops (default: all but one, at least
      one), so a SuperNode that dies does not stop the training.
    - watch: called with the processes every half second while the run goes (tests kill a node).
    - Throws: FederatedError (a process failed, the run timed out, no bundle)."""
    bin_dir = flower_bin()
    work.mkdir(parents=True, exist_ok=True)
    shops, events = prepare(data, partition, minutes, out, work)
    if len(shops) < 1:
        raise FederatedError(f"{data}: partition {partition!r} gives no shop with users")
    log(f"fuserank.federated: {len(shops)} shops: " + ", ".join(f"{s} ({p})" for s, p in shops.items()))
    out_dir = Path(out).resolve()
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    home = work / "flwr-home"
    home.mkdir(exist_ok=True)
    port = free_port()
    (home / "config.toml").write_text(f'[superlink]\ndefault = "local"\n\n[superlink.local]\n'
                                      f'address = "127.0.0.1:{port}"\ninsecure = true\n')
    env = {**os.environ, "FLWR_HOME": str(home), "OMP_NUM_THREADS": "1",
           "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),  # their helpers (flower-superexec)
           "PYTHONPATH": os.pathsep.join([str(TRAINING_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    procs = Processes(logs, env)
    local_minutes = max(0.0, 0.8 * minutes / max(1, rounds)) if minutes > 0 else 0.0
    try:
        procs.start("superlink", [str(bin_dir / "flower-superlink"), "--insecure", "--port", str(port),
                                  "--disable-runtime-dependency-installation",
                                  "--database", str(work / "superlink.db")])
        wait_port(port, procs)
        for shop, path in shops.items():
            node_port = free_port()
            node_conf = f'data-path="{path.resolve()}" record="{(path.parent / "read.jsonl").resolve()}"'
            procs.start(f"supernode-{shop}", [str(bin_dir / "flower-supernode"), "--insecure",
                                              "--superlink", f"127.0.0.1:{port}", "--port", str(node_port),
                                              "--node-config", node_conf])
        time.sleep(1.0)
        procs.check()
        cfg = (f'num-server-rounds={rounds} min-nodes={len(shops)} local-minutes={local_minutes} '
               f'catalogue="{(work / "catalogue.json").resolve()}" out="{out_dir}"')
        least = min_shops if min_shops is not None else max(1, len(shops) - 1)
        cfg += f' max-weight={float(events)}' if secagg else f' strategy="{strategy}" min-shops={least}'
        app_dir = SECAGG_APP_DIR if secagg else APP_DIR
        log(f"fuserank.federated: flwr run ({rounds} rounds, {'FedAvg under SecAgg+' if secagg else strategy}); "
            f"logs in {logs}")
        with open(logs / "flwr-run.log", "w") as flog:
            runp = subprocess.Popen([str(bin_dir / "flwr"), "run", str(app_dir), "local", "--run-config", cfg,
                                     "--stream"], stdout=flog, stderr=subprocess.STDOUT, env=env,
                                    cwd=str(app_dir), start_new_session=True)
            t0 = time.time()
            while runp.poll() is None:
                if (out_dir / "federated.json").is_file():
                    break
                if time.time() - t0 > timeout_s:
                    raise FederatedError(f"the run took over {timeout_s:.0f}s; flwr run's log ends:\n"
                                         f"{tail(logs / 'flwr-run.log')}\nsuperlink's log ends:\n"
                                         f"{tail(logs / 'superlink.log')}")
                if watch is not None:
                    watch(procs)
                procs.check()
                time.sleep(0.5)
            if runp.poll() is None:
                os.killpg(runp.pid, 15)
                runp.wait(timeout=15)
    finally:
        procs.stop()
    if not (out_dir / "federated.json").is_file():
        raise FederatedError(f"no bundle in {out_dir}; flwr run's log ends:\n{tail(logs / 'flwr-run.log')}\n"
                             f"superlink's log ends:\n{tail(logs / 'superlink.log')}")
    log(f"fuserank.federated: bundle written to {out_dir}")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Federated training across shops on Flower.")
    ap.add_argument("--data", required=True, help="an interactions file `make train DATA=` reads")
    ap.add_argument("--partition", required=True, help="a column (e.g. Country), a column with its values "
                    "grouped into shops (Country:configs/online-retail-shops.json), or user-hash:K")
    ap.add_argument("--strategy", choices=["fedavg", "fedadam"], default="fedavg")
    ap.add_argument("--secagg", action="store_true", help="FedAvg under SecAgg+: the server sees only the sum "
                                                          "of the shops' weights")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=10.0, help="the time budget (settings follow it, as in "
                                                                 "make train; each round's local training gets a share)")
    ap.add_argument("--out", required=True, help="bundle folder to write")
    ap.add_argument("--work", default=None, help="keep the shops' files, records and logs here (default: "
                                                 "a temporary folder, removed)")
    ap.add_argument("--prepare-only", action="store_true", help="with --work: write the catalogue and the "
                    "shops' files there and stop (for SuperNodes on other machines: docs/deploy.md)")
    args = ap.parse_args(argv)
    if args.prepare_only:
        if not args.work:
            ap.error("--prepare-only needs --work")
        Path(args.work).mkdir(parents=True, exist_ok=True)
        shops, _ = prepare(args.data, args.partition, args.minutes, args.out, Path(args.work))
        print(f"fuserank.federated: {Path(args.work) / 'catalogue.json'}; shops: "
              + ", ".join(f"{s} ({p})" for s, p in shops.items()))
        return 0
    tmp = None if args.work else tempfile.mkdtemp(prefix="fuserank-federated-")
    try:
        run(args.data, args.partition, args.rounds, args.minutes, args.out, Path(args.work or tmp),
            strategy=args.strategy, secagg=args.secagg)
    except (FederatedError, ValueError) as exc:
        print(f"fuserank.federated: {exc}", file=sys.stderr)
        return 2
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
