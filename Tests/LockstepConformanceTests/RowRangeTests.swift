import XCTest
import LockstepCore
import LockstepCPU

/// `Backend.forEachRowRange`: every row is handed out exactly once, in contiguous ranges, by the
/// `cpu` backend's pool (any thread count), the Dispatch default and a delegating backend.
final class RowRangeTests: XCTestCase {
    /// A backend with no threads of its own: takes the protocol's default.
    private final class Plain: DelegatingBackend, @unchecked Sendable {
        let name = "plain"
        let fallback: any Backend = ReferenceBackend()
    }

    private func check(_ backend: any Backend, _ label: String) {
        for count in [0, 1, 7, 8, 15, 16, 17, 64, 100, 1000] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            defer { hits.deallocate() }
            hits.initialize(repeating: 0)
            var ranges = 0
            let lock = NSLock()
            backend.forEachRowRange(count) { range in
                lock.withLock { ranges += 1 }
                for r in range { hits[r] += 1 }
            }
            XCTAssertTrue(hits.prefix(count).allSatisfy { $0 == 1 }, "\(label): \(count) rows, each exactly once")
            XCTAssertLessThanOrEqual(ranges, max(count / 8, 1), "\(label): \(count) rows, at least 8 rows per range")
        }
    }

    func testEveryRowOnceOnEveryBackend() {
        for (label, backend) in BackendsUnderTest.all { check(backend, label) }
        check(ReferenceBackend(), "reference (Dispatch)")
        check(Plain(), "delegating")
    }

    /// The pool really splits the work: with 2 threads and 64 rows, two ranges.
    func testThePoolSplitsLargeCounts() {
        let lock = NSLock()
        var ranges: [Range<Int>] = []
        CPUBackend(threads: 2, isa: .scalar).forEachRowRange(64) { range in lock.withLock { ranges.append(range) } }
        XCTAssertEqual(ranges.sorted { $0.lowerBound < $1.lowerBound }, [0 ..< 32, 32 ..< 64])
    }
}
