import CZeroMQ
import Foundation

/// A refused connection, as the ``ZAPHandler`` reports it.
public struct AuthFailure: Sendable, Equatable {
    /// Why it was refused.
    public enum Reason: Sendable, Equatable {
        /// A CURVE client whose public key (Z85) is not on the allowlist.
        case unknownKey(String)
        /// The ZMTP handshake failed: a plaintext (NULL) client on a CURVE socket, another
        /// mechanism, a CURVE client that holds the wrong server key, or bytes that are not ZMTP.
        case handshake
    }

    /// The peer's IP address (ZAP) or, for a handshake failure, the listening endpoint (libzmq's
    /// monitor does not name the peer).
    public let peer: String
    public let reason: Reason

    /// A refusal, for a handler or a socket monitor to report.
    public init(peer: String, reason: Reason) {
        self.peer = peer
        self.reason = reason
    }
}

/// The ZAP handler (ZeroMQ RFC 27) of one context: admits CURVE clients on an allowlist.
///
/// It binds `inproc://zeromq.zap.01` in its context when created, so it is in place before any
/// server socket of that context binds, and answers each request on its own thread: `200` for a
/// CURVE client whose public key is allowed, `400` for anything else. It also watches the server
/// socket's handshake failures (a plaintext client on a CURVE socket fails before ZAP is asked),
/// and reports every refusal to `onFailure`. Keep it running until the server socket is closed: a
/// context with no handler admits every CURVE client.
// @unchecked Sendable: the sockets belong to the handler thread after init; `running` and
// `finished` are synchronised by `lock` and the semaphore; the rest is immutable.
public final class ZAPHandler: @unchecked Sendable {
    /// The ZAP endpoint libzmq asks (RFC 27).
    public static let endpoint = "inproc://zeromq.zap.01"
    /// The ZAP domain server sockets set.
    public static let domain = "fuserank"

    let context: ZMQContext
    private let allowed: Set<String>
    private let onFailure: @Sendable (AuthFailure) -> Void
    private let wake: WakePipe
    private let lock = NSLock()
    private var running = true
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the ZAP endpoint, starts watching `socket`'s handshakes, and starts the thread.
    ///
    /// - Parameters:
    ///   - context: the context of the server socket(s) it guards.
    ///   - allowed: Z85 public keys of the admitted clients.
    ///   - watching: the server socket, not yet bound; its handshake failures are reported.
    ///   - onFailure: told of each refusal, on the handler thread.
    /// - Throws: ``ZMQError`` (`EADDRINUSE` when the context already has a ZAP handler).
    public init(
        context: ZMQContext, allowed: Set<String>, watching socket: ZMQSocket? = nil,
        onFailure: @escaping @Sendable (AuthFailure) -> Void = { _ in }
    ) throws(ZMQError) {
        self.context = context
        self.allowed = allowed
        self.onFailure = onFailure
        wake = try WakePipe()
        let rep = try ZMQSocket(context: context, type: .reply)
        try rep.setLinger(0)
        try rep.bind(Self.endpoint)
        var monitor: ZMQSocket?
        if let socket {
            let monitorEndpoint = "inproc://fuserank-zap-monitor-\(UUID().uuidString)"
            try socket.monitor(monitorEndpoint, events: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            let pair = try ZMQSocket(context: context, type: .pair)
            try pair.connect(monitorEndpoint)
            monitor = pair
        }
        // The sockets are handed to the thread here; this thread never touches them again.
        let watcher = monitor
        let thread = Thread { [self] in
            serve(rep: rep, monitor: watcher)
            watcher?.close()
            try? rep.unbind(Self.endpoint)  // at once: closing alone frees the name asynchronously
            rep.close()
            finished.signal()
        }
        thread.name = "fuserank-zap"
        thread.start()
    }

    /// Whether the thread is answering (until ``stop()``).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    /// Stops the thread and unbinds the endpoint; returns when it has. Idempotent. Call only after
    /// the server sockets it guards are closed.
    public func stop() {
        lock.lock()
        let wasRunning = running
        running = false
        lock.unlock()
        guard wasRunning else { return }
        wake.signal()
        finished.wait()
    }

    private func serve(rep: ZMQSocket, monitor: ZMQSocket?) {
        var poller = ZMQPoller()
        let repItem = poller.add(rep)
        let wakeItem = poller.add(fileDescriptor: wake.fileDescriptor)
        let monitorItem = monitor.map { poller.add($0) }
        while isRunning {
            let ready: [ZMQPollEvents]
            do {
                ready = try poller.poll(timeoutMs: -1)
            } catch {
                return  // ETERM: the context is shutting down
            }
            if ready[wakeItem].contains(.readable) { wake.drain() }
            if ready[repItem].contains(.readable) {
                while let frames = try? rep.receiveMultipart(dontWait: true) {
                    _ = try? rep.send(answer(frames))
                }
            }
            if let monitor, let monitorItem, ready[monitorItem].contains(.readable) {
                while let frames = try? monitor.receiveMultipart(dontWait: true) {
                    if frames.count == 2 {
                        onFailure(AuthFailure(peer: String(decoding: frames[1], as: UTF8.self), reason: .handshake))
                    }
                }
            }
        }
    }

    /// The reply to one ZAP request (RFC 27):
    /// request `[version][request id][domain][address][identity][mechanism][credentials...]`,
    /// reply `[version][request id][status code][status text][user id][metadata]`.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
        let requestID = frames.count > 1 ? frames[1] : []
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard frames.count >= 6, String(decoding: frames[0], as: UTF8.self) == "1.0" else {
            return reply("500", "malformed ZAP request")
        }
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        guard mechanism == "CURVE", frames.count == 7, frames[6].count == 32 else {
            onFailure(AuthFailure(peer: address, reason: .handshake))
            return reply("400", "only CURVE clients are admitted")
        }
        var z85 = [CChar](repeating: 0, count: 41)
        frames[6].withUnsafeBufferPointer { _ = zmq_z85_encode(&z85, $0.baseAddress, 32) }
        let key = CurveKey.text(z85)
        guard allowed.contains(key) else {
            onFailure(AuthFailure(peer: address, reason: .unknownKey(key)))
            return reply("400", "client key not allowed")
        }
        return reply("200", "OK", user: key)
    }
}
