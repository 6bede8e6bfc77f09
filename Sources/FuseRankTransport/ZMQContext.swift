import CZeroMQ
import Foundation

/// A libzmq context: owns `zmq_ctx_new`, terminated explicitly or on deinit.
///
/// Every ``ZMQSocket`` keeps its context alive, so a context is only deinitialised after all of
/// its sockets are closed, and the implicit `zmq_ctx_term` never waits on an open socket.
// @unchecked Sendable: libzmq contexts are thread-safe (zmq_ctx(3): "A ØMQ context is thread safe
// and may be shared among as many application threads as necessary"); the only mutable Swift
// state, `terminated`, is guarded by `lock`.
public final class ZMQContext: @unchecked Sendable {
    /// The raw `void *` context; valid until ``terminate()``.
    let handle: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var terminated = false

    /// Creates a context.
    ///
    /// - Parameters:
    ///   - ioThreads: libzmq I/O threads (`ZMQ_IO_THREADS`); 1 is plenty below a gigabyte per second.
    ///   - blocky: `ZMQ_BLOCKY`. `false` (our default) gives new sockets a linger of 0, so closing a
    ///     socket or terminating never hangs on unsent messages; set ``ZMQSocket/setLinger(_:)`` on
    ///     a socket where delivery at close matters.
    /// - Throws: ``ZMQError`` if libzmq cannot create the context or set an option.
    public init(ioThreads: Int32 = 1, blocky: Bool = false) throws(ZMQError) {
        guard let ctx = zmq_ctx_new() else { throw ZMQError.current("zmq_ctx_new") }
        handle = ctx
        do {
            try zmqCall("zmq_ctx_set(ZMQ_IO_THREADS)") { zmq_ctx_set(ctx, ZMQ_IO_THREADS, ioThreads) }
            try zmqCall("zmq_ctx_set(ZMQ_BLOCKY)") { zmq_ctx_set(ctx, ZMQ_BLOCKY, blocky ? 1 : 0) }
        } catch {
            _ = zmq_ctx_term(ctx)
            terminated = true
            throw error
        }
    }

    /// Makes every blocking call on this context's sockets return `ETERM`, without waiting.
    ///
    /// Safe from any thread (`zmq_ctx_shutdown`); a no-op after ``terminate()``.
    public func shutdown() {
        lock.lock()
        defer { lock.unlock() }
        if !terminated { _ = zmq_ctx_shutdown(handle) }
    }

    /// Terminates the context (`zmq_ctx_term`), retrying on `EINTR`; idempotent.
    ///
    /// Blocks until every socket of this context is closed: call it only after the threads that own
    /// sockets have closed them (a blocked socket call returns ``ZMQError/isTerminated`` meanwhile).
    /// - Throws: ``ZMQError`` if libzmq reports a failure other than `EINTR`.
    public func terminate() throws(ZMQError) {
        lock.lock()
        defer { lock.unlock() }
        guard !terminated else { return }
        try zmqCall("zmq_ctx_term") { zmq_ctx_term(handle) }
        terminated = true
    }

    deinit {
        if !terminated {
            while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
        }
    }

    /// The libzmq version linked, e.g. `(4, 3, 4)`.
    public static var version: (major: Int32, minor: Int32, patch: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }
}
