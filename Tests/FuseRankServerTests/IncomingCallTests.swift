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
}
