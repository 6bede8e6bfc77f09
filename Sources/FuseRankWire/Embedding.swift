import CFuseRankProto

/// One image embedding of a ``RankRequest``; the model takes exactly its `image_dim` values.
public struct Embedding: WireMessage {
    public static let protoName = "fuserank.v1.Embedding"

    /// The embedding's values.
    public var values: [Float]

    public init(values: [Float] = []) { self.values = values }

    init(c: Fuserank__V1__Embedding) {
        self.init(values: swiftArray(c.values, c.n_values))
    }

    /// Fills an initialised C embedding; the values live in `arena`.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__Embedding>, arena: CArena) {
        fuserank__v1__embedding__init(c)
        c.pointee.n_values = values.count
        c.pointee.values = arena.array(values)
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__Embedding()
        fill(&c, arena: arena)
        return packed(&c, size: fuserank__v1__embedding__get_packed_size, pack: fuserank__v1__embedding__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName, unpack: fuserank__v1__embedding__unpack, free: fuserank__v1__embedding__free_unpacked
        ) { Embedding(c: $0.pointee) }
    }
}
