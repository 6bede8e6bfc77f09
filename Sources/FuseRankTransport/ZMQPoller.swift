import CZeroMQ

/// Events to wait for, or that are ready, on one poll item.
public struct ZMQPollEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A message can be received without blocking.
    public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
    /// An error condition (plain file descriptors only).
    public static let error = ZMQPollEvents(rawValue: Int16(ZMQ_POLLERR))
}

/// Waits on several sockets (and plain file descriptors) at once, with `zmq_poll`.
///
/// Build it once per thread with the sockets that thread owns and call ``poll(timeoutMs:)`` in the
/// loop; it keeps its sockets alive. Do not close a socket while it is in a poller.
public struct ZMQPoller {
    private var items: [zmq_pollitem_t] = []
    private var sockets: [ZMQSocket?] = []

    /// An empty poller.
    public init() {}

    /// The number of items.
    public var count: Int { items.count }

    /// Adds a socket.
    /// - Parameters:
    ///   - socket: An open socket owned by the polling thread.
    ///   - events: What to wait for, usually `.readable`.
    /// - Returns: The item's index in ``poll(timeoutMs:)``'s result.
    @discardableResult
    public mutating func add(_ socket: ZMQSocket, events: ZMQPollEvents = .readable) -> Int {
        precondition(!socket.isClosed, "cannot poll a closed socket")
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Adds a plain file descriptor (e.g. a pipe used to wake the thread).
    /// - Parameters:
    ///   - fd: The descriptor.
    ///   - events: What to wait for.
    /// - Returns: The item's index in ``poll(timeoutMs:)``'s result.
    @discardableResult
    public mutating func add(fileDescriptor fd: Int32, events: ZMQPollEvents = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fd, events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Changes what an item waits for; with `[]` the item is skipped until it is set again (a
    /// loop that must not read a socket for a while, but keeps it in place).
    /// - Parameters:
    ///   - index: the item, as ``add(_:events:)`` returned it.
    ///   - events: what to wait for from the next ``poll(timeoutMs:)`` on.
    public mutating func setEvents(_ events: ZMQPollEvents, at index: Int) {
        items[index].events = events.rawValue
    }

    /// Waits until an item is ready or the timeout expires.
    ///
    /// A signal (`EINTR`) is **not** retried: the call returns with nothing ready so the caller's
    /// loop can check its stop flag and poll again.
    /// - Parameter timeoutMs: Milliseconds to wait; 0 returns at once, -1 waits indefinitely.
    /// - Returns: The ready events of each item, in the order added (all empty on timeout or signal).
    /// - Throws: ``ZMQError`` (`ETERM` when the context is shut down, `EFAULT`).
    public mutating func poll(timeoutMs: Int) throws(ZMQError) -> [ZMQPollEvents] {
        for s in sockets where s?.isClosed == true {
            throw ZMQError(operation: "zmq_poll", errno: ENOTSOCK)
        }
        let count = Int32(items.count)
        let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, count, timeoutMs) }
        if rc < 0 {
            let code = zmq_errno()
            if code == EINTR { return Array(repeating: [], count: items.count) }
            throw ZMQError(operation: "zmq_poll", errno: code)
        }
        return items.map { ZMQPollEvents(rawValue: $0.revents) }
    }

    /// ``poll(timeoutMs:)``'s timeout for waking at `instant`: the milliseconds until it, rounded up,
    /// 0 when it has passed, at most `limitMs`.
    public static func timeoutMs(until instant: ContinuousClock.Instant, atMost limitMs: Int) -> Int {
        let (seconds, attoseconds) = (instant - .now).components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(max(0, min(Int64(limitMs), ms)))
    }
}

/// Polls a single socket.
/// - Parameters:
///   - socket: The socket.
///   - events: What to wait for.
///   - timeoutMs: Milliseconds to wait; -1 waits indefinitely.
/// - Returns: The ready events (empty on timeout or signal).
/// - Throws: ``ZMQError``.
public func zmqPoll(_ socket: ZMQSocket, events: ZMQPollEvents = .readable, timeoutMs: Int) throws(ZMQError) -> ZMQPollEvents {
    var poller = ZMQPoller()
    poller.add(socket, events: events)
    return try poller.poll(timeoutMs: timeoutMs)[0]
}
