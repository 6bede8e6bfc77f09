#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FuseRankTransport
import FuseRankWire

/// A FuseRank client: `rank`, `forecast`, `health` and `modelInfo` over a ZeroMQ DEALER connection per
/// endpoint (one server, or several replicas or brokers).
///
/// Each call sends `[empty][RequestHeader][request]` and waits for the reply whose request id
/// matches; replies to abandoned attempts are dropped. An attempt that gets no reply within the
/// timeout reconnects the socket (Lazy Pirate) and is retried after an exponential backoff with
/// jitter, as is an UNAVAILABLE reply; other codes are thrown at once (ranking is idempotent, so
/// retrying is safe). Errors are ``FuseRankClientError``s carrying a gRPC ``StatusCode``.
///
/// **Several endpoints.** Each attempt goes to the endpoint with the fewest calls waiting (ties
/// round-robin); a retry goes to another endpoint than the attempt that failed, and an endpoint
/// that just timed out is passed over while others answer, so a call whose server died is
/// answered by a live one.
///
/// **Thread safety.** A client is `Sendable`: any number of tasks may call it at once. Calls are
/// multiplexed over the one socket, which only the client's I/O thread touches; callers never
/// block a thread, they suspend until the I/O thread resumes them.
///
/// ```swift
/// let client = try FuseRankClient(endpoint: "tcp://127.0.0.1:5555")
/// let reply = try await client.rank(events: [Event(itemID: 1), Event(itemID: 2)], query: "comedy", topK: 10)
/// ```
public final class FuseRankClient: Sendable {
    /// The endpoints calls are spread over, in the order given.
    public let endpoints: [String]
    /// The first endpoint, e.g. `tcp://127.0.0.1:5555` (the only one for a single-server client).
    public var endpoint: String { endpoints[0] }
    /// Timeouts, retries and limits.
    public let options: FuseRankClientOptions
    private let balancer: EndpointBalancer

    /// Creates a client; ZeroMQ connects in the background, so a server that is not up yet is fine.
    /// - Parameters:
    ///   - endpoint: The server endpoint, e.g. `tcp://127.0.0.1:5555`.
    ///   - options: Timeouts, retries and limits.
    /// - Throws: ``FuseRankClientError/transport(_:)`` for a malformed endpoint or a socket failure.
    public convenience init(endpoint: String, options: FuseRankClientOptions = FuseRankClientOptions()) throws(FuseRankClientError) {
        try self.init(endpoints: [endpoint], options: options)
    }

    /// Creates a client that spreads its calls over several endpoints (servers or brokers).
    /// - Parameters:
    ///   - endpoints: One or more endpoints; each gets its own connection.
    ///   - options: Timeouts, retries and limits (the same for every endpoint).
    /// - Throws: ``FuseRankClientError/transport(_:)`` for no endpoint (`EINVAL`), a malformed
    ///   endpoint or a socket failure.
    public init(endpoints: [String], options: FuseRankClientOptions = FuseRankClientOptions()) throws(FuseRankClientError) {
        guard !endpoints.isEmpty else {
            throw .transport(ZMQError(operation: "FuseRankClient(endpoints: [])", errno: EINVAL))
        }
        self.endpoints = endpoints
        self.options = options
        var connections: [DealerConnection] = []
        do {
            for endpoint in endpoints { connections.append(try DealerConnection(endpoint: endpoint, options: options)) }
        } catch {
            for connection in connections { connection.close() }
            throw .transport(error)
        }
        balancer = EndpointBalancer(connections: connections)
    }

    deinit { close() }

    /// Closes the socket; calls in flight and later calls fail with ``FuseRankClientError/closed``.
    /// Idempotent; also done on deinit. Waits for the I/O thread to exit, which it does at once
    /// (it is woken through its pipe), so the wait is microseconds.
    public func close() {
        for connection in balancer.connections { connection.close() }
    }

    /// Counters of the connections, all endpoints added up (attempts and retries, requests sent,
    /// stale replies dropped, reconnects).
    public var statistics: ClientStatistics { .sum(balancer.connections.map(\.statistics)) }

    /// Ranks items for a user: the behaviour sequence, text and images go in, scored items come out.
    ///
    /// - Parameters:
    ///   - events: The behaviour sequence, oldest first.
    ///   - textTokens: Token ids from the model's `vocab.txt`.
    ///   - query: Free text the server tokenizes with the model's vocabulary (after `textTokens`).
    ///   - images: Image embeddings, each of the model's `image_dim` values.
    ///   - candidates: Items to rank; empty ranks the whole catalogue.
    ///   - topK: Items to return; 0 = all candidates (or the server's default for the catalogue).
    ///   - excludeSeen: Catalogue ranking only: leave out items already in `events`.
    ///   - model: The model name; empty = the server's default model.
    ///   - nowMs: Request time in Unix ms (for the time-since-last-event feature); 0 = unknown.
    ///   - sessionID: The server's per-session prefix cache key (send the whole history each
    ///     time; an append costs only the new events); empty = no cache.
    ///   - excludeItems: Items never to return.
    ///   - restrictTo: Rank only within these items (catalogue semantics); not with `candidates`.
    ///   - explainEvents: Reasons per returned item (`ScoredItem.reasons`: indices into `events`
    ///     with their score contribution, strongest first); 0 = none, at most 32.
    ///   - timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: The items, highest score first, plus the model's name and version and the
    ///   candidates it does not know.
    /// - Throws: ``FuseRankClientError``: the server's code (e.g. INVALID_ARGUMENT, NOT_FOUND), or
    ///   DEADLINE_EXCEEDED / UNAVAILABLE when every attempt timed out or was refused.
    public func rank(
        events: [Event] = [], textTokens: [UInt32] = [], query: String = "", images: [[Float]] = [],
        candidates: [Int64] = [], topK: UInt32 = 10, excludeSeen: Bool = false, model: String = "",
        nowMs: Int64 = 0, sessionID: String = "", excludeItems: [Int64] = [], restrictTo: [Int64] = [],
        explainEvents: UInt32 = 0, timeoutMs: Int? = nil
    ) async throws(FuseRankClientError) -> RankReply {
        let request = RankRequest(
            events: events, textTokens: textTokens, images: images.map { Embedding(values: $0) },
            candidates: candidates, topK: topK, excludeSeen: excludeSeen, model: model, nowMs: nowMs,
            query: query, sessionID: sessionID, excludeItems: excludeItems, restrictTo: restrictTo,
            explainEvents: explainEvents)
        return try await rank(request, timeoutMs: timeoutMs)
    }

    /// Ranks items for a ready-made request.
    /// - Parameters:
    ///   - request: The request.
    ///   - timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: The items, highest score first.
    /// - Throws: ``FuseRankClientError``.
    public func rank(_ request: RankRequest, timeoutMs: Int? = nil) async throws(FuseRankClientError) -> RankReply {
        try await call(.rank, request, timeoutMs: timeoutMs)
    }

    /// Asks whether the server is serving, and which models it has.
    /// - Parameter timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: Readiness, lifecycle state and model names.
    /// - Throws: ``FuseRankClientError``.
    public func health(timeoutMs: Int? = nil) async throws(FuseRankClientError) -> HealthReply {
        try await call(.health, HealthRequest(), timeoutMs: timeoutMs)
    }

    /// Describes a model: name, version and the input sizes it takes.
    /// - Parameters:
    ///   - model: The model name; empty = the server's default model.
    ///   - timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: The model's description.
    /// - Throws: ``FuseRankClientError`` (NOT_FOUND for an unknown model).
    public func modelInfo(model: String = "", timeoutMs: Int? = nil) async throws(FuseRankClientError) -> ModelInfo {
        try await call(.getModelInfo, ModelInfoRequest(model: model), timeoutMs: timeoutMs)
    }

    /// Titles, categories and the shop's ids of items, from the model's `items.tsv` (see
    /// ``ModelInfo/hasTitles``) or given with ``upsertItems(_:model:timeoutMs:)``.
    /// - Parameters:
    ///   - itemIDs: The items to describe.
    ///   - model: The model name; empty = the server's default model.
    ///   - timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: One entry per id, in order (`known` false where the model has none).
    /// - Throws: ``FuseRankClientError`` (NOT_FOUND for an unknown model).
    public func items(_ itemIDs: [Int64], model: String = "", timeoutMs: Int? = nil) async throws(FuseRankClientError) -> [ItemMetadata] {
        let reply: GetItemsReply = try await call(.getItems, GetItemsRequest(model: model, itemIDs: itemIDs), timeoutMs: timeoutMs)
        return reply.items
    }

    /// Makes the server rescan its model repositories now; answers once the scan is done.
    /// - Parameter timeoutMs: This call's per-attempt timeout; the client's by default (a scan
    ///   that loads a large model can take seconds).
    /// - Returns: Every model's served version and newest failed version, sorted by name.
    /// - Throws: ``FuseRankClientError``.
    public func reloadModels(timeoutMs: Int? = nil) async throws(FuseRankClientError) -> ReloadModelsReply {
        try await call(.reloadModels, ReloadModelsRequest(), timeoutMs: timeoutMs)
    }

    /// Adds items from their content, or replaces an item's content (an admin method,
    /// docs/operations.md "Live catalogue changes"): journalled by the server before it answers,
    /// seen by every Rank call that starts after the reply.
    /// - Parameters:
    ///   - items: At most 10,000, each id once.
    ///   - model: The model name; empty = the server's default model.
    ///   - timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: How many ids were new and how many replaced, and the journal record number.
    /// - Throws: ``FuseRankClientError`` (PERMISSION_DENIED, FAILED_PRECONDITION for a model without
    ///   a content projection, INVALID_ARGUMENT, RESOURCE_EXHAUSTED).
    public func upsertItems(_ items: [ItemContent], model: String = "", timeoutMs: Int? = nil) async throws(FuseRankClientError) -> UpsertItemsReply {
        try await call(.upsertItems, UpsertItemsRequest(model: model, items: items), timeoutMs: timeoutMs)
    }

    /// Hides items from ranking (`available` false: out of stock) or shows them again (an admin
    /// method). All or nothing: an unknown id fails the call with NOT_FOUND.
    /// - Parameters:
    ///   - itemIDs: Ids in the model's catalogue or upserted.
    ///   - available: false hides, true shows.
    ///   - model: The model name; empty = the server's default model.
    ///   - timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: The change's journal record number.
    /// - Throws: ``FuseRankClientError`` (PERMISSION_DENIED, NOT_FOUND).
    @discardableResult
    public func setItemsAvailable(_ itemIDs: [Int64], available: Bool, model: String = "", timeoutMs: Int? = nil)
        async throws(FuseRankClientError) -> UInt64 {
        let reply: SetItemsAvailableReply = try await call(
            .setItemsAvailable, SetItemsAvailableRequest(model: model, itemIDs: itemIDs, available: available), timeoutMs: timeoutMs)
        return reply.journalSequence
    }

    /// Forecasts demand: each series' mean and quantiles over the next `horizon` periods, from
    /// the model's forecaster (docs/model-format.md "Forecaster").
    /// - Parameters:
    ///   - series: Histories of consecutive periods (NaN = missing), at most 10,000; one pass.
    ///   - horizon: Periods to forecast: 1 ... the forecaster's `max_horizon`.
    ///   - quantiles: Levels in (0, 1); empty = the forecaster's `default_quantiles`.
    ///   - model: The model name; empty = the server's default model.
    ///   - timeoutMs: This call's per-attempt timeout; the client's by default.
    /// - Returns: One forecast per series, in request order, its `item_id` echoed.
    /// - Throws: ``FuseRankClientError`` (INVALID_ARGUMENT naming the field, FAILED_PRECONDITION
    ///   for a model without a forecaster, NOT_FOUND for an unknown model).
    public func forecast(
        _ series: [SeriesHistory], horizon: Int32, quantiles: [Float] = [], model: String = "", timeoutMs: Int? = nil
    ) async throws(FuseRankClientError) -> [SeriesForecast] {
        let reply: ForecastReply = try await call(
            .forecast, ForecastRequest(model: model, series: series, horizon: horizon, quantiles: quantiles), timeoutMs: timeoutMs)
        return reply.forecasts
    }

    /// One call with retries: a new request id per attempt, so a late reply to an earlier
    /// attempt is recognised as stale and dropped.
    private func call<Reply: WireMessage>(
        _ method: Method, _ request: some WireMessage, timeoutMs: Int?
    ) async throws(FuseRankClientError) -> Reply {
        let timeout = max(1, timeoutMs ?? options.timeoutMs)
        let body = request.encode()
        let policy = options.retry
        var random = SystemRandomNumberGenerator()
        var attempt = 0
        var failedOn: Int?  // the connection of the previous attempt
        while true {
            attempt += 1
            if Task.isCancelled { throw .cancelled }
            let index = balancer.pick(avoiding: failedOn)
            let connection = balancer.connections[index]
            failedOn = index
            connection.countAttempt(isRetry: attempt > 1)
            let id = connection.makeRequestID()
            let header = RequestHeader(
                method: method, requestID: id, timeoutMs: UInt32(clamping: timeout), metadata: options.metadata)
            let outcome = await connection.roundTrip(id: id, frames: [[], header.encode(), body], timeoutMs: timeout)

            let failure: FuseRankClientError
            let retryable: Bool
            switch outcome {
            case .reply(let replyHeader, let bytes):
                if replyHeader.code == .ok {
                    do {
                        return try Reply(bytes: bytes)
                    } catch {
                        throw .malformedReply(detail: "\(error)")
                    }
                }
                failure = .status(code: replyHeader.code, message: replyHeader.message, attempts: attempt)
                retryable = policy.shouldRetry(replyHeader.code)
            case .timedOut:
                balancer.timedOut(index, timeoutMs: timeout)
                failure = .timedOut(attempts: attempt, timeoutMs: timeout)
                retryable = true
            case .unavailable(let message):
                failure = .status(code: .unavailable, message: message, attempts: attempt)
                retryable = true
            case .failed(let error):
                throw error
            }
            guard retryable, attempt <= policy.retries else { throw failure }
            let pauseMs = policy.backoffMs(beforeRetry: attempt, using: &random)
            do {
                try await Task.sleep(for: .milliseconds(pauseMs))
            } catch {
                throw .cancelled
            }
        }
    }
}
