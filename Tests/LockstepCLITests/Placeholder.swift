import XCTest
final class LockstepCLITestsPlaceholder: XCTestCase { func testNothing() {} }
