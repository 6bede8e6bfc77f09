import Foundation
import Testing

@testable import FuseRankTransport

/// Collects ZAP failures; `wait` blocks until one arrives (the observable "the server refused").
final class FailureProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [AuthFailure] = []
    private let arrived = DispatchSemaphore(value: 0)

    func record(_ failure: AuthFailure) {
        lock.withLock { failures.append(failure) }
        arrived.signal()
    }

    /// The first failure, or nil if none comes within 10 s.
    func next() -> AuthFailure? {
        guard arrived.wait(timeout: .now() + 10) == .success else { return nil }
        return lock.withLock { failures.first }
    }

    var count: Int { lock.withLock { failures.count } }
}

/// CURVE encryption with a ZAP allowlist, over real loopback TCP.
@Suite(.enabled(if: CurveKeyPair.isSupported, "libzmq built without CURVE"))
struct CurveTests {
    let context: ZMQContext
    let server: CurveKeyPair
    let allowed: CurveKeyPair

    init() throws {
        context = try ZMQContext()
        server = try CurveKeyPair.generate()
        allowed = try CurveKeyPair.generate()
    }

    /// A CURVE ROUTER guarded by a ZAP handler admitting `allowed`.
    func curveRouter(_ probe: FailureProbe) throws -> (ZMQSocket, String, ZAPHandler) {
        let router = try ZMQSocket(context: context, type: .router)
        let zap = try ZAPHandler(context: context, allowed: [allowed.publicKey], watching: router) { probe.record($0) }
        try router.makeCurveServer(keys: server, zap: zap)
        try router.bind("tcp://127.0.0.1:*")
        return (router, try router.lastEndpoint(), zap)
    }

    func dealer(_ endpoint: String, keys: CurveKeyPair?) throws -> ZMQSocket {
        let dealer = try ZMQSocket(context: context, type: .dealer)
        if let keys { try dealer.makeCurveClient(serverKey: server.publicKey, keys: keys) }
        try dealer.setReceiveTimeout(5000)
        try dealer.connect(endpoint)
        return dealer
    }

    @Test func derivedPublicKeyMatchesTheGeneratedOne() throws {
        let derived = try CurveKeyPair(secretKey: server.secretKey)
        #expect(derived == server)
        #expect(server.publicKey.utf8.count == 40 && server.secretKey.utf8.count == 40)
        #expect(throws: CurveKeyError.self) { try CurveKeyPair(secretKey: "short") }
        #expect(throws: CurveKeyError.self) { try CurveKeyPair(secretKey: String(repeating: "~", count: 40)) }
    }

    @Test func allowedClientIsServed() throws {
        let probe = FailureProbe()
        let (router, endpoint, zap) = try curveRouter(probe)
        defer { router.close(); zap.stop() }
        try router.setReceiveTimeout(5000)
        let client = try dealer(endpoint, keys: allowed)
        try client.send([[], Array("ping".utf8)])
        let got = try #require(try router.receiveMultipart())
        #expect(got.last == Array("ping".utf8))
        try router.send([got[0], [], Array("pong".utf8)])
        #expect(try client.receiveMultipart()?.last == Array("pong".utf8))
        #expect(probe.count == 0)
    }

    @Test func unknownKeyIsRefusedAndReported() throws {
        let probe = FailureProbe()
        let (router, endpoint, zap) = try curveRouter(probe)
        defer { router.close(); zap.stop() }
        let stranger = try CurveKeyPair.generate()
        let client = try dealer(endpoint, keys: stranger)
        try client.send([[], Array("ping".utf8)])
        let failure = try #require(probe.next())
        #expect(failure.reason == .unknownKey(stranger.publicKey))
        #expect(failure.peer == "127.0.0.1")
        // The handshake was refused, so the connection carries nothing to the server.
        #expect(try router.receiveMultipart(dontWait: true) == nil)
    }

    @Test func plaintextClientIsRefusedAndReported() throws {
        let probe = FailureProbe()
        let (router, endpoint, zap) = try curveRouter(probe)
        defer { router.close(); zap.stop() }
        let client = try dealer(endpoint, keys: nil)
        try client.send([[], Array("ping".utf8)])
        let failure = try #require(probe.next())
        #expect(failure.reason == .handshake)
        #expect(try router.receiveMultipart(dontWait: true) == nil)
    }

    @Test func curveServerNeedsARunningHandlerInItsContext() throws {
        // Fail closed: a stopped handler (or one of another context) cannot guard a socket.
        let router = try ZMQSocket(context: context, type: .router)
        let zap = try ZAPHandler(context: context, allowed: [])
        zap.stop()
        #expect(throws: ZMQError.self) { try router.makeCurveServer(keys: server, zap: zap) }
        let other = try ZMQContext()
        let foreign = try ZAPHandler(context: other, allowed: [])
        defer { foreign.stop() }
        #expect(throws: ZMQError.self) { try router.makeCurveServer(keys: server, zap: foreign) }
        // One handler per context: a second bind of the ZAP endpoint fails.
        let third = try ZMQContext()
        let first = try ZAPHandler(context: third, allowed: [])
        defer { first.stop() }
        #expect(throws: ZMQError.self) { _ = try ZAPHandler(context: third, allowed: []) }
    }

    @Test func withoutAHandlerLibzmqAdmitsAnyKey() throws {
        // The hazard makeCurveServer(keys:zap:) exists for: CURVE options set by hand, no ZAP
        // handler bound, and a client with a random key is served.
        let router = try ZMQSocket(context: context, type: .router)
        try router.setOption(55, bytes: Array("fuserank".utf8))  // ZMQ_ZAP_DOMAIN
        try router.setOption(47, Int32(1))  // ZMQ_CURVE_SERVER
        try router.setOption(49, bytes: Array(server.secretKey.utf8))  // ZMQ_CURVE_SECRETKEY
        try router.setReceiveTimeout(5000)
        try router.bind("tcp://127.0.0.1:*")
        let client = try dealer(try router.lastEndpoint(), keys: try CurveKeyPair.generate())
        try client.send([[], Array("ping".utf8)])
        #expect(try router.receiveMultipart()?.last == Array("ping".utf8))
    }
}

/// Key files: what `fuserank keygen` writes and the server reads.
@Suite struct CurveKeyFileTests {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(.enabled(if: CurveKeyPair.isSupported)) func keygenFilesRoundTrip() throws {
        let pair = try CurveKeyPair.generate()
        try CurveKey.write(pair, prefix: dir + "/server")
        #expect(try CurveKey.readSecretKey(dir + "/server.key") == pair)
        #expect(try CurveKey.readPublicKey(dir + "/server.pub") == pair.publicKey)
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/server.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Never overwrites a key.
        #expect(throws: CurveKeyError.self) { try CurveKey.write(pair, prefix: dir + "/server") }
    }

    @Test(.enabled(if: CurveKeyPair.isSupported)) func allowlistWithCommentsAndBlankLines() throws {
        let a = try CurveKeyPair.generate().publicKey
        let b = try CurveKeyPair.generate().publicKey
        let path = try write("allow", "# team A\n\(a)\n\n   \(b)  \n# end\n")
        #expect(try CurveKey.readAllowlist(path) == [a, b])
    }

    @Test(.enabled(if: CurveKeyPair.isSupported)) func aBadLineIsAClearError() throws {
        let a = try CurveKeyPair.generate().publicKey
        let path = try write("allow", "\(a)\n# ok\nnot-a-key\n")
        #expect(throws: CurveKeyError.badFile(path: path, line: 3, reason: "a CURVE key is 40 Z85 characters, this one has 9")) {
            try CurveKey.readAllowlist(path)
        }
        #expect(throws: CurveKeyError.self) { try CurveKey.readAllowlist(dir + "/missing") }
        let two = try write("two.key", "\(a)\n\(a)\n")
        #expect(throws: CurveKeyError.self) { try CurveKey.readSecretKey(two) }
    }
}
