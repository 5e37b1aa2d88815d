import XCTest
final class LockstepNativeTestsPlaceholder: XCTestCase { func testNothing() {} }
