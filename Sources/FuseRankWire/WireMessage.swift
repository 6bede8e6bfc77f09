/// A Swift value type with a protobuf wire form in `proto/fuserank/v1/ranker.proto`.
///
/// `encode()` and `init(bytes:)` use the protobuf-c generated code; no protobuf-c pointer
/// escapes either call.
public protocol WireMessage: Sendable, Equatable {
    /// The fully qualified protobuf name, e.g. `fuserank.v1.RankRequest`.
    static var protoName: String { get }

    /// Serialises the value in protobuf's binary format (fields in field-number order).
    /// - Returns: the encoded bytes; empty when every field holds its default.
    func encode() -> [UInt8]

    /// Decodes a value from protobuf's binary format; unknown fields are skipped.
    /// - Parameter bytes: one whole encoded message.
    /// - Throws: ``WireError/undecodable(messageType:byteCount:)`` when the bytes do not parse.
    init(bytes: [UInt8]) throws(WireError)
}
