/// Where a Redis server is, how to log in, and which key prefix to use:
/// `redis://[[USER]:PASSWORD@]HOST[:PORT][/prefix]` (port 6379 and prefix `fuserank` when left
/// out; with a password, the connection sends `AUTH` first, as Redis ACLs and `requirepass` ask).
public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Prepended to every key (`<prefix>:...`), so several deployments can share one Redis.
    public var prefix: String
    /// The ACL user (nil: the default user).
    public var user: String?
    /// The password (nil: no AUTH).
    public var password: String?

    public init(host: String, port: Int = 6379, prefix: String = "fuserank", user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.prefix = prefix
        self.user = user
        self.password = password
    }

    /// Parses `redis://[[USER]:PASSWORD@]HOST[:PORT][/prefix]`; an IPv6 host goes in brackets
    /// (`redis://[::1]:6379`). The password may not contain `@` or `/`.
    /// - Throws: ``RedisError/badAddress(_:)`` naming what is wrong (never echoing a password).
    public init(parsing text: String) throws(RedisError) {
        let scheme = "redis://"
        guard text.hasPrefix(scheme) else { throw .badAddress("a catalogue log address starts with redis://") }
        var rest = Substring(text.dropFirst(scheme.count))
        var user: String?
        var password: String?
        if let at = rest.firstIndex(of: "@"), !rest[..<at].contains("/") {
            let credentials = rest[..<at]
            guard let colon = credentials.firstIndex(of: ":") else {
                throw .badAddress("redis://...@: give USER:PASSWORD@ or :PASSWORD@ before the host")
            }
            user = colon == credentials.startIndex ? nil : String(credentials[..<colon])
            password = String(credentials[credentials.index(after: colon)...])
            rest = rest[rest.index(after: at)...]
        }
        var prefix = "fuserank"
        if let slash = rest.firstIndex(of: "/") {
            let p = rest[rest.index(after: slash)...]
            if !p.isEmpty { prefix = String(p) }
            rest = rest[..<slash]
        }
        guard !prefix.contains(where: \.isWhitespace) else { throw .badAddress("the key prefix \"\(prefix)\" has whitespace") }
        var host = rest
        var port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .badAddress("redis://\(rest): an unclosed [ in the host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { throw .badAddress("redis://\(rest): a bad port") }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]) else { throw .badAddress("redis://\(rest): a bad port") }
            port = p
        }
        guard !host.isEmpty else { throw .badAddress("redis://\(rest): no host") }
        guard (1...65535).contains(port) else { throw .badAddress("redis://\(rest): port \(port) is out of range") }
        self.init(host: String(host), port: port, prefix: prefix, user: user, password: password)
    }

    /// The address for logs and errors: the password is never written.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let login = password == nil ? "" : "\(user ?? ""):***@"
        return "redis://\(login)\(h):\(port)/\(prefix)"
    }
}
