import FuseRankRedis
import FuseRankTestSupport
import Testing

@Suite("Redis addresses")
struct RedisAddressTests {
    @Test func parsesHostPortAndPrefix() throws {
        #expect(try RedisAddress(parsing: "redis://10.0.0.5:6380/shop-a") == RedisAddress(host: "10.0.0.5", port: 6380, prefix: "shop-a"))
        #expect(try RedisAddress(parsing: "redis://cache") == RedisAddress(host: "cache", port: 6379, prefix: "fuserank"))
        #expect(try RedisAddress(parsing: "redis://[::1]:7000/") == RedisAddress(host: "::1", port: 7000, prefix: "fuserank"))
        #expect(RedisAddress(host: "::1", port: 7000, prefix: "p").description == "redis://[::1]:7000/p")
        let login = try RedisAddress(parsing: "redis://ops:s3cret:x@10.0.0.5/shop")
        #expect(login == RedisAddress(host: "10.0.0.5", prefix: "shop", user: "ops", password: "s3cret:x"))
        #expect(login.description == "redis://ops:***@10.0.0.5:6379/shop")
        #expect(try RedisAddress(parsing: "redis://:pw@h").user == nil)
    }

    @Test(arguments: ["http://host:6379", "redis://", "redis://host:port", "redis://host:70000", "redis://[::1:6379", "redis://h/a b", "redis://nocolon@h"])
    func refusesBadAddresses(_ text: String) {
        #expect(throws: RedisError.self) { try RedisAddress(parsing: text) }
    }
}

@Suite("Redis connection against a real redis-server", .serialized)
struct RedisConnectionTests {
    @Test func binarySafeRoundTripAndErrors() throws {
        let server = try RedisProcess()
        let redis = try server.connect()
        let bytes: [UInt8] = [0, 1, 0xFF, 0x0D, 0x0A, 0]
        #expect(try redis.command([Array("SET".utf8), Array("k".utf8), bytes]) == .status("OK"))
        #expect(try redis.command(["GET", "k"]) == .string(bytes))
        #expect(try redis.command(["GET", "missing"]) == .null)
        #expect(try redis.command(["INCRBY", "n", "5"]) == .integer(5))
        // An error reply throws, and the connection stays usable.
        #expect(throws: RedisError.self) { try redis.command(["LPUSH", "k", "x"]) }
        #expect(!redis.isBroken)
        #expect(try redis.command(["PING"]).text == "PONG")
    }

    @Test func streamEntriesComeBackInOrder() throws {
        let server = try RedisProcess()
        let redis = try server.connect()
        var ids: [String] = []
        for i in 0..<3 {
            ids.append(try #require(try redis.command(["XADD", "s", "*", "n", "\(i)"]).text))
        }
        guard case let .array(entries) = try redis.command(["XRANGE", "s", "(" + ids[0], "+"]) else {
            Issue.record("XRANGE did not return an array")
            return
        }
        #expect(entries == [ids[1], ids[2]].enumerated().map { .array([.string(Array($1.utf8)), .array([.string(Array("n".utf8)), .string(Array("\($0 + 1)".utf8))])]) })
    }

    @Test func aPasswordLogsIn() throws {
        let server = try RedisProcess()
        try server.connect().command(["CONFIG", "SET", "requirepass", "s3cret"])
        let address = try RedisAddress(parsing: "redis://:s3cret@127.0.0.1:\(server.port)/x")
        #expect(try RedisConnection(address, timeoutMs: 2000).command(["PING"]).text == "PONG")
        var wrong = address
        wrong.password = "nope"
        #expect(throws: RedisError.self) { try RedisConnection(wrong, timeoutMs: 2000) }
        let anonymous = try server.connect()
        #expect(throws: RedisError.self) { try anonymous.command(["XLEN", "s"]) }  // NOAUTH
    }

    @Test func aDeadServerIsAConnectionError() throws {
        let server = try RedisProcess()
        let redis = try server.connect()
        server.kill()
        #expect(throws: RedisError.self) { try redis.command(["PING"]) }
        #expect(redis.isBroken)
        #expect(throws: RedisError.self) { try RedisConnection(host: "127.0.0.1", port: server.port, timeoutMs: 200) }
    }
}
