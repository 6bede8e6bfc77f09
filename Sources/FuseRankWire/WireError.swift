/// Why bytes could not be decoded into a wire message.
public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// protobuf-c rejected the bytes (truncated, bad tag or wire type, bad length, nested message
    /// that does not parse).
    /// - messageType: the protobuf message name, e.g. `fuserank.v1.RankRequest`.
    /// - byteCount: the length of the rejected input.
    case undecodable(messageType: String, byteCount: Int)

    public var description: String {
        switch self {
        case let .undecodable(messageType, byteCount):
            return "cannot decode \(byteCount) bytes as \(messageType)"
        }
    }
}
