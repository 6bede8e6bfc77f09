import CHiredis
import Foundation

/// A Redis reply, decoded (RESP2, the protocol hiredis speaks by default).
public indirect enum RedisValue: Sendable, Equatable {
    /// A bulk string: bytes, binary safe.
    case string([UInt8])
    /// A status reply such as `OK`.
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    /// A nil bulk string or array (e.g. `XREAD ... BLOCK` that timed out).
    case null

    /// The bytes of a bulk string or status as UTF-8 text; nil for other replies.
    public var text: String? {
        switch self {
        case let .string(bytes): String(decoding: bytes, as: UTF8.self)
        case let .status(s): s
        default: nil
        }
    }
}

/// One blocking connection to a Redis server (hiredis's synchronous API), with a connect and a
/// command timeout. Not thread-safe: one thread uses it. After a ``RedisError/connection(_:)``
/// it is unusable (``isBroken``): make a new one.
///
/// ```swift
/// let redis = try RedisConnection(host: "127.0.0.1", port: 6379, timeoutMs: 1000)
/// let id = try redis.command(["XADD", "stream", "*", "field", "value"]).text
/// ```
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    /// Where it is connected (for messages).
    public let endpoint: String

    /// Connects, with `timeoutMs` for the connection and for every command after it.
    /// - Parameter timeoutMs: the longest a connect or a reply may take, in ms; a blocking command
    ///   (`XREAD ... BLOCK n`) needs a timeout above its own `n`.
    /// - Throws: ``RedisError/connection(_:)``.
    public init(host: String, port: Int, timeoutMs: Int) throws(RedisError) {
        endpoint = "\(host):\(port)"
        let tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: suseconds_t(timeoutMs % 1000 * 1000))
        guard let c = redisConnectWithTimeout(host, Int32(port), tv) else {
            throw .connection("\(host):\(port): cannot allocate a connection")
        }
        if c.pointee.err != 0 {
            let why = String(cString: fuserank_redis_errstr(c))
            redisFree(c)
            throw .connection("\(host):\(port): \(why)")
        }
        guard redisSetTimeout(c, tv) == REDIS_OK else {
            redisFree(c)
            throw .connection("\(host):\(port): cannot set the command timeout")
        }
        _ = redisEnableKeepAlive(c)
        context = c
    }

    /// Connects to `address`'s host and port, and logs in (`AUTH`) when it has a password.
    /// - Throws: ``RedisError/connection(_:)``; a refused login is a connection error too.
    public convenience init(_ address: RedisAddress, timeoutMs: Int) throws(RedisError) {
        try self.init(host: address.host, port: address.port, timeoutMs: timeoutMs)
        if let password = address.password {
            do {
                try command(["AUTH"] + (address.user.map { [$0] } ?? []) + [password])
            } catch {
                throw .connection("\(endpoint): AUTH failed: \(error)")
            }
        }
    }

    deinit { redisFree(context) }

    /// True once an I/O error or timeout has made the connection unusable.
    public var isBroken: Bool { context.pointee.err != 0 }

    /// Sends one command (arguments binary safe) and waits for its reply.
    /// - Throws: ``RedisError/reply(_:)`` for an error reply, ``RedisError/connection(_:)`` when
    ///   the connection fails or times out.
    @discardableResult
    public func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisValue {
        if isBroken { throw .connection("\(endpoint): \(String(cString: fuserank_redis_errstr(context)))") }
        let raw: UnsafeMutableRawPointer? = Self.withArgv(arguments) { argv, lengths in
            redisCommandArgv(context, Int32(arguments.count), argv, lengths)
        }
        guard let raw else {
            throw .connection("\(endpoint): \(String(cString: fuserank_redis_errstr(context)))")
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        if reply.pointee.type == REDIS_REPLY_ERROR {
            throw .reply(String(cString: reply.pointee.str))
        }
        return Self.decode(reply)
    }

    /// ``command(_:)-([[UInt8]])`` with text arguments.
    @discardableResult
    public func command(_ arguments: [String]) throws(RedisError) -> RedisValue {
        try command(arguments.map { Array($0.utf8) })
    }

    private static func withArgv<R>(_ arguments: [[UInt8]],
                                    _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        // One buffer holding every argument back to back; argv points into it.
        let total = arguments.reduce(0) { $0 + $1.count }
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, total))
        defer { buffer.deallocate() }
        var argv: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        var offset = 0
        for argument in arguments {
            argument.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress, bytes.count > 0 {
                    (buffer + offset).withMemoryRebound(to: UInt8.self, capacity: bytes.count) {
                        $0.update(from: base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
                    }
                }
            }
            argv.append(UnsafePointer(buffer + offset))
            lengths.append(argument.count)
            offset += argument.count
        }
        return argv.withUnsafeMutableBufferPointer { a in lengths.withUnsafeBufferPointer { l in body(a.baseAddress!, l.baseAddress!) } }
    }

    private static func decode(_ r: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let p = r.pointee
        switch p.type {
        case REDIS_REPLY_STRING:
            guard let s = p.str else { return .string([]) }
            return .string(Array(UnsafeRawBufferPointer(start: s, count: p.len).bindMemory(to: UInt8.self)))
        case REDIS_REPLY_STATUS:
            return .status(p.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(p.integer)
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            guard let elements = p.element else { return .array([]) }
            return .array((0..<p.elements).map { decode(elements[$0]!) })
        default:
            return .null
        }
    }
}
