/// Where a Redis server is and which key prefix to use: `redis://HOST:PORT[/prefix]`
/// (port 6379 when left out; prefix `fuserank` when left out).
public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Prepended to every key (`<prefix>:...`), so several deployments can share one Redis.
    public var prefix: String

    public init(host: String, port: Int = 6379, prefix: String = "fuserank") {
        self.host = host
        self.port = port
        self.prefix = prefix
    }

    /// Parses `redis://HOST[:PORT][/prefix]`; an IPv6 host goes in brackets (`redis://[::1]:6379`).
    /// - Throws: ``RedisError/badAddress(_:)`` naming what is wrong.
    public init(parsing text: String) throws(RedisError) {
        let scheme = "redis://"
        guard text.hasPrefix(scheme) else { throw .badAddress("\(text): a catalogue log address starts with redis://") }
        var rest = Substring(text.dropFirst(scheme.count))
        var prefix = "fuserank"
        if let slash = rest.firstIndex(of: "/") {
            let p = rest[rest.index(after: slash)...]
            if !p.isEmpty { prefix = String(p) }
            rest = rest[..<slash]
        }
        guard !prefix.contains(where: \.isWhitespace) else { throw .badAddress("\(text): the key prefix has whitespace") }
        var host = rest
        var port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .badAddress("\(text): an unclosed [ in the host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { throw .badAddress("\(text): a bad port") }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]) else { throw .badAddress("\(text): a bad port") }
            port = p
        }
        guard !host.isEmpty else { throw .badAddress("\(text): no host") }
        guard (1...65535).contains(port) else { throw .badAddress("\(text): port \(port) is out of range") }
        self.init(host: String(host), port: port, prefix: prefix)
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "redis://\(h):\(port)/\(prefix)"
    }
}
