import Foundation

/// Chooses the connection for each attempt when a client has several endpoints.
///
/// Least outstanding: the connection with the fewest calls waiting for a reply, ties broken
/// round-robin, so idle clients still spread their calls. A retry never goes to the connection
/// its previous attempt failed on while there is another, and a connection whose attempt timed
/// out is passed over for that timeout while others have not timed out (its server may be dead).
// @unchecked Sendable: `next` and `suspectUntil` are read and written only while `lock` is held;
// `connections` is immutable and each connection is thread-safe.
final class EndpointBalancer: @unchecked Sendable {
    /// One connection per endpoint, in the order given.
    let connections: [DealerConnection]
    private let lock = NSLock()
    private var next = 0
    private var suspectUntil: [ContinuousClock.Instant]

    init(connections: [DealerConnection]) {
        precondition(!connections.isEmpty, "at least one connection")
        self.connections = connections
        self.suspectUntil = Array(repeating: .now, count: connections.count)
    }

    /// The index of the connection for the next attempt.
    /// - Parameter previous: the connection the call's previous attempt failed on, if any.
    func pick(avoiding previous: Int?) -> Int {
        let count = connections.count
        if count == 1 { return 0 }
        let outstanding = connections.map(\.outstanding)
        let now = ContinuousClock.now
        return lock.withLock {
            let start = next
            next = (next + 1) % count
            // Lowest (timed out lately, calls waiting) wins; the first in turn wins a tie.
            var best: (index: Int, suspect: Int, waiting: Int)?
            for offset in 0..<count {
                let index = (start + offset) % count
                if index == previous { continue }
                let suspect = suspectUntil[index] > now ? 1 : 0
                if let chosen = best, (chosen.suspect, chosen.waiting) <= (suspect, outstanding[index]) { continue }
                best = (index, suspect, outstanding[index])
            }
            return best?.index ?? start
        }
    }

    /// Records that an attempt on `index` got no reply within `timeoutMs`.
    func timedOut(_ index: Int, timeoutMs: Int) {
        lock.withLock { suspectUntil[index] = .now + .milliseconds(timeoutMs) }
    }
}
