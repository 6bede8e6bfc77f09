import Foundation

/// Decides which auth failures are logged: at most one per peer address per interval, so a
/// misconfigured peer (or a scanner) cannot flood the log. The server and the broker both log
/// their ``ZAPHandler``'s refusals through one; the server still counts every failure in
/// `fuserank_auth_failures_total`.
// @unchecked Sendable: `lastLogged` is read and written only while `lock` is held.
public final class AuthFailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lastLogged: [String: ContinuousClock.Instant] = [:]
    private var suppressed: [String: Int] = [:]
    private let interval: Duration

    /// - Parameter interval: the least time between two log lines for one peer.
    public init(interval: Duration = .seconds(60)) { self.interval = interval }

    /// Whether the failure of `peer` at `now` is logged; when it is, also how many of that peer's
    /// failures were not logged since its last line.
    public func shouldLog(peer: String, at now: ContinuousClock.Instant = .now) -> (log: Bool, suppressed: Int) {
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

    /// The warning to log for `failure`, or nil while its peer's failures are suppressed:
    /// `refused a connection from 10.0.0.7: client key K is not on the allowlist (3 more since the last line)`.
    /// - Parameters:
    ///   - failure: what the ZAP handler (or a socket monitor) reported.
    ///   - peerKind: who connects there: `client`, or `server` on a broker's backend.
    ///   - allowlist: the list the key was looked up in, as the log names it.
    public func line(for failure: AuthFailure, peerKind: String = "client", allowlist: String = "the allowlist") -> String? {
        let (log, suppressed) = shouldLog(peer: failure.peer)
        guard log else { return nil }
        let why: String
        switch failure.reason {
        case let .unknownKey(key): why = "\(peerKind) key \(key) is not on \(allowlist)"
        case .handshake: why = "handshake failed (a plaintext \(peerKind), one holding the wrong public key for us, or not ZMTP)"
        }
        return "refused a connection from \(failure.peer): \(why)\(suppressed > 0 ? " (\(suppressed) more since the last line)" : "")"
    }
}
