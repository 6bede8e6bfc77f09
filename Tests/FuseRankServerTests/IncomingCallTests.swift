import Testing

@testable import FuseRankServer

@Suite struct IncomingCallTests {
    @Test func delimiterEndsTheEnvelope() {
        let call = IncomingCall(frames: [[1], [], [2], [3]])
        #expect(call.envelope == [[1], []])
        #expect(call.content == [[2], [3]])
        #expect(call.contentBytes == 2)
    }

    @Test func severalHopsStayInTheEnvelope() {
        let call = IncomingCall(frames: [[1], [9, 9], [], [2], []])
        #expect(call.envelope == [[1], [9, 9], []])
        #expect(call.content == [[2], []])
    }

    /// An empty header frame after the delimiter is content (an all-default header), not envelope.
    @Test func onlyTheFirstEmptyFrameIsTheDelimiter() {
        let call = IncomingCall(frames: [[1], [], [], [5]])
        #expect(call.envelope == [[1], []])
        #expect(call.content == [[], [5]])
    }

    @Test func noDelimiterMeansTheRoutingIDAlone() {
        let call = IncomingCall(frames: [[1], [2], [3]])
        #expect(call.envelope == [[1]])
        #expect(call.content == [[2], [3]])
        #expect(IncomingCall(frames: [[1]]).content.isEmpty)
    }

    /// On a broker link the last frame is the caller the broker vouches for, trusted only on an
    /// authenticated (CURVE) link; anything but exactly three frames is malformed.
    @Test func aBrokerLinkTakesTheCallerFromTheLastFrame() {
        let key = Array(String(repeating: "k", count: 40).utf8)
        let trusted = IncomingCall(frames: [[1], [], [2], [3], key], source: .broker(authenticated: true))
        #expect(trusted.content == [[2], [3]] && trusted.framingProblem == nil)
        #expect(trusted.userID == String(repeating: "k", count: 40))
        let plaintext = IncomingCall(frames: [[1], [], [2], [3], key], source: .broker(authenticated: false))
        #expect(plaintext.content == [[2], [3]] && plaintext.userID == nil && plaintext.framingProblem == nil)
        #expect(IncomingCall(frames: [[1], [], [2], [3], []], source: .broker(authenticated: true)).userID == nil)
        // A client's extra frame (a forged identity) or a call with none: malformed.
        #expect(IncomingCall(frames: [[1], [], [2], [3], key, key], source: .broker(authenticated: true)).framingProblem != nil)
        let short = IncomingCall(frames: [[1], [], [2], [3]], source: .broker(authenticated: true))
        #expect(short.framingProblem != nil && short.userID == nil)
        // The bound socket keeps its two frames and the ZAP user id.
        let bound = IncomingCall(frames: [[1], [], [2], [3]], userID: "zap")
        #expect(bound.framingProblem == nil && bound.userID == "zap")
        #expect(IncomingCall(frames: [[1], [], [2], [3], key]).framingProblem != nil)
    }
}
