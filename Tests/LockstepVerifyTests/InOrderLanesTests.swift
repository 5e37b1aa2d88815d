import Foundation
import XCTest
@testable import LockstepVerify

final class InOrderLanesTests: XCTestCase {
    /// Every item runs once and is delivered once, in order, whatever order the lanes finish in
    /// (items take uneven times), and more than one lane does work.
    func testDeliversEveryItemOnceInOrder() {
        for lanes in [1, 2, 3, 8] {
            var delivered: [Int] = []
            let lanesUsed = LockedSet()
            InOrderLanes.run(count: 40, lanes: lanes) { item, lane in
                lanesUsed.insert(lane)
                usleep(useconds_t((item * 7919) % 5 * 200))   // uneven: later items may finish first
                return item * item
            } deliver: { item, result in
                XCTAssertEqual(result, item * item)
                delivered.append(item)
                return true
            }
            XCTAssertEqual(delivered, Array(0 ..< 40), "\(lanes) lanes")
            XCTAssertTrue(lanesUsed.values.isSubset(of: Set(0 ..< lanes)), "\(lanes) lanes: \(lanesUsed.values)")
            if lanes > 1 { XCTAssertGreaterThan(lanesUsed.values.count, 1, "\(lanes) lanes: only one lane worked") }
        }
    }

    /// After `deliver` says stop it is not called again, items stop being started (without the
    /// stop all 1,000 would run, 2 ms each), and `run` returns only when the items already
    /// running have finished.
    func testStopsAfterDeliverSaysStop() {
        for lanes in [1, 2, 4] {
            var delivered: [Int] = []
            let started = LockedSet(), finished = LockedSet()
            InOrderLanes.run(count: 1000, lanes: lanes) { item, _ in
                started.insert(item)
                if item > 5 { usleep(2000) }
                finished.insert(item)
                return item
            } deliver: { item, _ in
                delivered.append(item)
                return item < 5
            }
            XCTAssertEqual(delivered, Array(0 ... 5), "\(lanes) lanes")
            XCTAssertEqual(started.values, finished.values, "\(lanes) lanes: run returned before its items finished")
            XCTAssertLessThan(started.values.count, 1000, "\(lanes) lanes: items kept starting after the stop")
        }
    }

    func testNoItems() {
        InOrderLanes.run(count: 0, lanes: 4) { _, _ in XCTFail("no item to run") } deliver: { _, _ in XCTFail("nothing to deliver"); return true }
    }
}

private final class LockedSet: @unchecked Sendable {
    private let lock = NSLock()
    private var set = Set<Int>()
    func insert(_ v: Int) { lock.lock(); set.insert(v); lock.unlock() }
    var values: Set<Int> { lock.lock(); defer { lock.unlock() }; return set }
}
