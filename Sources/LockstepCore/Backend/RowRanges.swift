import Dispatch
import Foundation

/// How many contiguous ranges `count` rows are split into for threads: one per active processor,
/// at most 8, and at least 8 rows each.
public func rowRangeCount(_ count: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
    min(threads, 8, max(count / 8, 1))
}

/// Range `part` of `parts` contiguous ranges covering rows `0 ..< count`.
public func rowRange(_ part: Int, of parts: Int, rows count: Int) -> Range<Int> {
    count * part / parts ..< count * (part + 1) / parts
}

/// Runs `body` over rows `0 ..< count`, split into `rowRangeCount(count)` contiguous ranges on
/// Dispatch's threads, and waits. `body` must touch only the rows of its range.
public func forEachRowRangeConcurrently(_ count: Int, _ body: (Range<Int>) -> Void) {
    let parts = rowRangeCount(count)
    if parts <= 1 {
        body(0 ..< count)
        return
    }
    withoutActuallyEscaping(body) { body in
        // Each range touches only its own rows: no shared mutable state.
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: parts) { body(rowRange($0, of: parts, rows: count)) }
    }
}
