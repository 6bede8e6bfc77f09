import Foundation

/// Waits until `condition` holds, checking every millisecond: the tests' way to wait for a state
/// another thread reaches (never a fixed sleep). The bound is generous: CI machines are shared.
/// - Returns: false when `timeout` passed first.
public func eventually(timeout: Duration = .seconds(30), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// A value shared between a test and a thread it started.
// @unchecked Sendable: every access to `stored` holds `lock`.
public final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
