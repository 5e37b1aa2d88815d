import Dispatch
import Foundation

/// Runs numbered items of independent work on several threads and hands their results back in
/// item order, on the calling thread.
enum InOrderLanes {
    /// Runs `work(item, lane)` for the items `0 ..< count` on `lanes` threads — the calling thread
    /// is lane 0 — each lane taking the lowest item not yet taken. `deliver(item, result)` is
    /// called on the calling thread, in item order, once an item and every item before it are
    /// done (between the calling thread's own items, and while it waits for the other lanes).
    /// When `deliver` returns false it is not called again and no further item is started:
    /// items already running finish and their results are dropped. Returns once every lane has
    /// stopped.
    ///
    /// `work` runs concurrently with itself (on distinct items and lanes) and must only touch
    /// what its item and lane own; `deliver` runs on the calling thread only.
    static func run<Result>(count: Int, lanes: Int, work: (_ item: Int, _ lane: Int) -> Result,
                            deliver: (_ item: Int, _ result: Result) -> Bool) {
        guard count > 0 else { return }
        let lanes = max(1, min(lanes, count))
        withoutActuallyEscaping(work) { work in
            // The helpers reach `work` only through `state`, which drops it once every helper has
            // stopped: nothing holds it when this block ends, however long the helpers' own
            // closures (which hold only `state`) live on.
            let state = LaneState<Result>(count: count, helpers: lanes - 1, work: work)
            for lane in 1 ..< lanes {
                DispatchQueue.global(qos: .userInitiated).async {
                    while let (item, work) = state.take() { state.finish(item, work(item, lane)) }
                    state.helperStopped()
                }
            }
            var delivered = 0
            // Delivers every finished item in order; false once `deliver` has said stop.
            func flush() -> Bool {
                while delivered < count, let result = state.result(delivered) {
                    guard deliver(delivered, result) else { state.stop(); return false }
                    delivered += 1
                }
                return true
            }
            var open = true   // `deliver` still wants results
            while open, let (item, work) = state.take() {
                state.finish(item, work(item, 0))
                open = flush()
            }
            // The helpers' last items: deliver them as they come, until every helper has stopped.
            while state.waitForChange() {
                if open { open = flush() }
            }
            if open { _ = flush() }
            state.dropWork()
        }
    }
}

/// The shared state of one `InOrderLanes.run`: the work, the next item, the finished results,
/// whether to stop, and how many helper lanes are still running; every access holds `condition`.
private final class LaneState<Result>: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: ((Int, Int) -> Result)?
    private var next = 0, stopped = false, helpersRunning: Int
    private var results: [Result?]
    private var changes = 0, seenChanges = 0

    init(count: Int, helpers: Int, work: @escaping (Int, Int) -> Result) {
        results = Array(repeating: nil, count: count)
        helpersRunning = helpers
        self.work = work
    }

    /// The next item to run and the work, or nil when no item is left or the run was stopped.
    func take() -> (Int, (Int, Int) -> Result)? {
        condition.lock(); defer { condition.unlock() }
        guard !stopped, next < results.count, let work else { return nil }
        next += 1
        return (next - 1, work)
    }

    /// Forgets the work (once no lane can take an item).
    func dropWork() {
        condition.lock(); defer { condition.unlock() }
        work = nil
    }

    func finish(_ item: Int, _ result: Result) {
        condition.lock(); defer { condition.unlock() }
        results[item] = result
        changes += 1
        condition.signal()
    }

    /// Item `item`'s result, handed over once (nil while it is not done, and after).
    func result(_ item: Int) -> Result? {
        condition.lock(); defer { condition.unlock() }
        defer { results[item] = nil }
        return results[item]
    }

    func stop() {
        condition.lock(); defer { condition.unlock() }
        stopped = true
    }

    func helperStopped() {
        condition.lock(); defer { condition.unlock() }
        helpersRunning -= 1
        changes += 1
        condition.signal()
    }

    /// Waits until an item finishes or a helper stops; false (at once) when no helper is running.
    func waitForChange() -> Bool {
        condition.lock(); defer { condition.unlock() }
        while helpersRunning > 0 && changes == seenChanges { condition.wait() }
        seenChanges = changes
        return helpersRunning > 0
    }
}
