import CFuseRankProto

/// One model's load state, as ``ReloadModelsReply`` lists it.
public struct ModelLoadStatus: WireMessage {
    public static let protoName = "fuserank.v1.ModelLoadStatus"

    /// The model name.
    public var model: String
    /// The version served now; empty when none is.
    public var version: String
    /// The newest version that failed to load; empty when none failed.
    public var failedVersion: String
    /// Why ``failedVersion`` failed.
    public var error: String

    public init(model: String = "", version: String = "", failedVersion: String = "", error: String = "") {
        self.model = model
        self.version = version
        self.failedVersion = failedVersion
        self.error = error
    }

    init(c: Fuserank__V1__ModelLoadStatus) {
        self.init(
            model: swiftString(c.model), version: swiftString(c.version),
            failedVersion: swiftString(c.failed_version), error: swiftString(c.error))
    }

    /// Fills a C status whose strings live in `arena`.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__ModelLoadStatus>, arena: CArena) {
        fuserank__v1__model_load_status__init(c)
        c.pointee.model = arena.string(model)
        c.pointee.version = arena.string(version)
        c.pointee.failed_version = arena.string(failedVersion)
        c.pointee.error = arena.string(error)
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ModelLoadStatus()
        fill(&c, arena: arena)
        return packed(&c, size: fuserank__v1__model_load_status__get_packed_size, pack: fuserank__v1__model_load_status__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__model_load_status__unpack, free: fuserank__v1__model_load_status__free_unpacked
        ) { ModelLoadStatus(c: $0.pointee) }
    }
}
