import Foundation
import FuseRankTestSupport

/// What the kernel says about one thread of this process, read from `/proc` (Linux only), so that a
/// test can wait until another thread is really blocked instead of sleeping and hoping it is.
enum KernelThread {
    /// The calling thread's kernel thread id (what `gettid()` returns), read from the
    /// `/proc/thread-self` link, which points at `<pid>/task/<tid>`.
    static func currentID() -> Int32? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"),
            let last = target.split(separator: "/").last
        else { return nil }
        return Int32(last)
    }

    /// The state letter of thread `tid` of this process (`R` running, `S` sleeping in the kernel,
    /// `D` uninterruptible, ...), the field after the parenthesised name in its `stat` file;
    /// nil when the thread has exited.
    static func state(_ tid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].first { $0 != " " }
    }

    /// Waits until thread `tid` sleeps in the kernel (state `S`), checking every millisecond.
    /// - Parameters:
    ///   - tid: A kernel thread id of this process.
    ///   - timeout: How long to wait at most.
    /// - Returns: Whether the thread was seen sleeping before the timeout.
    static func waitUntilSleeping(_ tid: Int32, timeout: Duration = .seconds(30)) async throws -> Bool {
        await eventually(timeout: timeout) { state(tid) == "S" }
    }
}
