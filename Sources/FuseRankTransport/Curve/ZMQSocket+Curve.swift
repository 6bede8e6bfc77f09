import CZeroMQ

/// CURVE encryption and authentication options. Set them before bind or connect.
extension ZMQSocket {
    /// Makes this socket a CURVE server with `keys`, authenticated by `zap`.
    ///
    /// libzmq admits **every** CURVE client when no ZAP handler answers in the socket's context, so
    /// this refuses to run unless `zap` is running in this socket's context: there is no way to
    /// enable CURVE on a server socket here without the allowlist in place. Call before ``bind(_:)``.
    /// - Parameters:
    ///   - keys: the server's key pair.
    ///   - zap: the running handler that decides which clients are admitted.
    /// - Throws: ``ZMQError`` (`EFAULT` "no running ZAP handler" when `zap` is stopped or belongs to
    ///   another context; `EINVAL` from libzmq).
    public func makeCurveServer(keys: CurveKeyPair, zap: ZAPHandler) throws(ZMQError) {
        guard zap.isRunning, zap.context === context else {
            throw ZMQError(operation: "makeCurveServer: no running ZAP handler in this socket's context", errno: EFAULT)
        }
        try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(ZAPHandler.domain.utf8))
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.secretKey.utf8))
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`.
    /// Call before ``connect(_:)``.
    /// - Parameters:
    ///   - serverKey: the server's public key (Z85).
    ///   - keys: this client's key pair; its public key must be on the server's allowlist.
    /// - Throws: ``ZMQError`` (`EINVAL` for a malformed key).
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keys.publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.secretKey.utf8))
    }

    /// Starts a libzmq monitor of this socket publishing `events` on `endpoint` (inproc).
    func monitor(_ endpoint: String, events: Int32) throws(ZMQError) {
        let s = try open("zmq_socket_monitor(\(endpoint))")
        try zmqCall("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(s, endpoint, events) }
    }
}
