import FuseRankTransport

/// The servers connected to the broker's backend, from the backend's monitor events.
///
/// A connection counts once its handshake succeeded (under CURVE: once the server's key was
/// admitted) and until it ends, so a server refused by CURVE never counts. libzmq reports every
/// handshake failure right before the ``ZMQMonitorEvents/disconnected`` event of the same
/// connection, on the context's single I/O thread; a disconnection that follows a failure is
/// therefore that connection's, which never counted.
struct ServerCount {
    /// What an event changed.
    enum Change: Equatable {
        /// A server finished its handshake.
        case joined
        /// A counted server's connection ended.
        case left
    }

    /// Servers connected now.
    private(set) var connected = 0
    /// Failed handshakes whose disconnection has not been seen yet.
    private var failedAwaitingDisconnect = 0

    /// Events the backend's monitor must report.
    static let events: ZMQMonitorEvents = [.handshakeSucceeded, .handshakeFailed, .disconnected]

    /// Takes one monitor event into account.
    /// - Parameter event: the event (one of ``events``).
    /// - Returns: how the count changed, or nil when it did not.
    mutating func record(_ event: ZMQMonitorEvents) -> Change? {
        if event == .handshakeSucceeded {
            connected += 1
            return .joined
        }
        if !event.isDisjoint(with: .handshakeFailed) {
            failedAwaitingDisconnect += 1
            return nil
        }
        guard event == .disconnected else { return nil }
        if failedAwaitingDisconnect > 0 {
            failedAwaitingDisconnect -= 1
            return nil
        }
        connected = max(0, connected - 1)
        return .left
    }
}
