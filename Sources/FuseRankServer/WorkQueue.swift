import Foundation

/// The bounded queue of Rank jobs between the front thread and the workers.
///
/// The front thread pushes; each worker takes a batch: the oldest job plus up to `maxBatch - 1`
/// more jobs for the same model that are already waiting (it never waits to fill a batch).
// @unchecked Sendable: every stored property is read and written only while `condition` is locked.
final class WorkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [RankJob] = []
    private var closed = false
    /// The most jobs waiting at once.
    let capacity: Int

    /// An empty open queue.
    /// - Parameter capacity: the most jobs waiting at once (at least 1).
    init(capacity: Int) {
        self.capacity = max(1, capacity)
        jobs.reserveCapacity(self.capacity)
    }

    /// Adds a job unless the queue is full or closed.
    /// - Parameter job: the job.
    /// - Returns: false when the job was not queued.
    func push(_ job: RankJob) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, jobs.count < capacity else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Waits for work and takes a batch of jobs for one model, oldest first.
    /// - Parameter maxBatch: the most jobs to take.
    /// - Returns: 1 ... maxBatch jobs of one model, or nil once the queue is closed and empty.
    func takeBatch(maxBatch: Int) -> [RankJob]? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !closed { condition.wait() }
        guard !jobs.isEmpty else { return nil }
        let model = jobs[0].bundle
        var batch: [RankJob] = []
        var rest: [RankJob] = []
        rest.reserveCapacity(jobs.count)
        for job in jobs {
            if batch.count < maxBatch && job.bundle === model { batch.append(job) } else { rest.append(job) }
        }
        jobs = rest
        // Another worker may take what is left.
        if !jobs.isEmpty { condition.signal() }
        return batch
    }

    /// Jobs waiting now.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// Refuses new jobs; workers finish what is queued, then ``takeBatch(maxBatch:)`` returns nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
