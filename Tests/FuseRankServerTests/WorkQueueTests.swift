import Foundation
import FuseRankModel
import Testing

@testable import FuseRankServer

@Suite struct WorkQueueTests {
    static let tiny = try! ModelBundle(path: Fixtures.tiny)
    static let noImage = try! ModelBundle(path: Fixtures.tinyNoImage)

    static func job(_ id: UInt64, _ bundle: ModelBundle, deadline: ContinuousClock.Instant = .now + .seconds(60)) -> RankJob {
        RankJob(socket: 0, envelope: [[UInt8(id)], []], requestID: id, bundle: bundle, query: try! bundle.validate(RankQuery(topK: 3)), deadline: deadline)
    }

    @Test func refusesWorkBeyondCapacity() {
        let queue = WorkQueue(capacity: 2)
        #expect(queue.push(Self.job(1, Self.tiny)))
        #expect(queue.push(Self.job(2, Self.tiny)))
        #expect(!queue.push(Self.job(3, Self.tiny)))
        #expect(queue.count == 2)
    }

    /// A batch is the oldest job plus waiting jobs of the same model, in order, at most maxBatch.
    @Test func batchesByModelOldestFirst() throws {
        let queue = WorkQueue(capacity: 10)
        for (id, bundle) in [(1, Self.tiny), (2, Self.noImage), (3, Self.tiny), (4, Self.tiny), (5, Self.noImage), (6, Self.tiny)] {
            #expect(queue.push(Self.job(UInt64(id), bundle)))
        }
        #expect(try #require(queue.takeBatch(maxBatch: 3)).map(\.requestID) == [1, 3, 4])
        #expect(try #require(queue.takeBatch(maxBatch: 3)).map(\.requestID) == [2, 5])
        #expect(try #require(queue.takeBatch(maxBatch: 3)).map(\.requestID) == [6])
        #expect(queue.count == 0)
    }

    @Test func closeLetsWorkersFinishThenStop() throws {
        let queue = WorkQueue(capacity: 4)
        #expect(queue.push(Self.job(1, Self.tiny)))
        queue.close()
        #expect(!queue.push(Self.job(2, Self.tiny)), "a closed queue takes no work")
        #expect(try #require(queue.takeBatch(maxBatch: 8)).map(\.requestID) == [1])
        #expect(queue.takeBatch(maxBatch: 8) == nil)
    }

    @Test func takeBatchWaitsForWork() throws {
        let queue = WorkQueue(capacity: 4)
        let taken = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Thread {
            box.ids = queue.takeBatch(maxBatch: 4)?.map(\.requestID)
            taken.signal()
        }.start()
        #expect(taken.wait(timeout: .now() + .milliseconds(50)) == .timedOut, "nothing to take yet")
        #expect(queue.push(Self.job(9, Self.tiny)))
        #expect(taken.wait(timeout: .now() + .seconds(10)) == .success)
        #expect(box.ids == [9])
    }
}

/// Carries a value out of a test thread.
// @unchecked Sendable: written by one thread before it signals a semaphore, read after the wait.
final class ResultBox: @unchecked Sendable {
    var ids: [UInt64]?
}
