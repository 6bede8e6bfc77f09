import CFuseRankProto

/// The request of `Health` (no fields).
public struct HealthRequest: WireMessage {
    public static let protoName = "fuserank.v1.HealthRequest"

    public init() {}

    public func encode() -> [UInt8] {
        var c = Fuserank__V1__HealthRequest()
        fuserank__v1__health_request__init(&c)
        return packed(&c, size: fuserank__v1__health_request__get_packed_size, pack: fuserank__v1__health_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__health_request__unpack, free: fuserank__v1__health_request__free_unpacked
        ) { _ in HealthRequest() }
    }
}
