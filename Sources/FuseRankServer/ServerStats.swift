import Foundation
import FuseRankWire

/// Replies sent, by status code (counted where the front thread sends them), and the sizes of the
/// batches the workers ranked; logged when the server stops.
// @unchecked Sendable: `counts` and `batches` are read and written only while `lock` is held.
package final class ServerStats: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [StatusCode: Int] = [:]
    private var batches: [Int: Int] = [:]

    package init() {}

    /// Counts one reply.
    func record(_ code: StatusCode) {
        lock.lock()
        counts[code, default: 0] += 1
        lock.unlock()
    }

    /// Counts one batch a worker took.
    func recordBatch(size: Int) {
        lock.lock()
        batches[size, default: 0] += 1
        lock.unlock()
    }

    /// Replies with `code` so far.
    func count(_ code: StatusCode) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return counts[code, default: 0]
    }

    /// Batches ranked so far, by size.
    var batchSizes: [Int: Int] {
        lock.lock()
        defer { lock.unlock() }
        return batches
    }

    /// E.g. `OK=120 INVALID_ARGUMENT=3`, codes in number order.
    var summary: String {
        lock.lock()
        defer { lock.unlock() }
        let parts = StatusCode.allCases.compactMap { code in counts[code].map { "\(code.name)=\($0)" } }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }
}
