"""Message-size limit: an oversized request gets RESOURCE_EXHAUSTED, not a silent disconnect."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RunningServer

from fuserank_client import FuseRankClient, FuseRankError, StatusCode
from fuserank_client._proto import ranker_pb2 as pb

LIMIT = 4096


def small_again(client: FuseRankClient) -> list[int]:
    return client.rank(text_tokens=[1] * 10, top_k=5).item_ids


def test_message_over_the_limit(start_server: Callable[..., RunningServer], default_bundle: Path) -> None:
    running = start_server([default_bundle], ["--max-message-bytes", str(LIMIT), "--workers", "1"])
    with running.client() as client:
        small = client.rank(text_tokens=[1] * 1000, top_k=5)  # ~1 KB: under the limit
        assert len(small.items) == 5
        # ~8 KB: over the limit, under any 4x safety cap of the socket.
        tokens = [1] * (2 * LIMIT)
        assert len(pb.RankRequest(text_tokens=tokens).SerializeToString()) > LIMIT
        with pytest.raises(FuseRankError) as caught:
            client.rank(text_tokens=tokens, top_k=5)
        assert caught.value.code is StatusCode.RESOURCE_EXHAUSTED
        assert caught.value.message
        # The same client (same connection) keeps working.
        assert client.health().ready
        assert client.rank(text_tokens=[1] * 10, top_k=5).item_ids == small_again(client)
    code = running.terminate()
    assert code == 0, f"server exited with {code}; log:\n{running.log_tail()}"
