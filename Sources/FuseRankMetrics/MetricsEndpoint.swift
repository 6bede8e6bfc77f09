import FlyingFox
import Foundation

/// The `--metrics-bind` HTTP server: `GET /metrics` answers ``ServerMetrics/exposition()`` in the
/// Prometheus text format (0.0.4); every other path is 404.
///
/// FlyingFox runs on Swift concurrency; ``startBlocking(metrics:bind:)`` bridges it to the
/// server's plain threads: it returns once the socket listens (or throws why it cannot).
public final class MetricsEndpoint: Sendable {
    private let server: HTTPServer
    private let task: Task<Void, any Error>
    /// The TCP port listened on (a requested port 0 resolved).
    public let port: UInt16
    /// The host listened on, as given.
    public let host: String

    /// Parses `HOST:PORT` (an IPv4 address, `localhost` or `*`; port 0 picks a free one).
    /// - Returns: host and port, or nil when `bind` is not of that form.
    public static func parse(_ bind: String) -> (host: String, port: UInt16)? {
        guard let colon = bind.lastIndex(of: ":") else { return nil }
        let host = String(bind[..<colon])
        guard let port = UInt16(bind[bind.index(after: colon)...]), !host.isEmpty else { return nil }
        let ip = host == "localhost" ? "127.0.0.1" : host == "*" ? "0.0.0.0" : host
        guard (try? sockaddr_in.inet(ip4: ip, port: port)) != nil else { return nil }
        return (ip, port)
    }

    private init(server: HTTPServer, task: Task<Void, any Error>, host: String, port: UInt16) {
        self.server = server
        self.task = task
        self.host = host
        self.port = port
    }

    /// Starts listening on `bind` and serving `metrics`; returns once the socket listens.
    /// - Parameters:
    ///   - metrics: the series to expose.
    ///   - bind: `HOST:PORT`, see ``parse(_:)``.
    /// - Throws: ``MetricsEndpointError`` for a malformed address or a socket that cannot listen.
    public static func start(metrics: ServerMetrics, bind: String) async throws -> MetricsEndpoint {
        guard let (host, port) = parse(bind) else { throw MetricsEndpointError.badAddress(bind) }
        let server = HTTPServer(address: try sockaddr_in.inet(ip4: host, port: port), timeout: 15, logger: .disabled)
        await server.appendRoute("GET /metrics") { _ in
            HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.exposition().utf8))
        }
        // Whichever comes first decides: the socket listens, or run() fails (address in use).
        let failure = LockedBox<(any Error)?>(nil)
        let task = Task {
            do {
                try await server.run()
            } catch {
                failure.setIfNil(error)
                throw error
            }
        }
        while await !server.isListening {
            if let error = failure.get() { throw MetricsEndpointError.cannotListen(bind, "\(error)") }
            try await Task.sleep(for: .milliseconds(2))  // FlyingFox offers no "listening or failed" wait
        }
        var bound = port
        if case let .ip4(_, p)? = await server.listeningAddress { bound = p }
        return MetricsEndpoint(server: server, task: task, host: host, port: bound)
    }

    /// ``start(metrics:bind:)`` for a plain thread (the server's main thread): blocks until it
    /// listens. Never call it from a Swift concurrency task (it would block a pool thread).
    public static func startBlocking(metrics: ServerMetrics, bind: String) throws -> MetricsEndpoint {
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedBox<Result<MetricsEndpoint, any Error>?>(nil)
        Task {
            do {
                outcome.setIfNil(.success(try await start(metrics: metrics, bind: bind)))
            } catch {
                outcome.setIfNil(.failure(error))
            }
            done.signal()
        }
        done.wait()
        return try outcome.get()!.get()
    }

    /// Stops listening.
    public func stop() async {
        await server.stop(timeout: 1)
        task.cancel()
    }
}

/// Why the metrics endpoint cannot start.
public enum MetricsEndpointError: Error, Sendable, CustomStringConvertible {
    /// `--metrics-bind` is not `HOST:PORT` with an IPv4 host.
    case badAddress(String)
    /// The socket cannot listen (address in use, permission).
    case cannotListen(String, String)

    public var description: String {
        switch self {
        case let .badAddress(bind): "--metrics-bind \"\(bind)\" is not HOST:PORT (an IPv4 address, localhost or *)"
        case let .cannotListen(bind, reason): "cannot serve metrics on \(bind): \(reason)"
        }
    }
}

/// A value behind a lock, for handing a result from a task to a waiting thread.
// @unchecked Sendable: `value` is only reached under `lock`.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    func setIfNil<Wrapped>(_ newValue: Wrapped) where Value == Wrapped? {
        lock.lock()
        if value == nil { value = newValue }
        lock.unlock()
    }
}
