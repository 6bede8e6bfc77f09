import FuseRankWire
import Testing

/// The routing-envelope split the server and the broker share.
@Suite struct RoutedMessageTests {
    @Test func envelopeEndsAtTheFirstEmptyFrameAfterTheRoutingID() {
        let frames: [[UInt8]] = [[], [1], [], [2], [3]]  // an empty routing id is still the routing id
        let message = RoutedMessage(frames: frames)
        #expect(message.envelope == [[], [1], []])
        #expect(message.content == [[2], [3]])
        #expect(RoutedMessage.contentStart(of: frames) == 3)
    }

    @Test func withoutDelimiterTheRoutingIDAloneIsTheEnvelope() {
        let frames: [[UInt8]] = [[9], [2], [3]]
        let message = RoutedMessage(frames: frames)
        #expect(message.envelope == [[9]])
        #expect(message.content == [[2], [3]])
        #expect(RoutedMessage.contentStart(of: frames) == 1)
    }

    @Test func relayedEnvelopesKeepEveryHop() {
        let frames: [[UInt8]] = [[7], [8], [], [2], [3], [4]]
        let message = RoutedMessage(frames: frames)
        #expect(message.envelope == [[7], [8], []])
        #expect(message.content == [[2], [3], [4]])
    }
}
