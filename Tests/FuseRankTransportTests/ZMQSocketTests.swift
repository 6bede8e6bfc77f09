import Foundation
import Testing

@testable import FuseRankTransport

/// Real libzmq sockets over loopback TCP and inproc.
@Suite struct ZMQSocketTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    /// A ROUTER bound on a free loopback port, and its resolved endpoint.
    func boundRouter() throws -> (ZMQSocket, String) {
        let router = try ZMQSocket(context: context, type: .router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        return (router, endpoint)
    }

    @Test func lastEndpointResolvesTheWildcardPort() throws {
        let (_, endpoint) = try boundRouter()
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.split(separator: ":").last!)!
        #expect(port > 0 && port < 65536)
    }

    @Test func requestEnvelopeReachesRouterAndReplyComesBack() throws {
        let (router, endpoint) = try boundRouter()
        try router.setReceiveTimeout(5000)
        let req = try ZMQSocket(context: context, type: .request)
        try req.setReceiveTimeout(5000)
        try req.connect(endpoint)

        #expect(try req.send([Array("header".utf8), Array("body".utf8)]))
        let got = try #require(try router.receiveMultipart())
        // [routing id][empty delimiter][header][body]
        #expect(got.count == 4)
        #expect(!got[0].isEmpty)
        #expect(got[1].isEmpty)
        #expect(got[2] == Array("header".utf8))
        #expect(got[3] == Array("body".utf8))

        try router.send([got[0], [], Array("reply".utf8), []])
        let reply = try #require(try req.receiveMultipart())
        #expect(reply == [Array("reply".utf8), []])
    }

    @Test func dealerRoundTripWithRoutingID() throws {
        let (router, endpoint) = try boundRouter()
        try router.setReceiveTimeout(5000)
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.setRoutingID(Array("client-7".utf8))
        try dealer.setReceiveTimeout(5000)
        try dealer.connect(endpoint)
        #expect(try dealer.routingID() == Array("client-7".utf8))

        try dealer.send([[], [1, 2, 3], [4]])
        let got = try #require(try router.receiveMultipart())
        #expect(got == [Array("client-7".utf8), [], [1, 2, 3], [4]])

        try router.send([got[0], [], [9], [8, 7]])
        #expect(try dealer.receiveMultipart() == [[], [9], [8, 7]])
    }

    @Test func multipartKeepsEmptyAndLargeFrames() throws {
        let a = try ZMQSocket(context: context, type: .pair)
        let b = try ZMQSocket(context: context, type: .pair)
        try a.bind("inproc://multipart")
        try b.connect("inproc://multipart")
        try b.setReceiveTimeout(5000)
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let frames: [[UInt8]] = [[], large, [0], [], Array(repeating: 0xFF, count: 300)]
        try a.send(frames)
        let got = try #require(try b.receiveMultipart())
        #expect(got.count == frames.count)
        #expect(got == frames)
    }

    @Test func receiveTimeoutReturnsNil() throws {
        let (router, _) = try boundRouter()
        try router.setReceiveTimeout(50)
        let start = Date()
        #expect(try router.receiveMultipart() == nil)
        #expect(Date().timeIntervalSince(start) >= 0.04)
        #expect(try router.receiveMultipart(dontWait: true) == nil)
    }

    @Test func sendWithoutPeerReturnsFalseWhenImmediate() throws {
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.setImmediate(true)
        try dealer.connect("tcp://127.0.0.1:1")  // nothing listens on port 1
        #expect(try dealer.send([[], [1]], dontWait: true) == false)
        try dealer.setSendTimeout(30)
        #expect(try dealer.send([[], [1]]) == false)
    }

    @Test func routerMandatoryRejectsUnknownPeer() throws {
        let (router, _) = try boundRouter()
        try router.setRouterMandatory(true)
        let error = #expect(throws: ZMQError.self) {
            try router.send([Array("nobody".utf8), [], [1]])
        }
        #expect(error?.isHostUnreachable == true)
        #expect(error?.message.isEmpty == false)
    }

    @Test func bindTwiceFailsWithAddressInUse() throws {
        let (router, endpoint) = try boundRouter()
        let other = try ZMQSocket(context: context, type: .router)
        let error = #expect(throws: ZMQError.self) { try other.bind(endpoint) }
        withExtendedLifetime(router) {}
        #expect(error?.errno == EADDRINUSE)
        #expect(error?.description.contains(endpoint) == true)
    }

    @Test func malformedEndpointIsRejected() throws {
        let s = try ZMQSocket(context: context, type: .dealer)
        #expect(throws: ZMQError.self) { try s.connect("nonsense://x") }
    }

    @Test func closedSocketThrowsNotSocket() throws {
        let s = try ZMQSocket(context: context, type: .dealer)
        s.close()
        s.close()  // idempotent
        #expect(s.isClosed)
        let error = #expect(throws: ZMQError.self) { try s.send([[1]]) }
        #expect(error?.errno == ENOTSOCK)
        #expect(throws: ZMQError.self) { try s.receiveMultipart() }
    }

    @Test func maxMessageSizeAndHighWaterMarksRoundTrip() throws {
        let s = try ZMQSocket(context: context, type: .router)
        try s.setMaxMessageSize(64 << 20)
        try s.setSendHighWaterMark(123)
        try s.setReceiveHighWaterMark(456)
        try s.setLinger(10)
        #expect(try s.int64Option(ZMQ_MAXMSGSIZE_VALUE) == 64 << 20)
        #expect(try s.intOption(ZMQ_SNDHWM_VALUE) == 123)
        #expect(try s.intOption(ZMQ_RCVHWM_VALUE) == 456)
        #expect(try s.intOption(ZMQ_LINGER_VALUE) == 10)
    }

    @Test func oversizedMessageIsNotDelivered() throws {
        // Options are copied into a listener at bind time: set them first.
        let router = try ZMQSocket(context: context, type: .router)
        try router.setMaxMessageSize(1000)
        try router.setReceiveTimeout(200)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.connect(endpoint)
        try dealer.send([[], Array(repeating: 1, count: 5000)])
        #expect(try router.receiveMultipart() == nil)
        // A small message on a fresh connection still gets through.
        let small = try ZMQSocket(context: context, type: .dealer)
        try small.connect(endpoint)
        try small.send([[], [1, 2]])
        try router.setReceiveTimeout(5000)
        #expect(try router.receiveMultipart()?.suffix(2) == [[], [1, 2]])
    }
}

// The option numbers from zmq.h, spelled here so the tests do not import CZeroMQ.
let ZMQ_MAXMSGSIZE_VALUE: Int32 = 22
let ZMQ_SNDHWM_VALUE: Int32 = 23
let ZMQ_RCVHWM_VALUE: Int32 = 24
let ZMQ_LINGER_VALUE: Int32 = 17
