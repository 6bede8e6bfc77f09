/// A message as a ROUTER socket received it, split into the routing envelope and the call frames
/// (docs/wire.md, "Sockets and framing"): the one split the server, the broker's forwarder and
/// the broker's Health endpoint all use.
///
/// The envelope is every frame up to and including the first empty frame after the peer's routing
/// id (the delimiter a REQ socket sends and DEALER clients send too); a reply echoes it. A
/// message with no delimiter has the routing id alone as its envelope.
public struct RoutedMessage: Sendable {
    /// The frames to echo in front of the reply (at most the whole message).
    public let envelope: [[UInt8]]
    /// The frames after the envelope; a well-formed call is [RequestHeader][request] (and the
    /// caller's identity on a server's broker link).
    public let content: [[UInt8]]

    /// Splits a received message.
    /// - Parameter frames: everything the socket received, routing id first.
    public init(frames: [[UInt8]]) {
        if let delimiter = frames.dropFirst().firstIndex(where: \.isEmpty) {
            envelope = Array(frames[...delimiter])
            content = Array(frames[(delimiter + 1)...])
        } else {
            envelope = Array(frames.prefix(1))
            content = Array(frames.dropFirst())
        }
    }

    /// The index in `frames` of the first frame after the envelope (``content``'s first frame).
    /// - Parameter frames: a received message, routing id first.
    public static func contentStart(of frames: [[UInt8]]) -> Int {
        (frames.dropFirst().firstIndex(where: \.isEmpty) ?? 0) + 1
    }
}
