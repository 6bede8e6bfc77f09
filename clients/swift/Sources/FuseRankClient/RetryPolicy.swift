import FuseRankWire

/// When and how long to wait before retrying a call: capped exponential backoff with jitter.
///
/// Retrying is safe because every FuseRank method is idempotent (ranking reads only).
public struct RetryPolicy: Sendable, Equatable {
    /// Extra attempts after the first (0 = never retry).
    public var retries: Int
    /// The pause before the first retry, in milliseconds.
    public var initialBackoffMs: Int
    /// The cap on any pause, in milliseconds.
    public var maxBackoffMs: Int
    /// Each retry's pause is the previous one times this.
    public var multiplier: Double
    /// Each pause is scaled by a uniform factor in `1 - jitter ... 1 + jitter` so that clients that
    /// failed together do not retry together.
    public var jitter: Double
    /// Server codes worth retrying; a timeout (no reply) is always retried.
    public var retryableCodes: Set<StatusCode>

    /// Creates a policy; the defaults match the Python client (2 retries, 50 ms doubling to 1 s).
    public init(
        retries: Int = 2, initialBackoffMs: Int = 50, maxBackoffMs: Int = 1000,
        multiplier: Double = 2, jitter: Double = 0.2, retryableCodes: Set<StatusCode> = [.unavailable]
    ) {
        precondition(retries >= 0, "retries must be >= 0")
        precondition(initialBackoffMs >= 0 && maxBackoffMs >= initialBackoffMs, "backoff bounds out of order")
        precondition(multiplier >= 1 && (0...1).contains(jitter), "multiplier >= 1 and jitter in 0...1")
        self.retries = retries
        self.initialBackoffMs = initialBackoffMs
        self.maxBackoffMs = maxBackoffMs
        self.multiplier = multiplier
        self.jitter = jitter
        self.retryableCodes = retryableCodes
    }

    /// No retries at all.
    public static let none = RetryPolicy(retries: 0)

    /// The pause before retry number `retry` (1 = the first retry).
    /// - Parameters:
    ///   - retry: Which retry, from 1.
    ///   - random: Where the jitter comes from.
    /// - Returns: Milliseconds to wait, within `base * (1 ± jitter)` where `base` is
    ///   `min(maxBackoffMs, initialBackoffMs * multiplier^(retry - 1))`.
    public func backoffMs<R: RandomNumberGenerator>(beforeRetry retry: Int, using random: inout R) -> Int {
        let exponent = Double(max(0, retry - 1))
        let base = min(Double(maxBackoffMs), Double(initialBackoffMs) * pow(multiplier, exponent))
        let factor = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter), using: &random) : 1
        return Int((base * factor).rounded())
    }

    /// Whether a server code is worth another attempt under this policy.
    /// - Parameter code: The reply's code.
    /// - Returns: True for the ``retryableCodes``.
    public func shouldRetry(_ code: StatusCode) -> Bool { retryableCodes.contains(code) }
}

/// `pow` without importing Foundation into the public surface.
private func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 { result *= base; remaining -= 1 }
    return result
}
