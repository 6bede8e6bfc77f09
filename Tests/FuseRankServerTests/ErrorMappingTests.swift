import FuseRankTestSupport
import Foundation
import FuseRankServer
import FuseRankWire
import Testing

/// Every kind of bad input gets its status code and a message saying what is wrong, and the
/// server keeps serving.
@Suite struct ErrorMappingTests {
    @Test func undecodableHeaderIsInvalidArgumentWithRequestIDZero() throws {
        let server = try TestServer()
        let peer = try server.peer()
        try peer.send([[0xFF, 0xFF, 0xFF], HealthRequest().encode()])
        let reply = try peer.receive()
        #expect(reply.header.code == .invalidArgument)
        #expect(reply.header.requestID == 0)
        #expect(reply.header.message.contains("RequestHeader"))
        #expect(reply.body.isEmpty)
        try expectStillServing(peer)
    }

    @Test func undecodableBodyIsInvalidArgument() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let header = try peer.expectError(.invalidArgument, id: 11, body: [0x0A, 0x05, 0x01])
        #expect(header.message.contains("fuserank.v1.RankRequest"))
        try peer.expectError(.invalidArgument, method: Method.getModelInfo.path, id: 12, body: [0xFF])
        try peer.expectError(.invalidArgument, method: Method.health.path, id: 13, body: [0x0A, 0x09])
        try expectStillServing(peer)
    }

    @Test func wrongFrameCountIsInvalidArgument() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let header = RequestHeader(method: .health, requestID: 21).encode()
        // One frame: the id is still read from the header.
        try peer.send([header])
        var reply = try peer.receive()
        #expect(reply.header.code == .invalidArgument && reply.header.requestID == 21)
        #expect(reply.header.message.contains("got 1"))
        // Three frames.
        try peer.send([header, [], [0x01]])
        reply = try peer.receive()
        #expect(reply.header.code == .invalidArgument && reply.header.requestID == 21)
        #expect(reply.header.message.contains("got 3"))
        // Only the delimiter.
        try peer.socket.send([[]])
        reply = try peer.receive()
        #expect(reply.header.code == .invalidArgument && reply.header.requestID == 0)
        try expectStillServing(peer)
    }

    @Test func unknownMethodIsUnimplemented() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let header = try peer.expectError(.unimplemented, method: "/fuserank.v1.Ranker/Train", id: 31, body: [])
        #expect(header.message.contains("/fuserank.v1.Ranker/Train"))
        try peer.expectError(.unimplemented, method: "", id: 32, body: [])
        try expectStillServing(peer)
    }

    @Test func unknownModelIsNotFound() throws {
        let server = try TestServer()
        let peer = try server.peer()
        let header = try peer.expectError(.notFound, id: 41, body: RankRequest(model: "nope").encode())
        #expect(header.message.contains("\"nope\"") && header.message.contains("\"tiny\""))
        try peer.expectError(.notFound, method: Method.getModelInfo.path, id: 42, body: ModelInfoRequest(model: "nope").encode())
        try expectStillServing(peer)
    }

    /// The golden invalid cases (bad event type, token id >= vocab, image of the wrong length,
    /// explain_events above 32)
    /// and NaN/Inf image values: INVALID_ARGUMENT with the model's description.
    @Test func invalidModelInputIsInvalidArgument() throws {
        let golden = try GoldenCases.load(Fixtures.tiny)
        let server = try TestServer()
        let peer = try server.peer()
        var id: UInt64 = 50
        for invalid in golden.invalid {
            id += 1
            let header = try peer.expectError(.invalidArgument, id: id, body: invalid.query.request().encode())
            #expect(header.message.contains("events[") || header.message.contains("text_tokens[") || header.message.contains("images[")
                        || header.message.hasPrefix("explain_events is "), "\(invalid.name): \(header.message)")
        }
        let nan = try peer.expectError(.invalidArgument, id: 70, body: RankRequest(images: [Embedding(values: [0, 0, .nan, 0, 0, 0])]).encode())
        #expect(nan.message == "images[0][2] is not a finite number")
        try peer.expectError(.invalidArgument, id: 71, body: RankRequest(images: [Embedding(values: [0, 0, 0, 0, 0, .infinity])]).encode())
        let token = try peer.expectError(.invalidArgument, id: 72, body: RankRequest(textTokens: [1, 14]).encode())
        #expect(token.message == "text_tokens[1] is 14, the vocabulary has ids 0..<14")
        let huge = try peer.expectError(.invalidArgument, id: 73, body: RankRequest(textTokens: [.max]).encode())
        #expect(huge.message.contains("4294967295"))
        let type = try peer.expectError(.invalidArgument, id: 74, body: RankRequest(events: [Event(itemID: 1, type: EventType(rawValue: 9))]).encode())
        #expect(type.message == "events[0] has type 9, the model takes 0..<7")
        let image = try peer.expectError(.invalidArgument, id: 75, body: RankRequest(images: [Embedding(values: [1, 2])]).encode())
        #expect(image.message == "images[0] has 2 values, the model takes 6")
        try peer.expectError(.invalidArgument, id: 76, body: RankRequest(images: [Embedding(values: [1, 2, 3, 4, 5, 6])], model: "tiny-noimage").encode())
        try expectStillServing(peer)
    }

    @Test func oversizedRequestIsResourceExhausted() throws {
        let server = try TestServer { $0.maxMessageBytes = 4096 }
        let peer = try server.peer()
        let small = RankRequest(textTokens: Array(repeating: 1, count: 1000), topK: 3)
        #expect(small.encode().count < 4096)
        #expect(try peer.rank(small).items.count == 3)
        let big = RankRequest(textTokens: Array(repeating: 1, count: 5000))
        #expect(big.encode().count > 4096)
        let header = try peer.expectError(.resourceExhausted, id: 81, body: big.encode())
        #expect(header.message.contains("4096"))
        // The connection keeps working after a limit reply.
        try expectStillServing(peer)
    }

    /// A frame above the 4x socket cap makes libzmq drop that connection (no reply is possible);
    /// the server keeps serving everyone else.
    @Test func frameAboveTheSocketCapDropsOnlyThatConnection() throws {
        let server = try TestServer { $0.maxMessageBytes = 4096 }
        let peer = try server.peer()
        try peer.send(Method.rank.path, id: 91, body: RankRequest(textTokens: Array(repeating: 1, count: 20_000)).encode())
        #expect(try !peer.hasMessage(timeoutMs: 300))
        try expectStillServing(try server.peer())
    }

    @Test func portInUseFailsToStartAndStops() throws {
        let server = try TestServer()
        var configuration = ServerConfiguration(bind: server.endpoint, modelPaths: [Fixtures.tiny])
        configuration.workers = 1
        let second = try RankServer(configuration: configuration, logger: quietLogger)
        #expect(throws: ServerError.self) { try second.start() }
        #expect(second.state == .stopped)
        second.waitUntilStopped()  // returns at once
    }

    @Test func moreEventsThanTheModelTakesUseTheNewest() throws {
        let golden = try GoldenCases.load(Fixtures.tiny)
        let server = try TestServer()
        let peer = try server.peer()
        let truncation = try #require(golden.cases.first { $0.name == "truncation" })
        #expect(truncation.query.events.count > 8, "the case has more events than max_events")
        let reply = try peer.rank(truncation.query.request())
        #expect(reply.items.map(\.itemID) == truncation.items.map(\.itemId))
    }

    /// Health answers OK and Rank still works after the bad input above.
    private func expectStillServing(_ peer: Peer, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let health = try peer.call(.health, id: 999, body: [])
        #expect(health.header.code == .ok && health.header.requestID == 999, sourceLocation: sourceLocation)
        #expect(try HealthReply(bytes: health.body).ready, sourceLocation: sourceLocation)
        #expect(try peer.rank(RankRequest(topK: 2), id: 1000).items.count == 2, sourceLocation: sourceLocation)
        #expect(try !peer.hasMessage(timeoutMs: 20), "no extra reply", sourceLocation: sourceLocation)
    }
}
