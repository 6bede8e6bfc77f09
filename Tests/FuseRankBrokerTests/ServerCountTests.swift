import FuseRankTransport
import Testing

@testable import FuseRankBroker

/// Servers counted from the backend monitor's events, as libzmq orders them.
@Suite struct ServerCountTests {
    @Test func aServerCountsFromItsHandshakeUntilItLeaves() {
        var count = ServerCount()
        #expect(count.record(.handshakeSucceeded) == .joined)
        #expect(count.record(.handshakeSucceeded) == .joined)
        #expect(count.connected == 2)
        #expect(count.record(.disconnected) == .left)
        #expect(count.connected == 1)
    }

    /// A refused connection (each kind of failure) ends with a disconnection that is its own, not a
    /// counted server's; refusals in a row between counted servers change nothing.
    @Test func aRefusedConnectionNeverCounts() {
        var count = ServerCount()
        #expect(count.record(.handshakeSucceeded) == .joined)
        for failure: ZMQMonitorEvents in [.handshakeFailedAuth, .handshakeFailedProtocol, .handshakeFailedNoDetail] {
            #expect(count.record(failure) == nil)
            #expect(count.record(.disconnected) == nil)
        }
        #expect(count.connected == 1)
        #expect(count.record(.disconnected) == .left)
        #expect(count.connected == 0)
        #expect(count.record(.disconnected) == .left && count.connected == 0)  // never below zero
    }
}
