import XCTest
final class LockstepCoreTestsPlaceholder: XCTestCase { func testNothing() {} }
