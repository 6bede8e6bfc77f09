import Foundation
import FuseRankTransport

/// The workers' finished replies on their way to the front thread, which alone sends them.
///
/// A worker appends a batch's replies and signals the wake pipe; the front thread, woken in
/// `zmq_poll`, drains the pipe and then takes everything.
// @unchecked Sendable: `replies` is read and written only while `lock` is held; `wake` is Sendable.
package final class ReplyQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var replies: [Reply] = []
    private let wake: WakePipe

    /// A queue that wakes the front thread through `wake`.
    package init(wake: WakePipe) { self.wake = wake }

    /// Hands finished replies to the front thread and wakes it.
    func push(_ batch: [Reply]) {
        guard !batch.isEmpty else { return }
        lock.lock()
        replies += batch
        lock.unlock()
        wake.signal()
    }

    /// Every reply handed over so far, oldest first; the queue is empty afterwards.
    func takeAll() -> [Reply] {
        lock.lock()
        defer { lock.unlock() }
        let taken = replies
        replies.removeAll(keepingCapacity: true)
        return taken
    }
}
