import Foundation

/// Decides which auth failures are logged: at most one per peer address per interval, so a
/// misconfigured client (or a scanner) cannot flood the log. Every failure is still counted in
/// `fuserank_auth_failures_total`.
// @unchecked Sendable: `lastLogged` is read and written only while `lock` is held.
final class AuthFailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lastLogged: [String: ContinuousClock.Instant] = [:]
    private var suppressed: [String: Int] = [:]
    private let interval: Duration

    /// - Parameter interval: the least time between two log lines for one peer.
    init(interval: Duration = .seconds(60)) { self.interval = interval }

    /// Whether the failure of `peer` at `now` is logged; when it is, also how many of that peer's
    /// failures were not logged since its last line.
    func shouldLog(peer: String, at now: ContinuousClock.Instant = .now) -> (log: Bool, suppressed: Int) {
        lock.lock()
        defer { lock.unlock() }
        if let last = lastLogged[peer], now - last < interval {
            suppressed[peer, default: 0] += 1
            return (false, 0)
        }
        lastLogged[peer] = now
        // Forget peers quiet for a whole interval, so the table stays small.
        if lastLogged.count > 1024 { lastLogged = lastLogged.filter { now - $0.value < interval } }
        return (true, suppressed.removeValue(forKey: peer) ?? 0)
    }
}
