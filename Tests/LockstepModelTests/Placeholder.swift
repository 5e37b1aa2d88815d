import XCTest
final class LockstepModelTestsPlaceholder: XCTestCase { func testNothing() {} }
