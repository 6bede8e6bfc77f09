import Foundation
import FuseRankTransport
import Logging

/// The broker's CURVE keys, read from ``BrokerConfiguration``'s key files.
struct BrokerCurve: Sendable {
    /// The broker's key pair (the same on both sides).
    let keys: CurveKeyPair
    /// Client keys admitted on the frontend; nil: the frontend is plaintext.
    let clients: Set<String>?
    /// Server keys admitted on the backend; nil: the backend is plaintext.
    let servers: Set<String>?

    /// Reads the key files; nil when the configuration has no ``BrokerConfiguration/curveSecretKeyPath``.
    /// - Throws: ``CurveKeyError`` naming the file and line.
    init?(_ configuration: BrokerConfiguration) throws(CurveKeyError) {
        guard let secretPath = configuration.curveSecretKeyPath else { return nil }
        keys = try CurveKey.readSecretKey(secretPath)
        clients = try configuration.curveAllowPath.map { path throws(CurveKeyError) in try CurveKey.readAllowlist(path) }
        servers = try configuration.serverAllowPath.map { path throws(CurveKeyError) in try CurveKey.readAllowlist(path) }
    }
}

/// The broker's sockets, made and bound on the starting thread, then handed to the broker thread.
///
/// Two ZeroMQ contexts, because a ``ZAPHandler`` answers for a whole context and each side has
/// its own allowlist: the clients' (frontend, Health) and the servers' (backend, its monitor).
struct BrokerSockets: @unchecked Sendable {
    // @unchecked Sendable: handed over once, when the thread starts; see ZMQSocket's threading rule.
    /// Where each side's refusals are logged from.
    struct AuthLogs: Sendable {
        let frontend: AuthFailureLog
        let backend: AuthFailureLog
    }

    let clientContext: ZMQContext
    let serverContext: ZMQContext
    let frontend: ZMQSocket
    let backend: ZMQSocket
    /// The backend's monitor: failed handshakes (servers refused by CURVE), for the log.
    let monitor: ZMQSocket
    let health: ZMQSocket?
    /// The running ZAP handlers of the CURVE sides.
    let guards: [ZAPHandler]
    let endpoints: BrokerEndpoints

    /// Makes and binds every socket; a CURVE side's ZAP handler is answering before its socket
    /// binds (fail closed). On a failure everything made so far is closed again.
    /// - Parameters:
    ///   - c: the configuration.
    ///   - curve: the keys, or nil for plaintext on both sides.
    ///   - authLogs: decide which refusals are logged.
    ///   - logger: where refusals are logged.
    /// - Throws: ``ZMQError`` (a bind fails: the port is in use, the endpoint is malformed).
    init(configuration c: BrokerConfiguration, curve: BrokerCurve?, authLogs: AuthLogs, logger: Logger) throws(ZMQError) {
        clientContext = try ZMQContext()
        do {
            serverContext = try ZMQContext()
        } catch {
            try? clientContext.terminate()
            throw error
        }
        var opened: [ZMQSocket] = []
        var guards: [ZAPHandler] = []
        let (clientContext, serverContext) = (clientContext, serverContext)
        func socket(_ context: ZMQContext, _ type: ZMQSocketType) throws(ZMQError) -> ZMQSocket {
            let socket = try ZMQSocket(context: context, type: type)
            opened.append(socket)
            return socket
        }
        do {
            // Not ROUTER_MANDATORY: a reply to a client that has gone is dropped.
            frontend = try socket(clientContext, .router)
            try frontend.setLinger(1000)
            try frontend.setSendHighWaterMark(c.highWaterMark)
            try frontend.setReceiveHighWaterMark(c.highWaterMark)
            try frontend.setHeartbeat(c.heartbeat)
            if let curve, let clients = curve.clients {
                let zap = try ZAPHandler(context: clientContext, allowed: clients, watching: frontend) { failure in
                    if let line = authLogs.frontend.line(for: failure, allowlist: "--curve-allow") { logger.warning("frontend: \(line)") }
                }
                guards.append(zap)
                try frontend.makeCurveServer(keys: curve.keys, zap: zap)
            }
            try frontend.bind(c.frontend)

            backend = try socket(serverContext, .router)
            try backend.setRouterMandatory(true)  // a call to a server that has gone fails at once
            try backend.setLinger(0)
            try backend.setSendHighWaterMark(c.highWaterMark)
            try backend.setReceiveHighWaterMark(c.highWaterMark)
            try backend.setHeartbeat(c.heartbeat)
            let monitorEndpoint = "inproc://fuserank-broker-monitor-\(UUID().uuidString)"
            // The broker's own monitor reports the backend's failed handshakes: a socket has one
            // monitor, so the ZAP handler does not watch this socket.
            try backend.monitor(monitorEndpoint, events: [.handshakeFailedProtocol, .handshakeFailedNoDetail])
            if let curve, let servers = curve.servers {
                let zap = try ZAPHandler(context: serverContext, allowed: servers) { failure in
                    if let line = authLogs.backend.line(for: failure, peerKind: "server", allowlist: "--server-allow") {
                        logger.warning("backend: \(line)")
                    }
                }
                guards.append(zap)
                try backend.makeCurveServer(keys: curve.keys, zap: zap)
            }
            try backend.bind(c.backend)
            monitor = try socket(serverContext, .pair)
            try monitor.setLinger(0)
            try monitor.connect(monitorEndpoint)

            if let endpoint = c.health {
                let router = try socket(clientContext, .router)
                try router.setLinger(0)
                try router.bind(endpoint)
                health = router
            } else {
                health = nil
            }
            endpoints = BrokerEndpoints(
                frontend: try frontend.lastEndpoint(), backend: try backend.lastEndpoint(), health: try health?.lastEndpoint())
        } catch {
            Self.close(opened, guards: guards, contexts: [clientContext, serverContext])
            throw error
        }
        self.guards = guards
    }

    /// Closes the sockets (the frontend lingers a second: replies already queued for clients are
    /// still delivered), then stops the ZAP handlers, then terminates the contexts.
    func close(logger: Logger) {
        let sockets = [frontend, backend, monitor] + (health.map { [$0] } ?? [])
        if let error = Self.close(sockets, guards: guards, contexts: [clientContext, serverContext]) {
            logger.error("cannot terminate a ZeroMQ context: \(error)")
        }
    }

    /// The order matters: a ZAP handler stops only once the sockets it guards are closed (a
    /// context with no handler admits any CURVE key).
    /// - Returns: the first error terminating a context, if any.
    @discardableResult
    private static func close(_ sockets: [ZMQSocket], guards: [ZAPHandler], contexts: [ZMQContext]) -> ZMQError? {
        for socket in sockets { socket.close() }
        for zap in guards { zap.stop() }
        var failure: ZMQError?
        for context in contexts {
            do {
                try context.terminate()
            } catch {
                failure = failure ?? error
            }
        }
        return failure
    }
}
