import CFuseRankProto

/// The reply of `Health`: whether the server takes work, and which models it serves.
public struct HealthReply: WireMessage {
    public static let protoName = "fuserank.v1.HealthReply"

    /// True while the server is serving (not starting, not draining).
    public var ready: Bool
    /// The lifecycle state: "starting", "serving", "draining".
    public var state: String
    /// The names of the loaded models, the default first.
    public var models: [String]
    /// The version each model serves, in the order of ``models``.
    public var modelVersions: [ModelVersion]
    /// Each model's position in the shared catalogue log; empty without `--catalogue-log`.
    public var catalogueLog: [CatalogueLogPosition]

    public init(ready: Bool = false, state: String = "", models: [String] = [], modelVersions: [ModelVersion] = [],
                catalogueLog: [CatalogueLogPosition] = []) {
        self.ready = ready
        self.state = state
        self.models = models
        self.modelVersions = modelVersions
        self.catalogueLog = catalogueLog
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__HealthReply()
        fuserank__v1__health_reply__init(&c)
        c.ready = cBool(ready)
        c.state = arena.string(state)
        c.n_models = models.count
        c.models = arena.array(models.map { Optional(arena.string($0)) })
        c.n_model_versions = modelVersions.count
        c.model_versions = arena.messages(Fuserank__V1__ModelVersion.self, count: modelVersions.count) {
            modelVersions[$0].fill($1, arena: arena)
        }
        c.n_catalogue_log = catalogueLog.count
        c.catalogue_log = arena.messages(Fuserank__V1__CatalogueLogPosition.self, count: catalogueLog.count) {
            catalogueLog[$0].fill($1, arena: arena)
        }
        return packed(&c, size: fuserank__v1__health_reply__get_packed_size, pack: fuserank__v1__health_reply__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__health_reply__unpack, free: fuserank__v1__health_reply__free_unpacked
        ) { p in
            let c = p.pointee
            return HealthReply(
                ready: c.ready != 0, state: swiftString(c.state),
                models: swiftArray(c.models, c.n_models).map { swiftString($0) },
                modelVersions: swiftMessages(c.model_versions, c.n_model_versions, ModelVersion.init(c:)),
                catalogueLog: swiftMessages(c.catalogue_log, c.n_catalogue_log, CatalogueLogPosition.init(c:)))
        }
    }
}
