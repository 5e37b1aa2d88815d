import XCTest
final class LockstepGGUFTestsPlaceholder: XCTestCase { func testNothing() {} }
