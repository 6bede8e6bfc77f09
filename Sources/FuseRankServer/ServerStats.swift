import Foundation
import FuseRankWire

/// Replies sent, by status code; logged when the server stops.
// @unchecked Sendable: `counts` is read and written only while `lock` is held.
final class ServerStats: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [StatusCode: Int] = [:]

    /// Counts one reply.
    func record(_ code: StatusCode) {
        lock.lock()
        counts[code, default: 0] += 1
        lock.unlock()
    }

    /// Replies with `code` so far.
    func count(_ code: StatusCode) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return counts[code, default: 0]
    }

    /// E.g. `OK=120 INVALID_ARGUMENT=3`, codes in number order.
    var summary: String {
        lock.lock()
        defer { lock.unlock() }
        let parts = StatusCode.allCases.compactMap { code in counts[code].map { "\(code.name)=\($0)" } }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }
}
