import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns signals (SIGINT and SIGTERM unless told otherwise) into a call on a dispatch queue, never
/// inside a signal handler.
///
/// The signals are ignored for the process (so their default action, exit, never runs) and
/// watched with `DispatchSource`, which delivers them on its own queue where any code may run.
public final class ShutdownSignals {
    private let sources: [any DispatchSourceSignal]

    /// Starts watching.
    /// - Parameters:
    ///   - signals: the signal numbers (default SIGINT and SIGTERM).
    ///   - handler: called on a private serial queue with the signal number, once per delivery.
    public init(_ signals: [Int32] = [SIGINT, SIGTERM], handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "fuserank.signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// Stops watching (the signals stay ignored).
    public func cancel() {
        for source in sources { source.cancel() }
    }
}
