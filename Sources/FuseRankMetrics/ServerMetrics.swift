import CoreMetrics
import Foundation
import Prometheus

/// The server's Prometheus series, behind one small API: the only place their names are written.
///
/// Recording goes through swift-metrics types (`Counter`, `Timer`, `Recorder`, `Gauge`) made by a
/// `PrometheusMetricsFactory` bound to this instance's own registry, so two servers in one process
/// (the tests) never share counts. Every method is thread-safe. The names and labels are the
/// contract documented in `docs/metrics.md`.
public final class ServerMetrics: Sendable {
    /// The registry the series live in; ``exposition()`` renders it.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    /// `fuserank_model_version_info` gauges by model, so a swap can unregister the old series.
    private let versionInfo = Locked<[String: (version: String, gauge: Prometheus.Gauge)]>([:])

    /// Series names (the contract).
    public enum Name {
        public static let requests = "fuserank_requests_total"
        public static let requestDuration = "fuserank_request_duration_seconds"
        public static let queueDuration = "fuserank_queue_duration_seconds"
        public static let computeDuration = "fuserank_compute_duration_seconds"
        public static let batchSize = "fuserank_batch_size"
        public static let queueDepth = "fuserank_queue_depth"
        public static let modelLoads = "fuserank_model_loads_total"
        public static let modelVersionInfo = "fuserank_model_version_info"  // made from a descriptor below
        public static let authFailures = "fuserank_auth_failures_total"
        public static let residentMemory = "process_resident_memory_bytes"
        public static let sessionHits = "fuserank_session_cache_hits_total"
        public static let sessionMisses = "fuserank_session_cache_misses_total"
        public static let sessionEvictions = "fuserank_session_cache_evictions_total"
        public static let sessionCount = "fuserank_session_cache_sessions"
        public static let sessionBytes = "fuserank_session_cache_bytes"
        public static let brokerMessages = "fuserank_broker_messages_total"
        public static let brokerBytes = "fuserank_broker_bytes_total"
        public static let brokerServers = "fuserank_broker_servers"
        public static let catalogueContentItems = "fuserank_catalogue_content_items"
        public static let catalogueHiddenItems = "fuserank_catalogue_hidden_items"
        public static let catalogueLogApplied = "fuserank_catalogue_log_applied"
        public static let catalogueLogLength = "fuserank_catalogue_log_length"
        public static let catalogueLogConnected = "fuserank_catalogue_log_connected"
        public static let catalogueLogSecondsSinceContact = "fuserank_catalogue_log_seconds_since_contact"
        public static let forecastSeries = "fuserank_forecast_series_total"
        public static let forecastComputeDuration = "fuserank_forecast_compute_duration_seconds"
    }

    /// Latency buckets: 100 µs to 10 s.
    static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(10),
    ]

    /// Batch size buckets: powers of two up to 256.
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]

    /// A fresh registry with the always-present series (queue depth, auth failures, memory) at 0;
    /// `serverSeries` false leaves out the first two (a broker's registry: memory only).
    public init(serverSeries: Bool = true) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        factory.valueHistogramBuckets = [Name.batchSize: Self.batchBuckets]
        self.factory = factory
        if serverSeries {
            Gauge(label: Name.queueDepth, factory: factory).record(0)
            Counter(label: Name.authFailures, factory: factory).increment(by: 0)
        }
        updateResidentMemory()
    }

    /// Counts one reply and its latency from receipt to reply sent.
    /// - Parameters:
    ///   - method: the method's short name (`Rank`, `Health`, ...; `unknown` for an unknown path).
    ///   - model: the model name, empty when the call named none (or was undecodable).
    ///   - code: the status code's gRPC name, e.g. `OK`, `INVALID_ARGUMENT`.
    ///   - duration: receipt to reply.
    public func recordReply(method: String, model: String, code: String, duration: Duration) {
        Counter(label: Name.requests, dimensions: [("method", method), ("model", model), ("code", code)], factory: factory)
            .increment()
        Timer(label: Name.requestDuration, dimensions: [("method", method), ("model", model)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    /// Records one batch a worker ranked: its size, and per request its queue wait.
    /// - Parameters:
    ///   - model: the model name.
    ///   - size: requests in the batch.
    ///   - compute: the forward pass and scoring of the whole batch.
    public func recordBatch(model: String, size: Int, compute: Duration) {
        Recorder(label: Name.batchSize, dimensions: [("model", model)], aggregate: true, factory: factory)
            .record(size)
        Timer(label: Name.computeDuration, dimensions: [("model", model)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(compute))
    }

    /// Records one Forecast request a worker ran: its series, and the forward passes over them.
    /// - Parameters:
    ///   - model: the model name.
    ///   - series: the series forecast.
    ///   - compute: every pass of the request, quantiles included.
    public func recordForecast(model: String, series: Int, compute: Duration) {
        Counter(label: Name.forecastSeries, dimensions: [("model", model)], factory: factory).increment(by: series)
        Timer(label: Name.forecastComputeDuration, dimensions: [("model", model)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(compute))
    }

    /// Records how long one request waited in the queue before a worker took it.
    public func recordQueueWait(model: String, duration: Duration) {
        Timer(label: Name.queueDuration, dimensions: [("model", model)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    /// Sets the number of Rank requests waiting for a worker.
    public func setQueueDepth(_ depth: Int) {
        Gauge(label: Name.queueDepth, factory: factory).record(depth)
    }

    /// The live catalogue of a served model: items with a content row (UpsertItems) and hidden
    /// items (SetItemsAvailable), as of its last change.
    public func setLiveCatalogue(model: String, contentItems: Int, hiddenItems: Int) {
        Gauge(label: Name.catalogueContentItems, dimensions: [("model", model)], factory: factory).record(contentItems)
        Gauge(label: Name.catalogueHiddenItems, dimensions: [("model", model)], factory: factory).record(hiddenItems)
    }

    /// Counts one attempt to load a model version.
    /// - Parameters:
    ///   - model: the model name.
    ///   - version: the version folder (or the bundle's version for a fixed `--model`).
    ///   - ok: whether it loaded, validated and warmed up.
    public func recordModelLoad(model: String, version: String, ok: Bool) {
        Counter(
            label: Name.modelLoads, dimensions: [("model", model), ("version", version), ("result", ok ? "ok" : "error")],
            factory: factory
        ).increment()
    }

    /// Marks `version` as the one `model` serves (gauge 1), removing the previous version's series;
    /// nil removes the model's series (it is no longer served).
    public func setServedVersion(model: String, version: String?) {
        versionInfo.withLock { table in
            if let old = table[model] {
                if old.version == version { return }
                registry.unregisterGauge(old.gauge)
                table[model] = nil
            }
            guard let version else { return }
            let gauge = registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "fuserank", metricName: "model_version", unitName: "info",
                    helpText: "1 for the version each model serves"),
                labels: [("model", model), ("version", version)])
            gauge.set(to: 1.0)
            table[model] = (version, gauge)
        }
    }

    /// Counts one refused connection (unknown CURVE key, plaintext client on a CURVE socket).
    public func recordAuthFailure() {
        Counter(label: Name.authFailures, factory: factory).increment()
    }

    /// The session cache's counters as last exported (the counters advance by the difference).
    private let sessionSeen = Locked<(hits: Int, misses: Int, evictions: Int)>((0, 0, 0))

    /// Exports the session cache's counters (hits, misses, evictions: totals since start) and its
    /// size; called before every scrape by the server that owns the cache.
    public func updateSessionCache(hits: Int, misses: Int, evictions: Int, sessions: Int, bytes: Int) {
        sessionSeen.withLock { seen in
            Counter(label: Name.sessionHits, factory: factory).increment(by: Int64(max(0, hits - seen.hits)))
            Counter(label: Name.sessionMisses, factory: factory).increment(by: Int64(max(0, misses - seen.misses)))
            Counter(label: Name.sessionEvictions, factory: factory).increment(by: Int64(max(0, evictions - seen.evictions)))
            seen = (max(seen.hits, hits), max(seen.misses, misses), max(seen.evictions, evictions))
        }
        Gauge(label: Name.sessionCount, factory: factory).record(sessions)
        Gauge(label: Name.sessionBytes, factory: factory).record(bytes)
    }

    /// A broker's traffic as last exported, by (socket, direction): (messages, bytes).
    private let brokerSeen = Locked<[String: (messages: UInt64, bytes: UInt64)]>([:])

    /// Exports a broker's statistics: `fuserank_broker_messages_total` and `_bytes_total` by
    /// `socket` (frontend, backend) and `direction` (in, out), totals since start; and the servers
    /// connected now.
    /// - Parameter traffic: (socket, direction, messages, bytes) for each of the four counters.
    public func updateBroker(traffic: [(socket: String, direction: String, messages: UInt64, bytes: UInt64)], servers: Int) {
        brokerSeen.withLock { seen in
            for t in traffic {
                let key = t.socket + "/" + t.direction
                let last = seen[key] ?? (0, 0)
                let dims = [("socket", t.socket), ("direction", t.direction)]
                Counter(label: Name.brokerMessages, dimensions: dims, factory: factory)
                    .increment(by: Int64(clamping: t.messages &- min(t.messages, last.messages)))
                Counter(label: Name.brokerBytes, dimensions: dims, factory: factory)
                    .increment(by: Int64(clamping: t.bytes &- min(t.bytes, last.bytes)))
                seen[key] = (max(last.messages, t.messages), max(last.bytes, t.bytes))
            }
        }
        Gauge(label: Name.brokerServers, factory: factory).record(servers)
    }

    /// Called before every scrape (e.g. to export a cache's counters), in the order added.
    private let beforeScrape = Locked<[@Sendable () -> Void]>([])

    /// Adds what runs before every scrape (the owner of a cache exports its counters there).
    public func onScrape(_ refresh: @escaping @Sendable () -> Void) {
        beforeScrape.withLock { $0.append(refresh) }
    }

    /// Exports each model's position in the shared catalogue log: changes applied, the stream's
    /// length as last heard (their difference is the lag), whether the replica reaches Redis, and
    /// the seconds since it last did.
    public func updateCatalogueLog(_ positions: [(model: String, applied: UInt64, length: UInt64)], connected: Bool,
                                   secondsSinceContact: Double) {
        for p in positions {
            Gauge(label: Name.catalogueLogApplied, dimensions: [("model", p.model)], factory: factory).record(Int64(clamping: p.applied))
            Gauge(label: Name.catalogueLogLength, dimensions: [("model", p.model)], factory: factory).record(Int64(clamping: p.length))
        }
        Gauge(label: Name.catalogueLogConnected, factory: factory).record(connected ? 1 : 0)
        Gauge(label: Name.catalogueLogSecondsSinceContact, factory: factory).record(secondsSinceContact)
    }

    /// Reads the resident set size into `process_resident_memory_bytes`.
    public func updateResidentMemory() {
        if let bytes = ResidentMemory.bytes() {
            Gauge(label: Name.residentMemory, factory: factory).record(bytes)
        }
    }

    /// The Prometheus text exposition of every series, memory refreshed first.
    public func exposition() -> String {
        updateResidentMemory()
        for refresh in beforeScrape.withLock({ $0 }) { refresh() }
        return registry.emitToString()
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
    }
}

/// A value behind a lock.
// @unchecked Sendable: `value` is only reached inside `withLock`, under `lock`.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
