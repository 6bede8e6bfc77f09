import Foundation
import FuseRankTestSupport
import Testing

@testable import FuseRankTransport

@Suite struct ZMQPollerTests {
    let context: ZMQContext

    init() throws { context = try ZMQContext() }

    @Test func timeoutUntilAnInstantIsRoundedUpAndCapped() {
        #expect(ZMQPoller.timeoutMs(until: .now - .seconds(1), atMost: 1000) == 0)
        #expect(ZMQPoller.timeoutMs(until: .now + .seconds(5), atMost: 1000) == 1000)
        let ms = ZMQPoller.timeoutMs(until: .now + .milliseconds(250), atMost: 1000)
        #expect(ms > 200 && ms <= 250)
    }

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

    /// An item set to wait for nothing is not reported, however ready its socket; set back, it is.
    @Test func anItemSetToNoEventsIsSkipped() throws {
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.bind("inproc://poll-skip")
        let push = try ZMQSocket(context: context, type: .push)
        try push.connect("inproc://poll-skip")
        var poller = ZMQPoller()
        let item = poller.add(pull)
        try push.send([[7]])
        poller.setEvents([], at: item)
        #expect(try poller.poll(timeoutMs: 50) == [[]])
        poller.setEvents(.readable, at: item)
        #expect(try poller.poll(timeoutMs: 5000) == [.readable])
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

        // The thread says who it is, then blocks in poll; `returnedAt` is when poll came back.
        let (threadIDs, threadIDSink) = AsyncStream<Int32?>.makeStream()
        let returnedAt = LockedBox<ContinuousClock.Instant?>(nil)
        let (stream, continuation) = AsyncStream<([ZMQPollEvents], [[UInt8]]?)>.makeStream()
        let thread = Thread {
            threadIDSink.yield(KernelThread.currentID())
            threadIDSink.finish()
            var poller = ZMQPoller()
            poller.add(wakeReceiver)
            // 60 s, not 10: on a loaded 2-core machine (full `swift test` beside other builds) the
            // test task can wait >10 s for a cooperative thread, and must still find this one asleep.
            let ready = (try? poller.poll(timeoutMs: 60_000)) ?? []
            returnedAt.value = ContinuousClock.now
            let message = (try? wakeReceiver.receiveMultipart(dontWait: true)) ?? nil
            continuation.yield((ready, message))
            continuation.finish()
        }
        thread.start()
        let tid = try #require(await threadIDs.first { _ in true } ?? nil)
        // Send only once the kernel shows the thread asleep, i.e. blocked in poll with nothing to read.
        try #require(try await KernelThread.waitUntilSleeping(tid, timeout: .seconds(60)), "the polling thread never blocked")
        #expect(returnedAt.value == nil, "poll returned before anything was sent")
        let sentAt = ContinuousClock.now
        try wakeSender.send([[1]])
        var result: ([ZMQPollEvents], [[UInt8]]?)?
        for await r in stream { result = r }
        #expect(result?.0 == [.readable])
        #expect(result?.1 == [[1]])
        // The send woke it (not the 60 s poll timeout), and not before the send.
        let woke = try #require(returnedAt.value)
        #expect(woke >= sentAt)
        #expect(woke - sentAt < .seconds(5))
    }

    @Test func contextShutdownInterruptsABlockedReceive() async throws {
        let ctx = try ZMQContext()
        let socket = try ZMQSocket(context: ctx, type: .pull)
        try socket.bind("inproc://shutdown")
        // Without the shutdown the receive would give up after 60 s and return nil (not ETERM);
        // 60 s for the same reason as the poll above.
        try socket.setReceiveTimeout(60_000)
        let (threadIDs, threadIDSink) = AsyncStream<Int32?>.makeStream()
        let returnedAt = LockedBox<ContinuousClock.Instant?>(nil)
        let (stream, continuation) = AsyncStream<ZMQError?>.makeStream()
        let thread = Thread {
            threadIDSink.yield(KernelThread.currentID())
            threadIDSink.finish()
            do {
                _ = try socket.receiveMultipart()
                returnedAt.value = ContinuousClock.now
                continuation.yield(nil)
            } catch {
                returnedAt.value = ContinuousClock.now
                continuation.yield(error as? ZMQError)
            }
            socket.close()
            continuation.finish()
        }
        thread.start()
        let tid = try #require(await threadIDs.first { _ in true } ?? nil)
        // Shut down only once the kernel shows the thread asleep in its receive.
        try #require(try await KernelThread.waitUntilSleeping(tid, timeout: .seconds(60)), "the receiving thread never blocked")
        #expect(returnedAt.value == nil, "the receive returned before the shutdown")
        let shutdownAt = ContinuousClock.now
        ctx.shutdown()
        var seen: ZMQError?
        for await e in stream { seen = e }
        #expect(seen?.isTerminated == true)
        let returned = try #require(returnedAt.value)
        #expect(returned >= shutdownAt)
        #expect(returned - shutdownAt < .seconds(5))
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
