"""Live catalogue changes against the real server (issue 16): UpsertItems adds items from their
content (content.safetensors), SetItemsAvailable hides and shows items, every acknowledged change
survives SIGKILL (the journal is fsync'd before the reply), a new model version drops the
upserts it learned, and only admins may call either method."""

from __future__ import annotations

import json
import shutil
import signal
import struct
import subprocess
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import GOLDEN_NOIMAGE_BUNDLE, RunningServer, free_port, server_binary
from test_operations import scrape, write_key_pair

from fuserank_client import CurveKeys, FuseRankError, ItemContent, StatusCode
from fuserank_client._proto import ranker_pb2 as pb

DTYPES = {"F32": np.float32, "I64": np.int64}


def load_file(path: str) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file ([u64 header length][JSON header][data])."""
    data = Path(path).read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    header.pop("__metadata__", None)
    base = 8 + length
    return {
        name: np.frombuffer(data[base + e["data_offsets"][0] : base + e["data_offsets"][1]], dtype=DTYPES[e["dtype"]])
        .reshape(e["shape"]).copy()
        for name, e in header.items()
    }


def save_file(tensors: dict[str, np.ndarray], path: str) -> None:
    """Writes tensors as a safetensors file (header padded to 8 bytes)."""
    header: dict[str, object] = {}
    blobs, offset = [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        dtype = next(k for k, v in DTYPES.items() if v == array.dtype)
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


MODEL = "m"
CONTENT_DIM = 4
BOOST_TOKEN = 2  # a content item with this token gets an output bias of +50: the top item for anyone


def write_version(repo: Path, version: int, extra_ids: dict[int, int] | None = None) -> Path:
    """Writes repo/m/<version>/: the tiny-noimage bundle plus a content projection whose item
    embedding is the content vector (padded) and whose output bias is 50 for BOOST_TOKEN.
    extra_ids maps catalogue rows to new item ids (a version that learned those items)."""
    folder = repo / MODEL / str(version)
    folder.mkdir(parents=True)
    for name in ("vocab.txt", "weights.safetensors"):
        shutil.copy(GOLDEN_NOIMAGE_BUNDLE / name, folder / name)
    config = json.loads((GOLDEN_NOIMAGE_BUNDLE / "config.json").read_text())
    config.update(content_dim=CONTENT_DIM, content_vector="test: 4 floats")
    (folder / "config.json").write_text(json.dumps(config))
    d, vocab = config["d_model"], config["text_vocab_size"]
    weight = np.zeros((d + 1, CONTENT_DIM + vocab), dtype=np.float32)
    weight[np.arange(CONTENT_DIM), np.arange(CONTENT_DIM)] = 1.0  # embedding[:4] = vector
    weight[d, CONTENT_DIM + BOOST_TOKEN] = 50.0
    save_file({"content.weight": weight, "content.bias": np.zeros(d + 1, dtype=np.float32)},
              str(folder / "content.safetensors"))
    if extra_ids:
        tensors = load_file(str(folder / "weights.safetensors"))
        for row, item_id in extra_ids.items():
            tensors["item_ids"][row] = item_id
        save_file(tensors, str(folder / "weights.safetensors"))
    return folder


def catalogue_ids() -> list[int]:
    return [int(i) for i in load_file(str(GOLDEN_NOIMAGE_BUNDLE / "weights.safetensors"))["item_ids"][2:]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write_version(tmp_path / "repo", 1)
    return tmp_path / "repo"


def start(start_server: Callable[..., RunningServer], repo: Path, *args: str, **options: object) -> RunningServer:
    return start_server([], ["--model-repository", str(repo), "--repository-poll-ms", "0", *args], **options)


def test_upsert_hide_show(start_server: Callable[..., RunningServer], repo: Path) -> None:
    metrics_port = free_port()
    server = start(start_server, repo, "--admin-insecure", "--metrics-bind", f"127.0.0.1:{metrics_port}")
    base = catalogue_ids()
    user = dict(events=[base[0], base[1]], model=MODEL)
    with server.client() as client:
        info = client.model_info(MODEL)
        assert info.has_content_projection and info.content_dim == CONTENT_DIM and info.content_vector == "test: 4 floats"
        before = client.rank(top_k=5, **user)
        assert 900_001 not in before.item_ids
        result = client.upsert_items(
            [ItemContent(900_001, text_tokens=[BOOST_TOKEN, 0, BOOST_TOKEN], content_vector=[0.1, 0, 0, 0], title="New")],
            model=MODEL)
        assert (result.added, result.replaced, result.journal_sequence) == (1, 0, 1)
        after = client.rank(top_k=5, **user)
        assert after.item_ids[0] == 900_001 and after.items[0].score > 40
        assert after.item_ids[1:] == before.item_ids[:4]
        assert client.get_items([900_001], model=MODEL)[0].title == "New"
        # A content item is an event input too: it changes the user vector.
        assert client.rank(candidates=base[:5], events=[900_001], model=MODEL).scores != \
            client.rank(candidates=base[:5], events=[99_999_999], model=MODEL).scores
        # Replace a bundle item's content: it now gets the boost too.
        assert client.upsert_items([ItemContent(base[5], text_tokens=[BOOST_TOKEN])], model=MODEL).replaced == 1
        assert set(client.rank(top_k=2, **user).item_ids) == {900_001, base[5]}

        client.set_items_available([900_001, base[5]], False, model=MODEL)
        hidden = client.rank(top_k=0, **user)
        assert 900_001 not in hidden.item_ids and base[5] not in hidden.item_ids
        listed = client.rank(candidates=[900_001, base[2], base[5]], **user)
        assert listed.item_ids == [base[2]] and listed.unavailable_candidates == [900_001, base[5]]
        assert 900_001 not in client.rank(restrict_to=[900_001, base[2]], **user).item_ids

        metrics = scrape(metrics_port)
        assert 'fuserank_catalogue_content_items{model="m"} 2' in metrics
        assert 'fuserank_catalogue_hidden_items{model="m"} 2' in metrics
        client.set_items_available([900_001], True, model=MODEL)
        assert client.rank(top_k=1, **user).item_ids == [900_001]

        with pytest.raises(FuseRankError) as unknown:
            client.set_items_available([base[3], 123_456_789], False, model=MODEL)
        assert unknown.value.code == StatusCode.NOT_FOUND and "123456789" in unknown.value.message
        assert base[3] in client.rank(top_k=0, **user).item_ids  # all or nothing
        with pytest.raises(FuseRankError) as bad:
            client.upsert_items([ItemContent(7, text_tokens=[99])], model=MODEL)
        assert bad.value.code == StatusCode.INVALID_ARGUMENT


def test_acknowledged_changes_survive_sigkill(start_server: Callable[..., RunningServer], repo: Path) -> None:
    server = start(start_server, repo, "--admin-insecure")
    base = catalogue_ids()
    ids = list(range(910_000, 910_050))
    user = dict(events=[base[0]], model=MODEL)
    stop, failures, ranked = threading.Event(), [], [0]

    def keep_ranking() -> None:  # ranking never pauses while the catalogue changes
        with server.client() as ranker:
            while not stop.is_set():
                try:
                    ranker.rank(top_k=10, **user)
                    ranked[0] += 1
                except FuseRankError as error:
                    failures.append(error)

    background = threading.Thread(target=keep_ranking)
    background.start()
    with server.client() as client:
        for n, item_id in enumerate(ids):
            client.upsert_items([ItemContent(item_id, text_tokens=[3], content_vector=[n / 10, 0, 1, 0])], model=MODEL)
            # In effect for the next request: known at once.
            assert client.rank(candidates=[item_id], **user).item_ids == [item_id]
        stop.set()
        background.join()
        assert failures == [] and ranked[0] > 0
        client.set_items_available(ids[:10] + [base[0]], False, model=MODEL)
        client.set_items_available(ids[:5], True, model=MODEL)
        want = client.rank(candidates=ids + [base[0]], **user)
        server.process.send_signal(signal.SIGKILL)  # right after the last OK
        server.process.wait()
    again = start(start_server, repo, "--admin-insecure")
    with again.client() as client:
        got = client.rank(candidates=ids + [base[0]], **user)
        assert got.unknown_candidates == []
        assert got.unavailable_candidates == ids[5:10] + [base[0]] == want.unavailable_candidates
        assert got.item_ids == want.item_ids and np.allclose(got.scores, want.scores, atol=1e-5)


def test_a_new_version_drops_the_upserts_it_learned(start_server: Callable[..., RunningServer], repo: Path) -> None:
    server = start(start_server, repo, "--admin-insecure")
    base = catalogue_ids()
    with server.client() as client:
        client.upsert_items([ItemContent(920_001, text_tokens=[BOOST_TOKEN]), ItemContent(920_002, text_tokens=[BOOST_TOKEN])],
                            model=MODEL)
        client.set_items_available([920_002], False, model=MODEL)
        boosted = client.rank(candidates=[920_001], events=[base[0]], model=MODEL).scores[0]
        assert boosted > 40
        write_version(repo, 2, extra_ids={7: 920_001})  # version 2 learned 920001 (row 7)
        client.reload_models()
        result = client.rank(candidates=[920_001, 920_002], events=[base[0]], model=MODEL)
        assert result.model_version == "2"
        assert result.item_ids == [920_001] and result.items[0].score < 40  # its trained row now
        assert result.unavailable_candidates == [920_002]  # still upserted, still hidden
    records = read_journal(repo / MODEL / "catalogue.journal")
    upserted = [item.item_id for kind, _, request in records if kind == 1 for item in request.items]
    assert upserted == [920_002]  # the entry of 920001 is gone, the journal rewritten
    assert [(kind, version) for kind, version, _ in records] == [(1, "1"), (2, "1")]


def read_journal(path: Path) -> list[tuple[int, str, object]]:
    """The records of a catalogue journal, as docs/operations.md describes the file: the magic
    FRCJRNL1, then [payload length u32 LE][CRC-32 u32 LE][payload]; payload = [kind u8]
    [version length u16 LE][version][UpsertItemsRequest (1) or SetItemsAvailableRequest (2)]."""
    data = path.read_bytes()
    assert data[:8] == b"FRCJRNL1"
    records, offset = [], 8
    while offset < len(data):
        length, crc = struct.unpack_from("<II", data, offset)
        payload = data[offset + 8 : offset + 8 + length]
        assert zlib.crc32(payload) == crc
        kind, vlen = payload[0], struct.unpack_from("<H", payload, 1)[0]
        message = pb.UpsertItemsRequest() if kind == 1 else pb.SetItemsAvailableRequest()
        message.ParseFromString(payload[3 + vlen :])
        records.append((kind, payload[3 : 3 + vlen].decode(), message))
        offset += 8 + length
    return records


def test_admin_methods_are_refused_without_admin_insecure(start_server: Callable[..., RunningServer], repo: Path) -> None:
    server = start(start_server, repo)
    with server.client() as client:
        for call in (lambda: client.upsert_items([ItemContent(930_001, text_tokens=[2])], model=MODEL),
                     lambda: client.set_items_available([catalogue_ids()[0]], False, model=MODEL)):
            with pytest.raises(FuseRankError) as refused:
                call()
            assert refused.value.code == StatusCode.PERMISSION_DENIED


def test_curve_admin_allow(start_server: Callable[..., RunningServer], repo: Path, tmp_path: Path) -> None:
    server_public, _ = write_key_pair(tmp_path / "server")
    admin_public, admin_secret = write_key_pair(tmp_path / "admin")
    other_public, other_secret = write_key_pair(tmp_path / "other")
    (tmp_path / "allow.txt").write_text(f"{admin_public}\n{other_public}\n")
    (tmp_path / "admins.txt").write_text(f"# admins\n{admin_public}\n")
    admin = CurveKeys(server_public, admin_public, admin_secret)
    other = CurveKeys(server_public, other_public, other_secret)
    server = start(start_server, repo, "--curve-secret-key", str(tmp_path / "server.key"),
                   "--curve-allow", str(tmp_path / "allow.txt"), "--admin-allow", str(tmp_path / "admins.txt"),
                   probe_options={"curve": admin})
    with server.client(curve=admin) as client:
        assert client.upsert_items([ItemContent(940_001, text_tokens=[2])], model=MODEL).added == 1
    with server.client(curve=other) as client:
        assert client.rank(candidates=[940_001], model=MODEL).item_ids == [940_001]  # ranks, but is no admin
        with pytest.raises(FuseRankError) as refused:
            client.set_items_available([940_001], False, model=MODEL)
        assert refused.value.code == StatusCode.PERMISSION_DENIED


def test_a_torn_tail_is_dropped_and_damage_before_it_refuses_to_start(
    start_server: Callable[..., RunningServer], repo: Path
) -> None:
    server = start(start_server, repo, "--admin-insecure")
    with server.client() as client:
        client.upsert_items([ItemContent(950_001, text_tokens=[2])], model=MODEL)
        client.upsert_items([ItemContent(950_002, text_tokens=[2])], model=MODEL)
    assert server.terminate() == 0
    path = repo / MODEL / "catalogue.journal"
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # a crash while writing the second record
    again = start(start_server, repo, "--admin-insecure")
    with again.client() as client:
        assert client.rank(candidates=[950_001, 950_002], model=MODEL).unknown_candidates == [950_002]
    assert again.terminate() == 0
    assert "torn last record" in again.log_tail(200)
    assert len(read_journal(path)) == 1  # cut back to the good record
    damaged = bytearray(path.read_bytes())
    damaged[8 + 8 + 2] ^= 0xFF  # inside the first record's payload ...
    path.write_bytes(bytes(damaged) + whole[len(damaged):])  # ... with a good record after it
    args = [str(server_binary()), "--bind", f"tcp://127.0.0.1:{free_port()}", "--model-repository", str(repo)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "corrupt catalogue journal at byte 8" in result.stderr and str(path) in result.stderr
