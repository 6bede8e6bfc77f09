import Foundation
import FuseRankTransport
import FuseRankWire

/// One DEALER socket to the server, owned by a dedicated I/O thread, shared by any number of
/// concurrent calls.
///
/// Callers (any thread or task) register a request in the pending table and wake the I/O thread
/// through a ``WakePipe``; the thread sends it, matches replies to pending requests by request id
/// (dropping replies nobody waits for), and fails requests whose deadline passed. After a timeout it
/// closes the socket and connects a fresh one (the Lazy Pirate pattern), then re-sends every request
/// still waiting, so a lost reply or a restarted server never wedges the connection. No blocking
/// happens on the caller's thread: calls suspend on a continuation the I/O thread resumes.
// @unchecked Sendable: the mutable state (`pending`, `outbox`, `stopping`, `nextID`, `stats`) is
// guarded by `lock`; the socket lives only in the I/O thread's `run()` frame; `wake` is thread-safe.
final class DealerConnection: @unchecked Sendable {
    /// One request waiting for its reply.
    private struct Pending {
        /// `[empty][RequestHeader][request]`, kept for re-sending after a reconnect.
        let frames: [[UInt8]]
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<AttemptOutcome, Never>
    }

    private let endpoint: String
    private let options: FuseRankClientOptions
    private let context: ZMQContext
    private let wake: WakePipe
    private let exited = DispatchSemaphore(value: 0)

    private let lock = NSLock()
    private var pending: [UInt64: Pending] = [:]
    private var outbox: [UInt64] = []
    private var stopping = false
    private var nextID: UInt64
    private var stats = ClientStatistics()

    /// Connects and starts the I/O thread.
    /// - Parameters:
    ///   - endpoint: The server endpoint.
    ///   - options: Socket options and limits.
    /// - Throws: ``ZMQError`` for a malformed endpoint or when libzmq cannot make the socket.
    init(endpoint: String, options: FuseRankClientOptions) throws(ZMQError) {
        self.endpoint = endpoint
        self.options = options
        self.context = try ZMQContext()
        self.wake = try WakePipe()
        // Random start so that ids of different clients rarely coincide in server logs; never 0
        // (the server answers an undecodable header with id 0).
        self.nextID = UInt64.random(in: 1..<(1 << 48))
        let socket = try Self.makeSocket(context: context, endpoint: endpoint, options: options)
        let thread = Thread { [self] in run(socket) }
        thread.name = "fuserank-client-io"
        thread.start()
    }

    /// A fresh request id.
    func makeRequestID() -> UInt64 {
        lock.withLock {
            nextID &+= 1
            if nextID == 0 { nextID = 1 }
            return nextID
        }
    }

    /// Counts an attempt of a call in ``ClientStatistics/attempts``, and in
    /// ``ClientStatistics/retries`` when it is not the call's first.
    func countAttempt(isRetry: Bool) {
        lock.withLock {
            stats.attempts += 1
            if isRetry { stats.retries += 1 }
        }
    }

    /// A copy of the counters.
    var statistics: ClientStatistics { lock.withLock { stats } }

    /// Calls waiting for their reply on this connection now.
    var outstanding: Int { lock.withLock { pending.count } }

    /// Sends one attempt and waits for its outcome.
    /// - Parameters:
    ///   - id: The request id inside `frames`' header.
    ///   - frames: `[empty][RequestHeader][request]`.
    ///   - timeoutMs: How long to wait for the reply.
    /// - Returns: The reply, a timeout, or why it failed; cancelling the task ends the wait at once.
    func roundTrip(id: UInt64, frames: [[UInt8]], timeoutMs: Int) async -> AttemptOutcome {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<AttemptOutcome, Never>) in
                let accepted = lock.withLock {
                    if stopping { return false }
                    pending[id] = Pending(frames: frames, deadline: deadline, continuation: continuation)
                    outbox.append(id)
                    return true
                }
                guard accepted else { return continuation.resume(returning: .failed(.closed)) }
                wake.signal()
                // A cancel that ran before the request was registered found nothing to end.
                if Task.isCancelled { finish(id, .failed(.cancelled)) }
            }
        } onCancel: {
            finish(id, .failed(.cancelled))
        }
    }

    /// Ends a pending request with `outcome`; a no-op if it already ended.
    private func finish(_ id: UInt64, _ outcome: AttemptOutcome) {
        let entry = lock.withLock { pending.removeValue(forKey: id) }
        entry?.continuation.resume(returning: outcome)
    }

    /// Stops the I/O thread (pending calls fail with ``FuseRankClientError/closed``) and waits
    /// for it to close the socket; idempotent.
    func close() {
        let first = lock.withLock {
            if stopping { return false }
            stopping = true
            return true
        }
        if first {
            wake.signal()
            exited.wait()
        }
    }

    // MARK: The I/O thread

    private static func makeSocket(
        context: ZMQContext, endpoint: String, options: FuseRankClientOptions
    ) throws(ZMQError) -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.setLinger(0)
        try socket.setMaxMessageSize(options.maxReplyBytes)
        try socket.setSendHighWaterMark(options.sendHighWaterMark)
        try socket.setReceiveHighWaterMark(0)
        try socket.connect(endpoint)
        return socket
    }

    /// The I/O loop: send queued requests, receive replies, expire deadlines, reconnect.
    private func run(_ initial: ZMQSocket) {
        var socket: ZMQSocket? = initial
        while !lock.withLock({ stopping }) {
            if socket == nil {
                do {
                    socket = try Self.makeSocket(context: context, endpoint: endpoint, options: options)
                    requeueAll()
                } catch {
                    failAll(.failed(.transport(error)))
                }
            }
            var reconnect = false
            if let s = socket { reconnect = sendQueued(on: s) }

            var poller = ZMQPoller()
            poller.add(fileDescriptor: wake.fileDescriptor)
            if let s = socket { poller.add(s) }
            let ready: [ZMQPollEvents]
            do {
                ready = try poller.poll(timeoutMs: pollTimeoutMs(socketMissing: socket == nil))
            } catch {
                failAll(.failed(.transport(error)))
                socket?.close()
                socket = nil
                continue
            }
            if ready[0].contains(.readable) { wake.drain() }
            if let s = socket, ready.count > 1, ready[1].contains(.readable) {
                if !receiveAll(on: s) { reconnect = true }
            }
            if expireDeadlines() { reconnect = true }
            if reconnect, let s = socket {
                s.close()
                socket = nil
                lock.withLock { stats.reconnects += 1 }
            }
        }
        socket?.close()
        failAll(.failed(.closed))
        exited.signal()
    }

    /// Sends every queued request still pending; true when the socket failed and must be replaced.
    private func sendQueued(on socket: ZMQSocket) -> Bool {
        let batch: [(UInt64, [[UInt8]])] = lock.withLock {
            let ids = outbox
            outbox.removeAll(keepingCapacity: true)
            return ids.compactMap { id in pending[id].map { (id, $0.frames) } }
        }
        for (id, frames) in batch {
            do {
                if try socket.send(frames, dontWait: true) {
                    lock.withLock { stats.sent += 1 }
                } else {
                    finish(id, .unavailable("the client's send queue is full"))
                }
            } catch {
                finish(id, .failed(.transport(error)))
                return true
            }
        }
        return false
    }

    /// Receives every queued reply and hands each to its call; false when the socket failed.
    private func receiveAll(on socket: ZMQSocket) -> Bool {
        while true {
            let frames: [[UInt8]]?
            do { frames = try socket.receiveMultipart(dontWait: true) } catch { return false }
            guard let frames else { return true }
            guard frames.count == 3, frames[0].isEmpty, let header = try? ReplyHeader(bytes: frames[1]) else {
                lock.withLock { stats.malformedReplies += 1 }
                continue
            }
            let entry: Pending? = lock.withLock {
                let entry = pending.removeValue(forKey: header.requestID)
                if entry == nil { stats.staleReplies += 1 } else { stats.matchedReplies += 1 }
                return entry
            }
            entry?.continuation.resume(returning: .reply(header, frames[2]))
        }
    }

    /// Fails every request whose deadline passed; true when any did (time to reconnect).
    private func expireDeadlines() -> Bool {
        let now = ContinuousClock.now
        let expired: [Pending] = lock.withLock {
            let ids = pending.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { pending.removeValue(forKey: $0) }
        }
        for entry in expired { entry.continuation.resume(returning: .timedOut) }
        return !expired.isEmpty
    }

    /// Milliseconds until the nearest deadline (at most 1 s; 100 ms while the socket is missing).
    private func pollTimeoutMs(socketMissing: Bool) -> Int {
        let cap = socketMissing ? 100 : 1000
        let nearest = lock.withLock { pending.values.map(\.deadline).min() }
        guard let nearest else { return cap }
        let (seconds, attoseconds) = (nearest - ContinuousClock.now).components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(max(0, min(Int64(cap), ms)))
    }

    /// Queues every pending request for sending again (after a reconnect).
    private func requeueAll() {
        lock.withLock { outbox = Array(pending.keys) }
    }

    /// Ends every pending request with `outcome`.
    private func failAll(_ outcome: AttemptOutcome) {
        let all: [Pending] = lock.withLock {
            let all = Array(pending.values)
            pending.removeAll()
            outbox.removeAll()
            return all
        }
        for entry in all { entry.continuation.resume(returning: outcome) }
    }
}
