import CFuseRankProto

/// One model and the version it serves, as ``HealthReply/modelVersions`` lists them.
public struct ModelVersion: WireMessage {
    public static let protoName = "fuserank.v1.ModelVersion"

    /// The model name.
    public var model: String
    /// The served version; empty while no version has loaded yet.
    public var version: String

    public init(model: String = "", version: String = "") {
        self.model = model
        self.version = version
    }

    init(c: Fuserank__V1__ModelVersion) {
        self.init(model: swiftString(c.model), version: swiftString(c.version))
    }

    /// Fills a C model version whose strings live in `arena`.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__ModelVersion>, arena: CArena) {
        fuserank__v1__model_version__init(c)
        c.pointee.model = arena.string(model)
        c.pointee.version = arena.string(version)
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ModelVersion()
        fill(&c, arena: arena)
        return packed(&c, size: fuserank__v1__model_version__get_packed_size, pack: fuserank__v1__model_version__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__model_version__unpack, free: fuserank__v1__model_version__free_unpacked
        ) { ModelVersion(c: $0.pointee) }
    }
}
