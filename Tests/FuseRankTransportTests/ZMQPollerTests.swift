import Foundation
import Testing

@testable import FuseRankTransport

@Suite struct ZMQPollerTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    @Test func pollReportsOnlyTheReadySocket() throws {
        let a = try ZMQSocket(context: context, type: .pull)
        let b = try ZMQSocket(context: context, type: .pull)
        try a.bind("inproc://poll-a")
        try b.bind("inproc://poll-b")
        let pushB = try ZMQSocket(context: context, type: .push)
        try pushB.connect("inproc://poll-b")

        var poller = ZMQPoller()
        #expect(poller.add(a) == 0)
        #expect(poller.add(b) == 1)
        #expect(try poller.poll(timeoutMs: 0) == [[], []])

        try pushB.send([[42]])
        let ready = try poller.poll(timeoutMs: 5000)
        #expect(ready == [[], .readable])
        #expect(try b.receiveMultipart(dontWait: true) == [[42]])
        #expect(try poller.poll(timeoutMs: 0) == [[], []])
    }

    @Test func pollTimesOutWithNothingReady() throws {
        let a = try ZMQSocket(context: context, type: .router)
        try a.bind("tcp://127.0.0.1:*")
        let start = Date()
        #expect(try zmqPoll(a, timeoutMs: 60) == [])
        #expect(Date().timeIntervalSince(start) >= 0.05)
    }

    @Test func writableDealerIsReportedWritable() throws {
        let router = try ZMQSocket(context: context, type: .router)
        try router.bind("inproc://poll-w")
        let dealer = try ZMQSocket(context: context, type: .dealer)
        try dealer.connect("inproc://poll-w")
        #expect(try zmqPoll(dealer, events: [.readable, .writable], timeoutMs: 1000) == .writable)
    }

    @Test func inprocPairWakesAPollingThread() async throws {
        let wakeReceiver = try ZMQSocket(context: context, type: .pair)
        try wakeReceiver.bind("inproc://wake")
        let wakeSender = try ZMQSocket(context: context, type: .pair)
        try wakeSender.connect("inproc://wake")

        let (stream, continuation) = AsyncStream<[ZMQPollEvents]>.makeStream()
        let thread = Thread {
            var poller = ZMQPoller()
            poller.add(wakeReceiver)
            let ready = (try? poller.poll(timeoutMs: 10_000)) ?? []
            _ = try? wakeReceiver.receiveMultipart(dontWait: true)
            continuation.yield(ready)
            continuation.finish()
        }
        thread.start()
        try await Task.sleep(for: .milliseconds(20))
        try wakeSender.send([[1]])
        var result: [ZMQPollEvents]?
        for await r in stream { result = r }
        #expect(result == [.readable])
    }

    @Test func contextShutdownInterruptsABlockedReceive() async throws {
        let ctx = try ZMQContext()
        let socket = try ZMQSocket(context: ctx, type: .pull)
        try socket.bind("inproc://shutdown")
        let (stream, continuation) = AsyncStream<ZMQError?>.makeStream()
        let thread = Thread {
            do {
                _ = try socket.receiveMultipart()
                continuation.yield(nil)
            } catch {
                continuation.yield(error as? ZMQError)
            }
            socket.close()
            continuation.finish()
        }
        thread.start()
        try await Task.sleep(for: .milliseconds(20))
        ctx.shutdown()
        var seen: ZMQError?
        for await e in stream { seen = e }
        #expect(seen?.isTerminated == true)
        try ctx.terminate()
        try ctx.terminate()  // idempotent
    }
}

@Suite struct WakePipeTests {
    @Test func signalFromAnotherThreadWakesThePoller() async throws {
        let wake = try WakePipe()
        var poller = ZMQPoller()
        poller.add(fileDescriptor: wake.fileDescriptor)
        #expect(try poller.poll(timeoutMs: 0) == [[]])

        let thread = Thread { wake.signal() }
        thread.start()
        #expect(try poller.poll(timeoutMs: 5000) == [.readable])
        wake.drain()
        #expect(try poller.poll(timeoutMs: 0) == [[]])
    }

    @Test func manySignalsNeverBlockAndOneDrainClearsThem() throws {
        let wake = try WakePipe()
        for _ in 0..<200_000 { wake.signal() }  // more than a pipe buffer holds
        var poller = ZMQPoller()
        poller.add(fileDescriptor: wake.fileDescriptor)
        #expect(try poller.poll(timeoutMs: 0) == [.readable])
        wake.drain()
        #expect(try poller.poll(timeoutMs: 0) == [[]])
    }
}
