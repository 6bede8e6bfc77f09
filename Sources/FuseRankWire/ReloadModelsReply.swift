import CFuseRankProto

/// The reply of `ReloadModels`: every model the server knows of after the rescan.
public struct ReloadModelsReply: WireMessage {
    public static let protoName = "fuserank.v1.ReloadModelsReply"

    /// One entry per model, served or failed, sorted by name.
    public var models: [ModelLoadStatus]

    public init(models: [ModelLoadStatus] = []) { self.models = models }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ReloadModelsReply()
        fuserank__v1__reload_models_reply__init(&c)
        c.n_models = models.count
        c.models = arena.messages(Fuserank__V1__ModelLoadStatus.self, count: models.count) {
            models[$0].fill($1, arena: arena)
        }
        return packed(&c, size: fuserank__v1__reload_models_reply__get_packed_size, pack: fuserank__v1__reload_models_reply__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__reload_models_reply__unpack, free: fuserank__v1__reload_models_reply__free_unpacked
        ) { p in
            let c = p.pointee
            return ReloadModelsReply(models: swiftMessages(c.models, c.n_models, ModelLoadStatus.init(c:)))
        }
    }
}
