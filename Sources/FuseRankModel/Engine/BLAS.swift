import COpenBLAS
import Foundation

/// The OpenBLAS thread count of the process.
///
/// Debian's OpenBLAS is the pthread build: it serialises concurrent multithreaded GEMMs, so a
/// server with one worker per core wants 1 BLAS thread per worker. If the caller never calls
/// ``setThreads(_:)``, the library sets 1 the first time a ``Ranker`` is created.
public enum BLAS {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var configured = false  // guarded by `lock`

    /// Sets the OpenBLAS thread count for the process (at least 1).
    /// - Parameter n: the thread count; values below 1 are taken as 1.
    public static func setThreads(_ n: Int) {
        lock.lock()
        defer { lock.unlock() }
        openblas_set_num_threads(Int32(clamping: max(1, n)))
        configured = true
    }

    /// The OpenBLAS thread count in effect.
    public static var threads: Int {
        Int(openblas_get_num_threads())
    }

    /// Applies the default of 1 thread unless the caller has chosen a count.
    static func applyDefault() {
        lock.lock()
        defer { lock.unlock() }
        guard !configured else { return }
        openblas_set_num_threads(1)
        configured = true
    }
}
