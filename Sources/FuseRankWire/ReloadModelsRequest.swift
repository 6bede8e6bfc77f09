import CFuseRankProto

/// The request of `ReloadModels` (no fields): rescan every model repository now.
public struct ReloadModelsRequest: WireMessage {
    public static let protoName = "fuserank.v1.ReloadModelsRequest"

    public init() {}

    public func encode() -> [UInt8] {
        var c = Fuserank__V1__ReloadModelsRequest()
        fuserank__v1__reload_models_request__init(&c)
        return packed(&c, size: fuserank__v1__reload_models_request__get_packed_size, pack: fuserank__v1__reload_models_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__reload_models_request__unpack, free: fuserank__v1__reload_models_request__free_unpacked
        ) { _ in ReloadModelsRequest() }
    }
}
