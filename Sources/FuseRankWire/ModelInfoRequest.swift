import CFuseRankProto

/// The request of `GetModelInfo`.
public struct ModelInfoRequest: WireMessage {
    public static let protoName = "fuserank.v1.ModelInfoRequest"

    /// Model name; empty = the server's default model.
    public var model: String

    public init(model: String = "") { self.model = model }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ModelInfoRequest()
        fuserank__v1__model_info_request__init(&c)
        c.model = arena.string(model)
        return packed(&c, size: fuserank__v1__model_info_request__get_packed_size, pack: fuserank__v1__model_info_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__model_info_request__unpack, free: fuserank__v1__model_info_request__free_unpacked
        ) { ModelInfoRequest(model: swiftString($0.pointee.model)) }
    }
}
