#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A self-pipe that wakes a thread blocked in ``ZMQPoller/poll(timeoutMs:)`` from any thread.
///
/// Add ``fileDescriptor`` to the poller with `.readable`; other threads call ``signal()``; the
/// polling thread calls ``drain()`` when it sees the descriptor readable. Both ends are
/// non-blocking, so ``signal()`` never blocks (a full pipe already means "wake up").
// @unchecked Sendable: the descriptors are immutable after init, and write(2)/read(2) on a pipe are
// thread-safe; the pipe is closed only in deinit, when no other reference can exist.
public final class WakePipe: @unchecked Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32

    /// Creates the pipe.
    /// - Throws: ``ZMQError`` carrying the `pipe`/`fcntl` errno (e.g. `EMFILE`).
    public init() throws(ZMQError) {
        var fds: [Int32] = [-1, -1]
        try posixCall("pipe") { pipe(&fds) }
        readEnd = fds[0]
        writeEnd = fds[1]
        do {
            for fd in fds {
                let flags = try posixCall("fcntl(F_GETFL)") { fcntl(fd, F_GETFL) }
                try posixCall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
            }
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
    }

    deinit {
        _ = close(readEnd)
        _ = close(writeEnd)
    }

    /// The descriptor to poll for `.readable`.
    public var fileDescriptor: Int32 { readEnd }

    /// Wakes the polling thread; safe from any thread, never blocks.
    public func signal() {
        var byte: UInt8 = 1
        while write(writeEnd, &byte, 1) < 0 && errno == EINTR {}
        // EAGAIN: the pipe is full, so the poller is already woken.
    }

    /// Empties the pipe; call on the polling thread after it saw the descriptor readable.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            return  // 0 (cannot happen while we hold the write end) or EAGAIN: empty
        }
    }
}

/// Runs a POSIX call that returns -1 and sets `errno` on failure, retrying on `EINTR`.
/// - Parameters:
///   - operation: Name for the error.
///   - body: The call.
/// - Returns: The call's result.
/// - Throws: ``ZMQError`` with the POSIX errno.
@discardableResult
func posixCall(_ operation: String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc >= 0 { return rc }
        if errno == EINTR { continue }
        throw ZMQError(operation: operation, errno: errno)
    }
}
