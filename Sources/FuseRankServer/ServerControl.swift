import Foundation
import Logging

/// The lifecycle state of a server and its stop request, shared by the front thread, the
/// signal handler and the owner of the ``RankServer``.
// @unchecked Sendable: `state` and `stopRequested` are read and written only while `condition`
// is locked.
package final class ServerControl: @unchecked Sendable {
    private let condition = NSCondition()
    private var current: LifecycleState = .starting
    private var stopRequestedFlag = false
    private var inFlightAtDrain: Int?
    private let logger: Logger

    package init(logger: Logger) { self.logger = logger }

    /// The current state.
    var state: LifecycleState {
        condition.lock()
        defer { condition.unlock() }
        return current
    }

    /// Moves to `state`, logs it, and wakes ``waitUntilStopped()`` callers.
    package func transition(to state: LifecycleState) {
        condition.lock()
        defer { condition.unlock() }
        let previous = current
        current = state
        // Logged before waiters wake, so "stopped" is in the log before the process can exit.
        if previous != state {
            logger.info("lifecycle: \(previous.rawValue) -> \(state.rawValue)", metadata: ["state": "\(state.rawValue)"])
        }
        condition.broadcast()
    }

    /// Moves from ``LifecycleState/starting`` to `state`; a no-op in any other state (a stop that
    /// came during start-up wins).
    func transitionIfStarting(to state: LifecycleState) {
        condition.lock()
        defer { condition.unlock() }
        guard current == .starting else { return }
        current = state
        logger.info("lifecycle: starting -> \(state.rawValue)", metadata: ["state": "\(state.rawValue)"])
        condition.broadcast()
    }

    /// Moves to ``LifecycleState/draining`` with `inFlight` Rank requests queued or being ranked.
    func startDraining(inFlight: Int) {
        condition.lock()
        inFlightAtDrain = inFlight
        condition.unlock()
        transition(to: .draining)
    }

    /// The Rank requests queued or being ranked when draining began; nil before.
    var inFlightWhenDraining: Int? {
        condition.lock()
        defer { condition.unlock() }
        return inFlightAtDrain
    }

    /// Records a stop request; returns false if one was already made.
    func requestStop() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if stopRequestedFlag { return false }
        stopRequestedFlag = true
        return true
    }

    /// Whether a stop was requested.
    var stopRequested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopRequestedFlag
    }

    /// Blocks until the state is ``LifecycleState/stopped``.
    func waitUntilStopped() {
        condition.lock()
        while current != .stopped { condition.wait() }
        condition.unlock()
    }
}
