import CZeroMQ

/// Socket options (`zmq_setsockopt` / `zmq_getsockopt`), each wrapped once.
extension ZMQSocket {
    /// Sets an `int` option.
    /// - Parameters:
    ///   - option: A `ZMQ_*` option constant.
    ///   - value: The value.
    /// - Throws: ``ZMQError`` (`EINVAL` for an unknown option or a bad value).
    public func setOption(_ option: Int32, _ value: Int32) throws(ZMQError) {
        let s = try open("zmq_setsockopt(\(option))")
        var v = value
        try zmqCall("zmq_setsockopt(\(option))") {
            zmq_setsockopt(s, option, &v, MemoryLayout<Int32>.size)
        }
    }

    /// Sets an `int64_t` option (e.g. `ZMQ_MAXMSGSIZE`).
    /// - Parameters:
    ///   - option: A `ZMQ_*` option constant.
    ///   - value: The value.
    /// - Throws: ``ZMQError``.
    public func setOption(_ option: Int32, _ value: Int64) throws(ZMQError) {
        let s = try open("zmq_setsockopt(\(option))")
        var v = value
        try zmqCall("zmq_setsockopt(\(option))") {
            zmq_setsockopt(s, option, &v, MemoryLayout<Int64>.size)
        }
    }

    /// Sets a binary option (e.g. `ZMQ_ROUTING_ID`, `ZMQ_SUBSCRIBE`).
    /// - Parameters:
    ///   - option: A `ZMQ_*` option constant.
    ///   - value: The bytes.
    /// - Throws: ``ZMQError``.
    public func setOption(_ option: Int32, bytes value: [UInt8]) throws(ZMQError) {
        let s = try open("zmq_setsockopt(\(option))")
        try zmqCall("zmq_setsockopt(\(option))") {
            value.withUnsafeBytes { zmq_setsockopt(s, option, $0.baseAddress, $0.count) }
        }
    }

    /// Reads an `int` option.
    /// - Parameter option: A `ZMQ_*` option constant.
    /// - Returns: The value.
    /// - Throws: ``ZMQError``.
    public func intOption(_ option: Int32) throws(ZMQError) -> Int32 {
        let s = try open("zmq_getsockopt(\(option))")
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try zmqCall("zmq_getsockopt(\(option))") { zmq_getsockopt(s, option, &v, &size) }
        return v
    }

    /// Reads an `int64_t` option.
    /// - Parameter option: A `ZMQ_*` option constant.
    /// - Returns: The value.
    /// - Throws: ``ZMQError``.
    public func int64Option(_ option: Int32) throws(ZMQError) -> Int64 {
        let s = try open("zmq_getsockopt(\(option))")
        var v: Int64 = 0
        var size = MemoryLayout<Int64>.size
        try zmqCall("zmq_getsockopt(\(option))") { zmq_getsockopt(s, option, &v, &size) }
        return v
    }

    /// Reads a binary option of at most `capacity` bytes.
    /// - Parameters:
    ///   - option: A `ZMQ_*` option constant.
    ///   - capacity: Buffer size; libzmq fails with `EINVAL` if the value is longer.
    /// - Returns: The bytes libzmq wrote.
    /// - Throws: ``ZMQError``.
    public func bytesOption(_ option: Int32, capacity: Int = 256) throws(ZMQError) -> [UInt8] {
        let s = try open("zmq_getsockopt(\(option))")
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try zmqCall("zmq_getsockopt(\(option))") {
            buffer.withUnsafeMutableBytes { zmq_getsockopt(s, option, $0.baseAddress, &size) }
        }
        return Array(buffer.prefix(size))
    }

    // MARK: Named options
    //
    // libzmq copies a socket's options into each listener and connection when `bind`/`connect`
    // runs: set options that shape connections (max message size, high-water marks, immediate,
    // routing id) before binding or connecting.

    /// `ZMQ_LINGER`: how long close waits to deliver unsent messages (ms; -1 forever, 0 drop).
    public func setLinger(_ milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_LINGER, milliseconds)
    }

    /// `ZMQ_RCVTIMEO`: a blocking receive returns nil after this many ms (-1 waits forever).
    public func setReceiveTimeout(_ milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVTIMEO, milliseconds)
    }

    /// `ZMQ_SNDTIMEO`: a blocking send returns false after this many ms (-1 waits forever).
    public func setSendTimeout(_ milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDTIMEO, milliseconds)
    }

    /// `ZMQ_MAXMSGSIZE`: a peer sending a larger message is disconnected (-1 = no limit).
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
        try setOption(ZMQ_MAXMSGSIZE, bytes)
    }

    /// `ZMQ_SNDHWM`: outbound queue limit in messages per peer (0 = none).
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, messages)
    }

    /// `ZMQ_RCVHWM`: inbound queue limit in messages per peer (0 = none).
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, messages)
    }

    /// `ZMQ_ROUTING_ID`: the identity a ROUTER peer sees for this socket (1–255 bytes, not
    /// starting with 0); set before connect.
    public func setRoutingID(_ id: [UInt8]) throws(ZMQError) {
        try setOption(ZMQ_ROUTING_ID, bytes: id)
    }

    /// `ZMQ_ROUTING_ID` as set (empty if libzmq will generate one on the ROUTER side).
    public func routingID() throws(ZMQError) -> [UInt8] {
        try bytesOption(ZMQ_ROUTING_ID)
    }

    /// `ZMQ_ROUTER_MANDATORY`: a ROUTER send to an unknown peer throws `EHOSTUNREACH` instead of
    /// dropping the message silently.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0))
    }

    /// `ZMQ_IMMEDIATE`: queue messages only to completed connections (a DEALER with no live peer
    /// then blocks/returns false instead of queueing for a peer that may never come).
    public func setImmediate(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_IMMEDIATE, Int32(on ? 1 : 0))
    }

    /// `ZMQ_RECONNECT_IVL`: wait before reconnecting a dropped connection (ms).
    public func setReconnectInterval(_ milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds)
    }

    /// `ZMQ_LAST_ENDPOINT`: the endpoint last bound or connected, with a `*` port resolved.
    /// - Returns: E.g. `tcp://127.0.0.1:41234`.
    /// - Throws: ``ZMQError``.
    public func lastEndpoint() throws(ZMQError) -> String {
        var bytes = try bytesOption(ZMQ_LAST_ENDPOINT, capacity: 1024)
        if let nul = bytes.firstIndex(of: 0) { bytes.removeSubrange(nul...) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
