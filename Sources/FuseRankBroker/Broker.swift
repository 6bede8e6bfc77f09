import Foundation
import FuseRankTransport
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

/// A broker in front of FuseRank replicas: libzmq's `zmq_proxy_steerable` between a ROUTER for
/// clients and a DEALER for servers, steered through its control socket.
///
/// Two threads. The proxy thread owns the frontend, the backend and the proxy's end of the
/// control PAIR, and does nothing but `zmq_proxy_steerable`: every call and reply passes through
/// libzmq untouched (the servers echo the envelope the ROUTER prepended, so replies find their
/// client). The control thread owns the other end of the control PAIR, a monitor of the backend
/// (servers connecting and disconnecting) and the optional Health ROUTER; it sends PAUSE, RESUME,
/// STATISTICS and TERMINATE, and sleeps in `zmq_poll` on those sockets and a wake pipe.
///
/// Health cannot be answered on the frontend: `zmq_proxy_steerable` forwards every message and
/// offers no hook to intercept one, and a Health call sent to the frontend is answered by one of the
/// servers (which is what a client wants to know). The broker's own Health is therefore served on
/// a separate endpoint (``BrokerConfiguration/health``); its reply's trailers carry the statistics.
///
/// ```swift
/// let broker = try Broker(configuration: BrokerConfiguration(frontend: "tcp://*:5555", backend: "tcp://*:5556"), logger: logger)
/// let endpoints = try broker.start()
/// broker.stop()              // from any thread: PAUSE, last STATISTICS, TERMINATE
/// broker.waitUntilStopped()
/// ```
// @unchecked Sendable: the mutable state (`commands`, `stopRequested`, `started`, `snapshot`,
// `proxyExited`) is read and written only while `condition` is locked; the sockets live in the
// two threads' frames; `wake` is thread-safe.
public final class Broker: @unchecked Sendable {
    /// How the broker runs.
    public let configuration: BrokerConfiguration
    private let logger: Logger
    private let wake: WakePipe
    private let condition = NSCondition()
    private var commands: [ZMQProxyCommand] = []
    private var stopRequested = false
    private var started = false
    private var proxyExited = false
    private var snapshot = BrokerStatistics()

    /// Checks the configuration.
    /// - Parameters:
    ///   - configuration: how to run.
    ///   - logger: where lifecycle, server connections and statistics are logged.
    /// - Throws: ``BrokerError`` for a bad configuration or when the wake pipe cannot be made.
    public init(configuration: BrokerConfiguration, logger: Logger) throws(BrokerError) {
        if let problem = configuration.validationProblem() { throw .badConfiguration(problem) }
        self.configuration = configuration
        self.logger = logger
        do {
            wake = try WakePipe()
        } catch {
            throw .transport(error)
        }
    }

    /// The latest snapshot: state, traffic (at most ``BrokerConfiguration/statisticsRefreshMs``
    /// old; exact once stopped) and connected servers. Safe from any thread.
    public var statistics: BrokerStatistics { condition.withLock { snapshot } }

    /// The state now.
    public var state: BrokerState { condition.withLock { snapshot.state } }

    /// Binds the sockets and starts the proxy and control threads.
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
        let sockets: Sockets
        do {
            sockets = try Sockets(configuration: c)
        } catch {
            setState(.stopped)
            throw .transport(error)
        }
        let endpoints = sockets.endpoints
        let proxyDone = DispatchSemaphore(value: 0)
        let proxy = Thread { [self] in
            runProxy(sockets.frontend, sockets.backend, sockets.proxyControl)
            proxyDone.signal()
        }
        proxy.name = "fuserank-broker-proxy"
        let control = Thread { [self] in
            runControl(sockets.controller, sockets.monitor, sockets.health, proxyDone: proxyDone)
            do {
                try sockets.context.terminate()
            } catch {
                logger.error("cannot terminate the ZeroMQ context: \(error)")
            }
            setState(.stopped)
        }
        control.name = "fuserank-broker-control"
        setState(.forwarding)
        logger.info(
            "forwarding: clients \(endpoints.frontend) -> servers \(endpoints.backend)\(endpoints.health.map { ", health on \($0)" } ?? ""); heartbeats every \(c.heartbeat.intervalMs) ms, timeout \(c.heartbeat.timeoutMs) ms")
        proxy.start()
        control.start()
        return endpoints
    }

    /// Stops forwarding (PAUSE): calls wait in the sockets' queues. Safe from any thread.
    public func pause() { enqueue(.pause) }

    /// Forwards again after ``pause()`` (RESUME). Safe from any thread.
    public func resume() { enqueue(.resume) }

    /// Stops the broker: PAUSE, a last STATISTICS (logged), TERMINATE, sockets closed. Safe from
    /// any thread and idempotent; returns at once. Before ``start()`` it makes the broker stop as
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

    // MARK: Threads

    private func enqueue(_ command: ZMQProxyCommand) {
        condition.withLock { commands.append(command) }
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

    /// The proxy thread: `zmq_proxy_steerable` until TERMINATE (or a failure), then close.
    private func runProxy(_ frontend: ZMQSocket, _ backend: ZMQSocket, _ control: ZMQSocket) {
        do {
            try zmqProxySteerable(frontend: frontend, backend: backend, control: control)
        } catch {
            logger.critical("the proxy stopped: \(error)")
        }
        frontend.close()  // linger: replies already queued for clients are still delivered
        backend.close()
        control.close()
        condition.withLock { proxyExited = true }
        wake.signal()
    }

    /// The control thread: steers the proxy, refreshes and logs the statistics, counts servers,
    /// answers Health; at stop: PAUSE, STATISTICS, TERMINATE.
    private func runControl(_ controller: ZMQSocket, _ monitor: ZMQSocket, _ health: ZMQSocket?, proxyDone: DispatchSemaphore) {
        let c = configuration
        var poller = ZMQPoller()
        let wakeItem = poller.add(fileDescriptor: wake.fileDescriptor)
        let controlItem = poller.add(controller)
        let monitorItem = poller.add(monitor)
        let healthItem = health.map { poller.add($0) }
        let clock = ContinuousClock()
        var awaitingStatistics = false
        var nextRefresh = clock.now
        var nextLog = clock.now + .milliseconds(c.statisticsLogIntervalMs)
        var lastLogged = ZMQProxyStatistics()
        var stopDeadline: ContinuousClock.Instant?
        var finalRequested = false

        func send(_ command: ZMQProxyCommand) {
            do {
                if try !controller.send([command.frame]) {
                    logger.error("the proxy did not take \(command.rawValue) within a second")
                }
            } catch {
                logger.error("cannot send \(command.rawValue) to the proxy: \(error)")
            }
        }

        while true {
            let (pending, stop, exited) = condition.withLock {
                defer { commands.removeAll() }
                return (commands, stopRequested, proxyExited)
            }
            if exited { break }
            let now = clock.now
            if stop && stopDeadline == nil {
                setState(.stopping)
                send(.pause)  // nothing moves after this, so the last statistics are exact
                stopDeadline = now + .seconds(2)
            }
            if let deadline = stopDeadline {
                if !finalRequested && !awaitingStatistics {
                    send(.statistics)
                    awaitingStatistics = true
                    finalRequested = true
                } else if (finalRequested && !awaitingStatistics) || now >= deadline {
                    break
                }
            } else {
                for command in pending {
                    send(command)
                    setState(command == .pause ? .paused : .forwarding)
                }
                if now >= nextRefresh && !awaitingStatistics {
                    send(.statistics)
                    awaitingStatistics = true
                    nextRefresh = now + .milliseconds(c.statisticsRefreshMs)
                }
                if now >= nextLog {
                    let current = statistics
                    if current.traffic != lastLogged {
                        logger.info("statistics: \(current.summary)")
                        lastLogged = current.traffic
                    }
                    nextLog = now + .milliseconds(c.statisticsLogIntervalMs)
                }
            }
            // Sleep until the next log line, refresh (unless one is awaited) or the stop deadline;
            // a reply, a monitor event, a Health call or the wake pipe ends the sleep sooner.
            var wakeAt = awaitingStatistics ? nextLog : min(nextLog, nextRefresh)
            if let stopDeadline { wakeAt = min(wakeAt, stopDeadline) }
            let ready: [ZMQPollEvents]
            do {
                ready = try poller.poll(timeoutMs: Self.milliseconds(until: wakeAt, clock: clock))
            } catch {
                logger.critical("zmq_poll failed, stopping: \(error)")
                break
            }
            if ready[wakeItem].contains(.readable) { wake.drain() }
            if ready[controlItem].contains(.readable) {
                while let frames = try? controller.receiveMultipart(dontWait: true) {
                    guard let traffic = ZMQProxyStatistics(frames: frames) else {
                        logger.error("unexpected reply on the proxy's control socket (\(frames.count) frames)")
                        continue
                    }
                    condition.withLock { snapshot.traffic = traffic }
                    awaitingStatistics = false
                }
            }
            if ready[monitorItem].contains(.readable) { readMonitor(monitor) }
            if let healthItem, let health, ready[healthItem].contains(.readable) { answerHealth(on: health) }
        }
        let exited = condition.withLock { proxyExited }
        if !exited { send(.terminate) }
        proxyDone.wait()
        logger.info("final statistics: \(statistics.summary)")
        controller.close()
        monitor.close()
        health?.close()
    }

    /// Counts servers connecting to and leaving the backend.
    private func readMonitor(_ monitor: ZMQSocket) {
        while let frames = try? monitor.receiveMultipart(dontWait: true) {
            guard let event = ZMQMonitorEvent(frames: frames) else { continue }
            let servers: Int? = condition.withLock {
                if event.event == .accepted {
                    snapshot.servers += 1
                    snapshot.serversAccepted += 1
                } else if event.event == .disconnected {
                    snapshot.servers = max(0, snapshot.servers - 1)
                } else {
                    return nil
                }
                return snapshot.servers
            }
            if let servers {
                let what = event.event == .accepted ? "connected" : "disconnected"
                logger.info("server \(what) (\(event.endpoint)): \(servers) connected")
            }
        }
    }

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

    /// `zmq_poll`'s timeout for waking at `instant` (0 if it passed, at most 1 s).
    private static func milliseconds(until instant: ContinuousClock.Instant, clock: ContinuousClock) -> Int {
        let (seconds, attoseconds) = (instant - clock.now).components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(max(0, min(1000, ms)))
    }
}

/// The broker's sockets, made and bound on the starting thread, then handed to the two threads.
private struct Sockets: @unchecked Sendable {
    // @unchecked Sendable: handed over once, when the threads start; see ZMQSocket's threading rule.
    let context: ZMQContext
    let frontend: ZMQSocket
    let backend: ZMQSocket
    let proxyControl: ZMQSocket
    let controller: ZMQSocket
    let monitor: ZMQSocket
    let health: ZMQSocket?
    let endpoints: BrokerEndpoints

    init(configuration c: BrokerConfiguration) throws(ZMQError) {
        context = try ZMQContext()
        let unique = UUID().uuidString
        // Not ROUTER_MANDATORY: a reply to a client that has gone must be dropped, not make the
        // proxy fail.
        frontend = try ZMQSocket(context: context, type: .router)
        try frontend.setLinger(1000)
        try frontend.setSendHighWaterMark(c.highWaterMark)
        try frontend.setReceiveHighWaterMark(c.highWaterMark)
        try frontend.setHeartbeat(c.heartbeat)
        try frontend.bind(c.frontend)

        backend = try ZMQSocket(context: context, type: .dealer)
        try backend.setLinger(0)
        try backend.setSendHighWaterMark(c.highWaterMark)
        try backend.setReceiveHighWaterMark(c.highWaterMark)
        try backend.setHeartbeat(c.heartbeat)
        let monitorEndpoint = "inproc://fuserank-broker-monitor-\(unique)"
        try backend.monitor(monitorEndpoint, events: [.accepted, .disconnected])
        try backend.bind(c.backend)

        let controlEndpoint = "inproc://fuserank-broker-control-\(unique)"
        proxyControl = try ZMQSocket(context: context, type: .pair)
        try proxyControl.bind(controlEndpoint)
        controller = try ZMQSocket(context: context, type: .pair)
        try controller.setLinger(0)
        try controller.setSendTimeout(1000)  // never hang on a proxy that has already returned
        try controller.connect(controlEndpoint)
        monitor = try ZMQSocket(context: context, type: .pair)
        try monitor.setLinger(0)
        try monitor.connect(monitorEndpoint)

        if let endpoint = c.health {
            let socket = try ZMQSocket(context: context, type: .router)
            try socket.setLinger(0)
            try socket.bind(endpoint)
            health = socket
        } else {
            health = nil
        }
        endpoints = BrokerEndpoints(
            frontend: try frontend.lastEndpoint(), backend: try backend.lastEndpoint(), health: try health?.lastEndpoint())
    }
}
