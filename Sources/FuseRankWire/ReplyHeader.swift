import CFuseRankProto

/// The first frame of every reply: which request it answers and how the call ended.
public struct ReplyHeader: WireMessage {
    public static let protoName = "fuserank.v1.ReplyHeader"

    /// The ``RequestHeader/requestID`` this reply answers (0 when the request header was undecodable).
    public var requestID: UInt64
    /// The outcome; the reply frame is empty unless this is ``StatusCode/ok``.
    public var code: StatusCode
    /// Human-readable; says what is wrong when the code is not OK.
    public var message: String
    /// Free key/value pairs; encoded in key order.
    public var trailers: [String: String]

    public init(requestID: UInt64 = 0, code: StatusCode = .ok, message: String = "", trailers: [String: String] = [:]) {
        self.requestID = requestID
        self.code = code
        self.message = message
        self.trailers = trailers
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ReplyHeader()
        fuserank__v1__reply_header__init(&c)
        c.request_id = requestID
        c.code = Fuserank__V1__Code(rawValue: .init(bitPattern: code.rawValue))
        c.message = arena.string(message)
        let keys = trailers.keys.sorted()
        c.n_trailers = keys.count
        c.trailers = arena.messages(Fuserank__V1__ReplyHeader__TrailersEntry.self, count: keys.count) { index, entry in
            fuserank__v1__reply_header__trailers_entry__init(entry)
            entry.pointee.key = arena.string(keys[index])
            entry.pointee.value = arena.string(trailers[keys[index]]!)
        }
        return packed(&c, size: fuserank__v1__reply_header__get_packed_size, pack: fuserank__v1__reply_header__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__reply_header__unpack, free: fuserank__v1__reply_header__free_unpacked
        ) { c in
            var trailers: [String: String] = [:]
            for entry in swiftMessages(c.pointee.trailers, c.pointee.n_trailers, { $0 }) {
                trailers[swiftString(entry.key)] = swiftString(entry.value)
            }
            return ReplyHeader(
                requestID: c.pointee.request_id,
                code: StatusCode(wireValue: Int32(bitPattern: UInt32(truncatingIfNeeded: c.pointee.code.rawValue))),
                message: swiftString(c.pointee.message), trailers: trailers)
        }
    }
}
