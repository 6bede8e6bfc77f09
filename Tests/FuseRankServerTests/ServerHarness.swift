import Foundation
import FuseRankServer
import FuseRankTransport
import FuseRankWire
import Logging
import Testing

/// Paths of the test fixtures.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    /// The golden bundle with images (`image_dim` 6, 40 items).
    static let tiny = root.appendingPathComponent("golden/tiny").path
    /// The golden bundle without images.
    static let tinyNoImage = root.appendingPathComponent("golden/tiny-noimage").path
}

/// A logger that drops everything (the tests assert on replies, not logs).
let quietLogger = Logger(label: "fuserank.test") { _ in SwiftLogNoOpLogHandler() }

/// An in-process server on a free loopback port; stops it when the test is done with it.
final class TestServer {
    let server: RankServer
    let endpoint: String

    /// Starts a server on `tcp://127.0.0.1:0`.
    /// - Parameters:
    ///   - models: bundle folders, default first.
    ///   - configure: changes to the default configuration.
    init(models: [String] = [Fixtures.tiny, Fixtures.tinyNoImage], configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        var configuration = ServerConfiguration(bind: "tcp://127.0.0.1:0", modelPaths: models)
        configuration.workers = 2
        configure(&configuration)
        server = try RankServer(configuration: configuration, logger: quietLogger)
        endpoint = try server.start()!  // bound: a TCP endpoint is configured above
    }

    /// A new DEALER peer connected to the server.
    func peer() throws -> Peer { try Peer(endpoint: endpoint) }

    /// Stops the server and waits for it.
    func stop() {
        server.stop()
        server.waitUntilStopped()
    }

    deinit { stop() }
}

/// Why a peer call failed.
struct PeerError: Error, CustomStringConvertible {
    let description: String
}

/// A DEALER socket talking the wire protocol by hand (empty delimiter, header, message).
final class Peer {
    private let context: ZMQContext
    let socket: ZMQSocket

    init(endpoint: String) throws {
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, type: .dealer)
        try socket.setLinger(0)
        try socket.connect(endpoint)
    }

    deinit { socket.close() }

    /// Sends `[""] + frames`.
    func send(_ frames: [[UInt8]]) throws {
        try socket.send([[]] + frames)
    }

    /// Sends one call.
    func send(_ method: String, id: UInt64, body: [UInt8], timeoutMs: UInt32 = 0) throws {
        try send([RequestHeader(method: method, requestID: id, timeoutMs: timeoutMs).encode(), body])
    }

    /// Receives one reply: the frames after the delimiter, decoded header first.
    func receive(timeoutMs: Int = 10_000) throws -> (header: ReplyHeader, body: [UInt8], frameCount: Int) {
        guard try zmqPoll(socket, timeoutMs: timeoutMs).contains(.readable),
            let frames = try socket.receiveMultipart(dontWait: true)
        else { throw PeerError(description: "no reply within \(timeoutMs) ms") }
        guard frames.count == 3, frames[0].isEmpty else {
            throw PeerError(description: "reply has \(frames.count) frames, expected [\"\"][header][reply]")
        }
        return (try ReplyHeader(bytes: frames[1]), frames[2], frames.count)
    }

    /// Whether a message arrives within `timeoutMs` (for "no second reply" checks).
    func hasMessage(timeoutMs: Int) throws -> Bool {
        try zmqPoll(socket, timeoutMs: timeoutMs).contains(.readable)
    }

    /// One call and its reply.
    func call(_ method: Method, id: UInt64, body: [UInt8], timeoutMs: UInt32 = 0) throws -> (header: ReplyHeader, body: [UInt8]) {
        try send(method.path, id: id, body: body, timeoutMs: timeoutMs)
        let reply = try receive()
        return (reply.header, reply.body)
    }

    /// A Rank call that must succeed.
    func rank(_ request: RankRequest, id: UInt64 = 1) throws -> RankReply {
        let reply = try call(.rank, id: id, body: request.encode())
        guard reply.header.code == .ok else {
            throw PeerError(description: "Rank failed: \(reply.header.code.name): \(reply.header.message)")
        }
        #expect(reply.header.requestID == id)
        return try RankReply(bytes: reply.body)
    }

    /// A call expected to fail with `code`; returns the reply header.
    @discardableResult
    func expectError(
        _ code: StatusCode, method: String = Method.rank.path, id: UInt64, body: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ReplyHeader {
        try send(method, id: id, body: body)
        let reply = try receive()
        #expect(reply.header.code == code, "\(reply.header.message)", sourceLocation: sourceLocation)
        #expect(reply.header.requestID == id, sourceLocation: sourceLocation)
        #expect(reply.body.isEmpty, "an error reply carries an empty reply frame", sourceLocation: sourceLocation)
        #expect(!reply.header.message.isEmpty, "an error reply says what is wrong", sourceLocation: sourceLocation)
        return reply.header
    }
}
