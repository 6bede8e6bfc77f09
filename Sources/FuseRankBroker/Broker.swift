import Foundation
import FuseRankTransport
import FuseRankWire
import Logging

/// The endpoints a started ``Broker`` is bound to, with `*`/`0` ports resolved.
public struct BrokerEndpoints: Sendable, Equatable {
    /// Where clients connect.
    public let frontend: String
    /// Where servers connect (`fuserank-server --connect`).
    public let backend: String
    /// Where the broker answers Health itself; nil when not configured.
    public let health: String?
}

/// A broker in front of FuseRank replicas: a ROUTER for clients and a ROUTER for servers, with
/// its own forwarding loop (``BrokerForwarder``) that routes each call to a serving replica (a
/// session's Rank calls to the same one: ``ServerRoster``) and appends the caller's identity.
///
/// One thread owns every socket: the frontend, the backend, a monitor of the backend (failed
/// handshakes) and the optional Health ROUTER. It sleeps in `zmq_poll` on them and a wake pipe,
/// forwards calls and replies, keeps the roster of serving replicas from their announcements,
/// answers Health, and logs the statistics. ``pause()``, ``resume()`` and ``stop()`` reach it
/// through the wake pipe.
///
/// Each side can run CURVE (``BrokerConfiguration/curveSecretKeyPath``): the broker is the CURVE
/// server of both, with an allowlist each (clients on the frontend, servers on the backend),
/// checked by a ``ZAPHandler`` that is running before the socket binds (fail closed). A ZAP
/// handler serves a whole ZeroMQ context, so each side has its own context and the two lists
/// never mix. The servers authenticate the broker by pinning its public key (`--broker-key`).
///
/// Health is answered on a separate endpoint (``BrokerConfiguration/health``): a Health call sent
/// to the frontend is forwarded and answered by one of the servers, which is what a client wants
/// to know. The broker's own Health reply carries the statistics in its trailers.
///
/// ```swift
/// let broker = try Broker(configuration: BrokerConfiguration(frontend: "tcp://*:5555", backend: "tcp://*:5556"), logger: logger)
/// let endpoints = try broker.start()
/// broker.stop()              // from any thread: forwarding ends, the last statistics are logged
/// broker.waitUntilStopped()
/// ```
// @unchecked Sendable: the mutable state (`pauseRequested`, `stopRequested`, `started`,
// `snapshot`) is read and written only while `condition` is locked; the sockets live in the
// broker thread's frame; `wake` is thread-safe.
public final class Broker: @unchecked Sendable {
    /// How the broker runs.
    public let configuration: BrokerConfiguration
    /// The key pair and allowlists read from ``BrokerConfiguration``'s key files; nil: no CURVE.
    private let curve: BrokerCurve?
    private let logger: Logger
    /// Refused clients (frontend) and servers (backend) are logged at most once a minute per peer
    /// address on each side.
    private let authLogs = BrokerSockets.AuthLogs(frontend: AuthFailureLog(), backend: AuthFailureLog())
    private let wake: WakePipe
    private let condition = NSCondition()
    private var pauseRequested = false
    private var stopRequested = false
    private var started = false
    private var snapshot = BrokerStatistics()

    /// Checks the configuration and reads the CURVE key files.
    /// - Parameters:
    ///   - configuration: how to run.
    ///   - logger: where lifecycle, server connections, refused peers and statistics are logged.
    /// - Throws: ``BrokerError`` for a bad configuration, an unusable key file, or when the wake
    ///   pipe cannot be made.
    public init(configuration: BrokerConfiguration, logger: Logger) throws(BrokerError) {
        if let problem = configuration.validationProblem() { throw .badConfiguration(problem) }
        self.configuration = configuration
        self.logger = logger
        do {
            curve = try BrokerCurve(configuration)
        } catch {
            throw .badKeys(error)
        }
        if let curve {
            logger.info(
                "CURVE: broker public key \(curve.keys.publicKey); frontend \(curve.clients.map { "\($0.count) client key(s) allowed" } ?? "plaintext"), backend \(curve.servers.map { "\($0.count) server key(s) allowed" } ?? "plaintext")")
        }
        do {
            wake = try WakePipe()
        } catch {
            throw .transport(error)
        }
    }

    /// The latest snapshot: state, traffic (up to the last poll round; exact once stopped) and
    /// connected servers. Safe from any thread.
    public var statistics: BrokerStatistics { condition.withLock { snapshot } }

    /// The state now.
    public var state: BrokerState { condition.withLock { snapshot.state } }

    /// Binds the sockets (each CURVE side behind its ZAP handler) and starts the broker thread.
    /// - Returns: the bound endpoints, ports resolved.
    /// - Throws: ``BrokerError/transport(_:)`` when a bind fails (the broker is then stopped).
    @discardableResult
    public func start() throws(BrokerError) -> BrokerEndpoints {
        let first = condition.withLock {
            defer { started = true }
            return !started
        }
        guard first else { throw .alreadyStarted }
        let c = configuration
        let sockets: BrokerSockets
        do {
            sockets = try BrokerSockets(configuration: c, curve: curve, authLogs: authLogs, logger: logger)
        } catch {
            setState(.stopped)
            throw .transport(error)
        }
        let endpoints = sockets.endpoints
        // The sockets are handed to the broker thread here; this thread never touches them again.
        let thread = Thread { [self] in
            run(sockets)
            sockets.close(logger: logger)
            setState(.stopped)
        }
        thread.name = "fuserank-broker"
        setState(.forwarding)
        logger.info(
            "forwarding: clients \(endpoints.frontend) -> servers \(endpoints.backend)\(endpoints.health.map { ", health on \($0)" } ?? ""); heartbeats every \(c.heartbeat.intervalMs) ms, timeout \(c.heartbeat.timeoutMs) ms")
        thread.start()
        return endpoints
    }

    /// Stops forwarding: calls and replies wait in the sockets' queues. Safe from any thread.
    public func pause() { request(pause: true) }

    /// Forwards again after ``pause()``. Safe from any thread.
    public func resume() { request(pause: false) }

    /// Stops the broker: forwarding ends, the last statistics are logged (exact), the sockets
    /// close (replies already queued for clients are still delivered for a second). Safe from any
    /// thread and idempotent; returns at once. Before ``start()`` it makes the broker stop as
    /// soon as it has started.
    public func stop() {
        let first = condition.withLock {
            defer { stopRequested = true }
            return !stopRequested
        }
        if first { logger.info("stop requested") }
        wake.signal()
    }

    /// Blocks until the broker has stopped (at once if it was never started).
    public func waitUntilStopped() {
        condition.lock()
        defer { condition.unlock() }
        guard started else { return }
        while snapshot.state != .stopped { condition.wait() }
    }

    // MARK: The broker thread

    private func request(pause: Bool) {
        condition.withLock { pauseRequested = pause }
        wake.signal()
    }

    private func setState(_ state: BrokerState) {
        condition.lock()
        let previous = snapshot.state
        snapshot.state = state
        condition.broadcast()
        condition.unlock()
        if previous != state { logger.info("lifecycle: \(previous.rawValue) -> \(state.rawValue)") }
    }

    /// The broker thread: forwards, counts servers, answers Health and logs the statistics until
    /// a stop is requested or a socket fails.
    private func run(_ sockets: BrokerSockets) {
        let clock = ContinuousClock()
        let logInterval = Duration.milliseconds(configuration.statisticsLogIntervalMs)
        var forwarder = BrokerForwarder(frontend: sockets.frontend, backend: sockets.backend,
                                        silenceLimit: .milliseconds(Framing.silentServerMs))
        var poller = ZMQPoller()
        let wakeItem = poller.add(fileDescriptor: wake.fileDescriptor)
        let monitorItem = poller.add(sockets.monitor)
        let healthItem = sockets.health.map { poller.add($0) }
        let frontendItem = poller.add(sockets.frontend)
        let backendItem = poller.add(sockets.backend)
        var paused = false
        var nextLog = clock.now + logInterval
        var lastLogged = BrokerTraffic()

        while true {
            let (stop, pause) = condition.withLock { (stopRequested, pauseRequested) }
            if stop { break }
            if pause != paused {
                paused = pause
                setState(paused ? .paused : .forwarding)
            }
            let events = forwarder.events(paused: paused)
            poller.setEvents(events.frontend, at: frontendItem)
            poller.setEvents(events.backend, at: backendItem)
            let ready: [ZMQPollEvents]
            do {
                // A held call is tried again soon; the roster is checked for silent servers each second.
                let wakeAt = forwarder.isHolding ? clock.now + .milliseconds(5) : min(nextLog, clock.now + .seconds(1))
                ready = try poller.poll(timeoutMs: ZMQPoller.timeoutMs(until: wakeAt, atMost: 1000))
            } catch {
                logger.critical("zmq_poll failed, stopping: \(error)")
                break
            }
            if ready[wakeItem].contains(.readable) { wake.drain() }
            do {
                let now = clock.now
                if ready[backendItem].contains(.readable) { try forwarder.forwardReplies(at: now) }
                if !paused {
                    forwarder.expire(at: now)
                    if ready[frontendItem].contains(.readable) || forwarder.isHolding { try forwarder.forwardCalls() }
                }
            } catch {
                logger.critical("forwarding failed, stopping: \(error)")
                break
            }
            let traffic = forwarder.traffic
            let changes = forwarder.takeEvents()
            let servers = forwarder.roster.count
            let joined = changes.filter { if case .joined = $0 { true } else { false } }.count
            condition.withLock {
                snapshot.traffic = traffic
                snapshot.servers = servers
                snapshot.serversAccepted += joined
            }
            for change in changes {
                switch change {
                case let .joined(id): logger.info("server \(Self.hex(id)) ready: \(servers) serving")
                case let .left(id, why): logger.info("server \(Self.hex(id)) left (\(why)): \(servers) serving")
                }
            }
            if ready[monitorItem].contains(.readable) { readMonitor(sockets.monitor) }
            if let healthItem, let health = sockets.health, ready[healthItem].contains(.readable) { answerHealth(on: health) }
            if clock.now >= nextLog {
                if traffic != lastLogged {
                    logger.info("statistics: \(statistics.summary)")
                    lastLogged = traffic
                }
                nextLog = clock.now + logInterval
            }
        }
        setState(.stopping)
        logger.info("final statistics: \(statistics.summary)")
    }

    /// Logs the backend's failed handshakes (a server whose CURVE set-up does not match).
    private func readMonitor(_ monitor: ZMQSocket) {
        while let frames = try? monitor.receiveMultipart(dontWait: true) {
            guard let event = ZMQMonitorEvent(frames: frames),
                  let line = authLogs.backend.line(for: AuthFailure(peer: event.endpoint, reason: .handshake), peerKind: "server")
            else { continue }
            logger.warning("backend: \(line)")
        }
    }

    /// A routing id for the log.
    private static func hex(_ id: [UInt8]) -> String { id.map { String(format: "%02x", $0) }.joined() }

    /// Answers every call waiting on the Health socket.
    private func answerHealth(on socket: ZMQSocket) {
        while let frames = try? socket.receiveMultipart(dontWait: true) {
            let reply = BrokerHealth.reply(to: frames, statistics: statistics)
            do {
                try socket.send(reply, dontWait: true)
            } catch {
                logger.debug("health reply dropped: \(error)")
            }
        }
    }
}
