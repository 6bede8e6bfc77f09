import FuseRankTransport

/// How a ``FuseRankClient`` talks to the server; every field has a default.
public struct FuseRankClientOptions: Sendable, Equatable {
    /// How long one attempt waits for its reply, in milliseconds; also sent to the server as the
    /// call's deadline (`RequestHeader.timeout_ms`). A call may take up to
    /// `(retries + 1) × timeoutMs` plus the backoff pauses.
    public var timeoutMs: Int
    /// Retries after a timeout or a retryable code (UNAVAILABLE).
    public var retry: RetryPolicy
    /// Replies larger than this (bytes) make libzmq drop the connection (`ZMQ_MAXMSGSIZE`); the
    /// call then times out. -1 = no limit.
    public var maxReplyBytes: Int64
    /// Calls queued for sending per connection before new calls fail fast (`ZMQ_SNDHWM`).
    public var sendHighWaterMark: Int32
    /// Metadata sent in every request header (e.g. a caller name for the server's logs).
    public var metadata: [String: String]
    /// CURVE: the server's public key and this client's key pair (Z85), for a server started with
    /// `--curve-secret-key` / `--curve-allow`; nil for plaintext. A server that refuses the key
    /// never answers: calls time out.
    public var curve: CurveClientKeys?

    /// Creates options.
    /// - Parameters:
    ///   - timeoutMs: Per-attempt timeout in milliseconds (> 0).
    ///   - retry: The retry policy.
    ///   - maxReplyBytes: Largest accepted reply, bytes (-1 = unlimited).
    ///   - sendHighWaterMark: Outbound queue limit, messages.
    ///   - metadata: Header metadata for every call.
    public init(
        timeoutMs: Int = 2000, retry: RetryPolicy = RetryPolicy(), maxReplyBytes: Int64 = 64 << 20,
        sendHighWaterMark: Int32 = 10_000, metadata: [String: String] = [:]
    ) {
        precondition(timeoutMs > 0, "timeoutMs must be positive")
        self.timeoutMs = timeoutMs
        self.retry = retry
        self.maxReplyBytes = maxReplyBytes
        self.sendHighWaterMark = sendHighWaterMark
        self.metadata = metadata
        self.curve = nil
    }
}

/// A CURVE client's keys: the server's public key and the client's own pair.
public struct CurveClientKeys: Sendable, Equatable {
    /// The server's public key (Z85), printed at its start and in its `PREFIX.pub`.
    public var serverPublicKey: String
    /// This client's key pair; its public key must be on the server's allowlist.
    public var client: CurveKeyPair

    public init(serverPublicKey: String, client: CurveKeyPair) {
        self.serverPublicKey = serverPublicKey
        self.client = client
    }
}
