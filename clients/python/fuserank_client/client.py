"""`FuseRankClient`: calls a FuseRank server over a ZeroMQ DEALER socket."""

from __future__ import annotations

import datetime
import itertools
import math
import random
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import zmq

from fuserank_client._proto import ranker_pb2 as _ranker_pb2
from fuserank_client.messages import (
    CatalogueLogPosition,
    Event,
    EventContribution,
    Forecast,
    HealthStatus,
    ItemContent,
    ItemMetadata,
    ModelInfo,
    ModelLoadStatus,
    RankResult,
    ScoredItem,
    Series,
    UpsertResult,
)
from fuserank_client.status import RETRYABLE, FuseRankError, StatusCode

RANK = "/fuserank.v1.Ranker/Rank"
HEALTH = "/fuserank.v1.Ranker/Health"
GET_MODEL_INFO = "/fuserank.v1.Ranker/GetModelInfo"
GET_ITEMS = "/fuserank.v1.Ranker/GetItems"
RELOAD_MODELS = "/fuserank.v1.Ranker/ReloadModels"
UPSERT_ITEMS = "/fuserank.v1.Ranker/UpsertItems"
SET_ITEMS_AVAILABLE = "/fuserank.v1.Ranker/SetItemsAvailable"
FORECAST = "/fuserank.v1.Ranker/Forecast"


def load_curve_key(path: str) -> str:
    """Reads a key file `fuserank keygen` wrote (PREFIX.key or PREFIX.pub): the one Z85 line that
    is not a ``#`` comment."""
    with open(path, encoding="utf-8") as handle:
        keys = [line.strip() for line in handle if line.strip() and not line.strip().startswith("#")]
    if len(keys) != 1 or len(keys[0]) != 40:
        raise ValueError(f"{path}: expected exactly one 40-character Z85 key")
    return keys[0]


class CurveKeys:
    """A client's CURVE set-up: the server's public key and the client's key pair (Z85 text)."""

    def __init__(self, server_public_key: str, client_public_key: str, client_secret_key: str) -> None:
        self.server_public_key = server_public_key
        self.client_public_key = client_public_key
        self.client_secret_key = client_secret_key

    @classmethod
    def from_files(cls, server_public: str, client_prefix: str) -> CurveKeys:
        """Reads ``server_public`` (the server's PREFIX.pub) and ``client_prefix``.key/.pub."""
        return cls(
            load_curve_key(server_public),
            load_curve_key(client_prefix + ".pub"),
            load_curve_key(client_prefix + ".key"),
        )

_Reply = TypeVar("_Reply")

# The generated module has no type stubs; its messages never leave this file.
pb: Any = _ranker_pb2


class FuseRankClient:
    """A client of one FuseRank server, or of several (replicas, brokers) that it spreads calls over.

    Each call sends ``[empty delimiter][RequestHeader][request]`` from a DEALER socket and waits
    for ``[empty][ReplyHeader][reply]`` whose request id matches; replies to earlier, abandoned
    requests are dropped. A call that gets no reply within ``timeout_ms`` closes the socket and
    reconnects (the Lazy Pirate pattern, so a lost reply never wedges the client), then retries
    after a backoff; so does a call answered UNAVAILABLE. Ranking is idempotent, so retrying is
    safe.

    With several endpoints the client keeps one socket per endpoint and sends each attempt to
    the next endpoint in turn (round-robin), so a retry after a timeout or UNAVAILABLE goes to
    another endpoint: a call whose server died is answered by a live one. An endpoint that just
    timed out is passed over for one timeout while others are left.

    One client makes one call at a time: calls from several threads are serialised by a lock.
    For parallel calls, give each thread its own client.
    """

    def __init__(
        self,
        endpoint: str | Sequence[str],
        *,
        timeout_ms: int = 2000,
        retries: int = 2,
        backoff_ms: int = 50,
        max_backoff_ms: int = 1000,
        context: zmq.Context[Any] | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        """Creates a client; it connects at once (ZeroMQ connects in the background).

        - Parameters:
          endpoint: the server's ZeroMQ endpoint, e.g. ``tcp://127.0.0.1:5555``, or a list of
            endpoints (servers or brokers) to spread the calls over.
          timeout_ms: how long one attempt waits for its reply (also sent to the server as the
            call's deadline); a call can take up to ``(retries + 1)`` times this plus backoff.
          retries: extra attempts after a timeout or an UNAVAILABLE reply.
          backoff_ms: the first pause before a retry; it doubles each retry, up to max_backoff_ms.
          context: the ZeroMQ context; the process-wide one by default.
          curve: CURVE keys, for a server started with --curve-secret-key/--curve-allow; a
            server that refuses the key (or a plaintext client) never answers: calls time out.
        """
        if timeout_ms <= 0:
            raise ValueError("timeout_ms must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        endpoints = [endpoint] if isinstance(endpoint, str) else list(endpoint)
        if not endpoints:
            raise ValueError("give at least one endpoint")
        self.endpoints: list[str] = endpoints
        self.endpoint = endpoints[0]
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.backoff_ms = backoff_ms
        self.max_backoff_ms = max_backoff_ms
        self._context = context if context is not None else zmq.Context.instance()
        self.curve = curve
        self._lock = threading.Lock()
        # Random start so that ids of different clients rarely coincide in server logs.
        self._ids = itertools.count(random.getrandbits(48) + 1)
        self._stale_replies = 0
        self._reconnects = 0
        self._attempts = 0
        self._retries = 0
        self._next = 0  # the endpoint of the next attempt (round-robin)
        self._suspect_until = [0.0] * len(endpoints)  # monotonic time; after a timeout there
        self._sockets: list[zmq.Socket[Any]] | None = [self._open_socket(e) for e in endpoints]

    # MARK: - Calls

    def rank(
        self,
        *,
        events: Iterable[Event | int] = (),
        text_tokens: Iterable[int] = (),
        query: str = "",
        images: Iterable[Sequence[float]] = (),
        candidates: Iterable[int] = (),
        top_k: int = 0,
        exclude_seen: bool = False,
        model: str = "",
        now_ms: int = 0,
        session_id: str = "",
        exclude_items: Iterable[int] = (),
        restrict_to: Iterable[int] = (),
        explain_events: int = 0,
        timeout_ms: int | None = None,
        objective: int = 0,
    ) -> RankResult:
        """Ranks items for one user.

        - Parameters:
          events: the behaviour sequence, oldest first; a bare int is an item id with no type
            or timestamp.
          text_tokens: token ids from the model's vocab.txt (see `tokenize`).
          query: free text, tokenized by the server and appended after text_tokens.
          images: image embeddings, each of the model's image_dim.
          candidates: items to rank; empty ranks the whole catalogue.
          top_k: items to return; 0 = all candidates, or, for the whole catalogue, the server's
            default (100 unless the server was started with another --default-top-k).
          exclude_seen: catalogue ranking only: leave out items already in events (a model
            whose bundle sets exclude_seen, such as models/ml-1m, always does).
          model: the model's name; empty = the server's default model.
          now_ms: request time (Unix ms); 0 = unknown.
          session_id: a key for the server's per-session prefix cache: send the session's whole
            history each time; a request that only appends events to the previous one costs the
            new events only, with the same reply. Empty = no cache.
          exclude_items: items never to return (catalogue ranking and candidates).
          restrict_to: rank only within these items, with catalogue semantics (top_k 0 = the
            server default; seen items left out as in catalogue ranking); not with candidates.
          explain_events: reasons per returned item (ScoredItem.reasons: indices into events
            with their score contribution, strongest first); 0 = none, at most 32.
          timeout_ms: this call's per-attempt timeout; the client's by default.
          objective: OBJECTIVE_NEXT_ITEM (0, next-item scores) or OBJECTIVE_PURCHASE (1, purchase
            probabilities in [0, 1]; FAILED_PRECONDITION from a model without a purchase head).
        - Returns: the ranked items, highest score first.
        - Raises: FuseRankError with the server's code (INVALID_ARGUMENT, NOT_FOUND, ...), or
          DEADLINE_EXCEEDED / UNAVAILABLE when every attempt failed.
        """
        request = pb.RankRequest(
            text_tokens=list(text_tokens),
            candidates=list(candidates),
            top_k=top_k,
            exclude_seen=exclude_seen,
            model=model,
            now_ms=now_ms,
            query=query,
            session_id=session_id,
            exclude_items=list(exclude_items),
            restrict_to=list(restrict_to),
            explain_events=explain_events,
            objective=objective,
        )
        for event in events:
            wire_event = request.events.add()
            if isinstance(event, Event):
                wire_event.item_id = event.item_id
                wire_event.type = int(event.type)
                wire_event.timestamp_ms = event.timestamp_ms
                wire_event.dwell_ms = event.dwell_ms
            else:
                wire_event.item_id = int(event)
        for image in images:
            request.images.add().values.extend(float(value) for value in image)
        reply = self._call(RANK, request, pb.RankReply, timeout_ms)
        return RankResult(
            items=[
                ScoredItem(item.item_id, item.score,
                           tuple(EventContribution(r.event_index, r.weight) for r in item.reasons))
                for item in reply.items
            ],
            model=reply.model,
            model_version=reply.model_version,
            unknown_candidates=list(reply.unknown_candidates),
            unavailable_candidates=list(reply.unavailable_candidates),
        )

    def forecast(
        self,
        model: str,
        series: Iterable[Series | tuple[int, int | datetime.date, Sequence[float | None]]],
        horizon: int,
        quantiles: Sequence[float] | None = None,
        *,
        timeout_ms: int | None = None,
    ) -> list[Forecast]:
        """Forecasts demand with the model's forecaster (docs/model-format.md "Forecaster"): each
        series' mean and quantiles over the next `horizon` periods, all series in one pass.

        - Parameters:
          model: the model's name; empty = the server's default model.
          series: `Series(item_id, start, values)` or `(item_id, start, values)` tuples; start is
            Unix ms or a date (UTC), values are consecutive periods oldest first (None or NaN =
            missing; a numpy array is fine). At most 10,000 series of at most 10,000 values.
          horizon: periods to forecast, 1 ... the forecaster's max_horizon.
          quantiles: levels in (0, 1); None or empty = the model's default_quantiles.
          timeout_ms: this call's per-attempt timeout; the client's by default.
        - Returns: one Forecast per series, in request order (item_id echoed), with
          `quantiles[level]` keyed by the levels asked for.
        - Raises: FuseRankError: INVALID_ARGUMENT naming the field (horizon, series[i].values,
          quantiles[i]), FAILED_PRECONDITION for a model without a forecaster, NOT_FOUND.
        """
        request = pb.ForecastRequest(model=model, horizon=horizon, quantiles=[float(q) for q in quantiles or ()])
        for one in series:
            if not isinstance(one, Series):
                one = Series(*one)
            request.series.add(
                item_id=int(one.item_id), start_ms=one.start_ms,
                values=[math.nan if value is None else float(value) for value in one.values],
            )
        reply = self._call(FORECAST, request, pb.ForecastReply, timeout_ms)
        asked = [float(q) for q in quantiles or ()]
        forecasts = []
        for f in reply.forecasts:
            # Levels travel as float32: key them by the level asked for (or its 6-digit decimal).
            levels = asked if len(asked) == len(f.quantiles) else [float(f"{q.quantile:.6g}") for q in f.quantiles]
            forecasts.append(Forecast(
                item_id=f.item_id, mean=list(f.mean),
                quantiles={level: list(q.values) for level, q in zip(levels, f.quantiles)},
            ))
        return forecasts

    def health(self, *, timeout_ms: int | None = None) -> HealthStatus:
        """Asks whether the server is ready.

        - Parameters: timeout_ms: this call's per-attempt timeout; the client's by default.
        - Returns: readiness, lifecycle state, the served model names and versions, and each
          model's position in the shared catalogue log (with ``--catalogue-log``).
        - Raises: FuseRankError.
        """
        reply = self._call(HEALTH, pb.HealthRequest(), pb.HealthReply, timeout_ms)
        return HealthStatus(
            ready=reply.ready,
            state=reply.state,
            models=list(reply.models),
            versions={v.model: v.version for v in reply.model_versions},
            catalogue_log={
                p.model: CatalogueLogPosition(
                    applied=p.applied, length=p.length, last_id=p.last_id, connected=p.connected,
                    ms_since_contact=p.ms_since_contact, caught_up=p.caught_up,
                )
                for p in reply.catalogue_log
            },
        )

    def reload_models(self, *, timeout_ms: int | None = None) -> list[ModelLoadStatus]:
        """Makes the server rescan its model repositories now; answers once the scan is done.

        - Returns: every model's served version and newest failed version, sorted by name.
        - Raises: FuseRankError.
        """
        reply = self._call(RELOAD_MODELS, pb.ReloadModelsRequest(), pb.ReloadModelsReply, timeout_ms)
        return [
            ModelLoadStatus(model=m.model, version=m.version, failed_version=m.failed_version, error=m.error)
            for m in reply.models
        ]

    def model_info(self, model: str = "", *, timeout_ms: int | None = None) -> ModelInfo:
        """Describes a served model.

        - Parameters: model: the model's name; empty = the server's default model.
        - Returns: the model's name, version and limits.
        - Raises: FuseRankError (NOT_FOUND for a model the server does not serve).
        """
        reply = self._call(GET_MODEL_INFO, pb.ModelInfoRequest(model=model), pb.ModelInfo, timeout_ms)
        return ModelInfo(
            name=reply.name,
            version=reply.version,
            image_dim=reply.image_dim,
            text_vocab_size=reply.text_vocab_size,
            num_items=reply.num_items,
            max_events=reply.max_events,
            max_text_tokens=reply.max_text_tokens,
            max_images=reply.max_images,
            d_model=reply.d_model,
            n_layers=reply.n_layers,
            is_default=reply.is_default,
            has_titles=reply.has_titles,
            has_content_projection=reply.has_content_projection,
            content_dim=reply.content_dim,
            content_vector=reply.content_vector,
            fusion_weights=tuple(reply.fusion_weights),
        )

    def get_items(self, item_ids: Iterable[int], model: str = "", *, timeout_ms: int | None = None) -> list[ItemMetadata]:
        """Titles, categories and the shop's ids (`external_id`) of items, from the model's
        items.tsv (see ModelInfo.has_titles) or given with upsert_items.

        - Parameters: item_ids: the items; model: the model's name (empty = the default model).
        - Returns: one entry per id, in order; `known` is False where the model has none.
        - Raises: FuseRankError (NOT_FOUND for a model the server does not serve).
        """
        request = pb.GetItemsRequest(model=model, item_ids=list(item_ids))
        reply = self._call(GET_ITEMS, request, pb.GetItemsReply, timeout_ms)
        return [
            ItemMetadata(item_id=i.item_id, known=i.known, title=i.title, category=i.category, external_id=i.external_id)
            for i in reply.items
        ]

    def upsert_items(
        self, items: Iterable[ItemContent], model: str = "", *, timeout_ms: int | None = None
    ) -> UpsertResult:
        """Adds items from their content, or replaces an item's content (an admin method:
        docs/operations.md "Live catalogue changes"). The server journals the change durably
        before it answers; every Rank call that starts after the reply sees it.

        - Parameters: items: at most 10,000, each id once; model: the model's name (empty = the
          default model).
        - Returns: how many ids were new and how many replaced, and the journal record number.
        - Raises: FuseRankError (PERMISSION_DENIED for a client that is not an admin,
          FAILED_PRECONDITION for a model without a content projection, INVALID_ARGUMENT for bad
          content, RESOURCE_EXHAUSTED above 10,000 items).
        """
        request = pb.UpsertItemsRequest(model=model)
        for item in items:
            request.items.add(
                item_id=item.item_id,
                text_tokens=list(item.text_tokens),
                content_vector=[float(v) for v in item.content_vector],
                title=item.title,
                category=item.category,
                external_id=item.external_id,
            )
        reply = self._call(UPSERT_ITEMS, request, pb.UpsertItemsReply, timeout_ms)
        return UpsertResult(added=reply.added, replaced=reply.replaced, journal_sequence=reply.journal_sequence)

    def set_items_available(
        self, item_ids: Iterable[int], available: bool, model: str = "", *, timeout_ms: int | None = None
    ) -> int:
        """Hides items from ranking (available=False, e.g. out of stock) or shows them again (an
        admin method). All or nothing: an id the model does not know (neither in its catalogue
        nor upserted) fails the call with NOT_FOUND and changes nothing.

        - Returns: the change's journal record number.
        - Raises: FuseRankError (PERMISSION_DENIED, NOT_FOUND).
        """
        request = pb.SetItemsAvailableRequest(model=model, item_ids=list(item_ids), available=available)
        reply = self._call(SET_ITEMS_AVAILABLE, request, pb.SetItemsAvailableReply, timeout_ms)
        return int(reply.journal_sequence)

    def call(
        self,
        method: str,
        request: bytes,
        *,
        timeout_ms: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> bytes:
        """Calls a method with an already-encoded request; the building block of every call.

        - Parameters: method: the gRPC path, e.g. ``/fuserank.v1.Ranker/Rank``; request: the
          encoded request message; timeout_ms: per-attempt timeout; metadata: header metadata.
        - Returns: the encoded reply message (the reply frame).
        - Raises: FuseRankError.
        """
        budget = self.timeout_ms if timeout_ms is None else timeout_ms
        if budget <= 0:
            raise ValueError("timeout_ms must be positive")
        with self._lock:
            last_error: FuseRankError | None = None
            for attempt in range(self.retries + 1):
                if attempt > 0:
                    pause_ms = min(self.max_backoff_ms, self.backoff_ms * (2 ** (attempt - 1)))
                    time.sleep(pause_ms / 1000)
                    self._retries += 1
                self._attempts += 1
                index = self._pick_endpoint()
                try:
                    return self._attempt(index, method, request, budget, metadata)
                except FuseRankError as error:
                    if error.code not in RETRYABLE:
                        raise
                    last_error = error
            assert last_error is not None
            raise last_error

    # MARK: - Statistics

    @property
    def stale_replies(self) -> int:
        """Replies dropped because their request id matched no call in progress."""
        return self._stale_replies

    @property
    def reconnects(self) -> int:
        """Times a socket was closed and reopened after a timeout."""
        return self._reconnects

    @property
    def attempts(self) -> int:
        """Attempts sent: one per call plus one per retry."""
        return self._attempts

    @property
    def retries_made(self) -> int:
        """Attempts after a call's first one (after a timeout or a retryable code)."""
        return self._retries

    # MARK: - Lifecycle

    def close(self) -> None:
        """Closes the socket; pending requests are dropped. The client cannot be used after."""
        with self._lock:
            for socket in self._sockets or []:
                socket.close(linger=0)
            self._sockets = None

    def __enter__(self) -> FuseRankClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # MARK: - Internals

    def _call(self, method: str, request: Any, reply_type: type[_Reply], timeout_ms: int | None) -> _Reply:
        payload = self.call(method, request.SerializeToString(), timeout_ms=timeout_ms)
        reply = reply_type()
        try:
            reply.ParseFromString(payload)  # type: ignore[attr-defined]  # a protobuf message
        except Exception as error:  # protobuf's DecodeError
            raise FuseRankError(StatusCode.INTERNAL, f"undecodable {method} reply: {error}") from error
        return reply

    def _pick_endpoint(self) -> int:
        """The next endpoint in turn that has not timed out lately (the next in turn if all have)."""
        count = len(self.endpoints)
        now = time.monotonic()
        for offset in range(count):
            index = (self._next + offset) % count
            if self._suspect_until[index] <= now:
                break
        else:
            index = self._next
        self._next = (index + 1) % count
        return index

    def _open_socket(self, endpoint: str) -> zmq.Socket[Any]:
        socket: zmq.Socket[Any] = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:
            socket.curve_serverkey = self.curve.server_public_key.encode()
            socket.curve_publickey = self.curve.client_public_key.encode()
            socket.curve_secretkey = self.curve.client_secret_key.encode()
        socket.connect(endpoint)
        return socket

    def _reconnect(self, index: int) -> None:
        if self._sockets is None:
            return
        self._sockets[index].close(linger=0)
        self._sockets[index] = self._open_socket(self.endpoints[index])
        self._reconnects += 1

    def _attempt(
        self, index: int, method: str, request: bytes, timeout_ms: int, metadata: Mapping[str, str] | None
    ) -> bytes:
        """Sends one request on endpoint `index` and waits for its reply; raises on timeout or a
        non-OK code."""
        if self._sockets is None:
            raise FuseRankError(StatusCode.FAILED_PRECONDITION, "the client is closed")
        socket = self._sockets[index]
        endpoint = self.endpoints[index]
        request_id = next(self._ids) & 0xFFFF_FFFF_FFFF_FFFF
        header = pb.RequestHeader(method=method, request_id=request_id, timeout_ms=timeout_ms)
        if metadata:
            header.metadata.update(metadata)
        try:
            socket.send_multipart([b"", header.SerializeToString(), request], flags=zmq.NOBLOCK)
        except zmq.Again:
            self._reconnect(index)
            raise FuseRankError(StatusCode.UNAVAILABLE, f"cannot send to {endpoint}: queue full") from None
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            remaining_ms = math.ceil((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0 or not socket.poll(remaining_ms, zmq.POLLIN):
                # Lazy Pirate: the reply may never come; a fresh socket drops it if it does.
                self._reconnect(index)
                self._suspect_until[index] = time.monotonic() + timeout_ms / 1000
                raise FuseRankError(
                    StatusCode.DEADLINE_EXCEEDED,
                    f"no reply to {method} from {endpoint} within {timeout_ms} ms",
                )
            frames = socket.recv_multipart(flags=zmq.NOBLOCK)
            reply_header = pb.ReplyHeader()
            if len(frames) != 3 or frames[0] != b"":
                raise FuseRankError(
                    StatusCode.INTERNAL, f"malformed reply: {len(frames)} frames, expected 3"
                )
            try:
                reply_header.ParseFromString(frames[1])
            except Exception as error:
                raise FuseRankError(StatusCode.INTERNAL, f"undecodable reply header: {error}") from error
            if reply_header.request_id != request_id:
                self._stale_replies += 1  # a reply to an abandoned attempt
                continue
            code = StatusCode.from_wire(reply_header.code)
            if code != StatusCode.OK:
                raise FuseRankError(code, reply_header.message)
            return frames[2]
